package natstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP from a port of 127.0.0.1 to a target, so that a test
// can come between two parties: Cut closes everything, as a crash would;
// Blackhole stops forwarding but keeps every connection open, as a
// silent partition would (each side's kernel still acknowledges what the
// proxy's sockets receive, so only an application-level check notices);
// Restore lets traffic through again on the same port.
type Proxy struct {
	t    testing.TB
	port int

	mu        sync.Mutex
	target    string
	ln        net.Listener
	conns     map[net.Conn]struct{}
	blackhole bool
	resume    chan struct{} // closed by Restore: blackholed pipes go on
	wg        sync.WaitGroup
}

// dialTimeout bounds the proxy's dial of its target.
const dialTimeout = 5 * time.Second

// StartProxy starts a proxy to target (HOST:PORT; it may be set later with
// SetTarget, before the first connection). It is cut when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target, conns: make(map[net.Conn]struct{}), resume: make(chan struct{})}
	p.listen()
	t.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's HOST:PORT; URL the same as a NATS URL.
func (p *Proxy) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

// URL is the proxy's address as a NATS URL.
func (p *Proxy) URL() string { return "nats://" + p.Addr() }

// SetTarget sets where new connections are forwarded.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// listen listens, on the same port after the first time (which may linger
// briefly after a cut).
func (p *Proxy) listen() {
	p.t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(dialTimeout)
	for {
		ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("natstest: proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.port = ln.Addr().(*net.TCPAddr).Port
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", target, dialTimeout)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst until either ends; while the proxy is
// blackholed it holds what it read and neither writes nor reads on.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait blocks while the proxy is blackholed; false when it was cut
// meanwhile.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	hole, resume, cut := p.blackhole, p.resume, p.ln == nil
	p.mu.Unlock()
	if cut {
		return false
	}
	if hole {
		<-resume
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln != nil
}

// Blackhole stops forwarding in both directions without closing anything:
// connections through the proxy stay open and silent, and new ones are
// accepted but hear nothing.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
}

// Cut closes the listener and every forwarded connection, and waits for
// the proxy's goroutines. Restore listens again.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.unblockLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

// Restore ends a blackhole (held bytes go on), or listens again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.unblockLocked()
	cut := p.ln == nil
	p.mu.Unlock()
	if cut {
		p.listen()
	}
}

// unblockLocked lets blackholed pipes go on. Expects p.mu.
func (p *Proxy) unblockLocked() {
	if p.blackhole {
		p.blackhole = false
		close(p.resume)
		p.resume = make(chan struct{})
	}
}
