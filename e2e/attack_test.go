package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawStatus sends one handshake built by hand from the spec and returns the
// server's status frame text; safe off the test goroutine.
func rawStatus(addr, text string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
	if _, err := c.Write(append(append(frame, 0), text...)); err != nil {
		return "", err
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return "", err
	}
	st := make([]byte, min(binary.BigEndian.Uint32(hdr), 1<<16))
	_, err = io.ReadFull(c, st)
	return string(st), err
}

// TestBinaryParallelLogins: 40 wrong passwords sent at once from one
// address to the real server reach the password check no more often than
// the default 10 failures a minute allow; the rest are told busy.
func TestBinaryParallelLogins(t *testing.T) {
	const attempts, limit = 40, 10 // limit: the default --auth-failures-per-minute
	srv := serve(t)
	var mu sync.Mutex
	reasons := map[string]int{}
	var wg sync.WaitGroup
	for range attempts {
		wg.Go(func() {
			st, err := rawStatus(srv.addr, "broadcast,ack=1,user=fier,user-password=guess")
			if err != nil {
				t.Errorf("handshake: %v", err)
				return
			}
			reason, _, _ := strings.Cut(strings.TrimPrefix(st, "error,reason="), ",")
			mu.Lock()
			reasons[reason]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("%d parallel wrong passwords: %v", attempts, reasons)
	if reasons["unauthorized"] > limit || reasons["unauthorized"]+reasons["busy"] != attempts {
		t.Fatalf("answers %v, want at most %d unauthorized and the rest busy", reasons, limit)
	}
}

// httpAddr waits for the HTTP side's address in the server's log.
func httpAddr(t *testing.T, srv *server) string {
	t.Helper()
	srv.waitLog(t, `msg="http listening"`, 1)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	m := httpListenRE.FindStringSubmatch(srv.logs.String())
	if m == nil {
		t.Fatal("no http listening line in the server log")
	}
	return m[1]
}

// TestBinaryHTTPLimits: with --max-conns 50 --max-conns-per-ip 20, 300
// concurrent HTTP requests from one address hold at most 20 connections,
// and 200 connections each sending a 1000 KiB header line without its end
// leave the server's RSS bounded.
func TestBinaryHTTPLimits(t *testing.T) {
	const requests, perIP = 300, 20
	srv := serve(t, "--http", "127.0.0.1:0", "--max-conns", "50", "--max-conns-per-ip", "20")
	web := httpAddr(t, srv)

	var mu sync.Mutex
	answered, closed := 0, 0
	var held []net.Conn
	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", web, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(c, "GET /watch/fier/cam HTTP/1.1\r\nHost: %s\r\n\r\n", web)
			line, _ := bufio.NewReader(c).ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			held = append(held, c) // an answered connection stays open (keep-alive)
			if strings.HasPrefix(line, "HTTP/1.1 ") {
				answered++
			} else {
				closed++
			}
		})
	}
	wg.Wait()
	for _, c := range held {
		c.Close()
	}
	t.Logf("%d concurrent GET /watch from one address: %d answered, %d closed at once", requests, answered, closed)
	if answered == 0 || answered > perIP {
		t.Fatalf("%d requests answered, want 1 to %d", answered, perIP)
	}

	rssFlood(t, srv, web)
}

// rssFlood opens 200 connections that each send a 1000 KiB header line
// without its end, and checks the server's RSS does not follow. The bound
// is generous: the limits keep it within a few MiB, and the attack without
// them costs hundreds.
func rssFlood(t *testing.T, srv *server, web string) {
	const conns, lineKiB, boundMiB = 200, 1000, 100
	before, err := rssKiB(srv.pid)
	if err != nil {
		t.Skip(err)
	}
	line := append([]byte("GET /healthz HTTP/1.1\r\nX-Flood: "), bytes.Repeat([]byte("a"), lineKiB<<10)...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	for range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", web, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write(line) // fails once the server gives up on the line
		})
	}
	wg.Wait()
	peak := before
	for range 20 { // the server may still be reading what the kernel buffered
		if n, err := rssKiB(srv.pid); err == nil {
			peak = max(peak, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range open {
		c.Close()
	}
	t.Logf("%d connections with a %d KiB header line: server RSS %d MiB -> %d MiB", conns, lineKiB, before>>10, peak>>10)
	if grew := (peak - before) >> 10; grew > boundMiB {
		t.Fatalf("server RSS grew by %d MiB under the header flood, want at most %d", grew, boundMiB)
	}
}
