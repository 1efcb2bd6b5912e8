package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// connectAll runs fn(i, ready) for i in [0, n) on its own goroutine (added
// to wg), at most conc of them before calling ready, and returns once all
// have called ready (or returned), or the run stopped.
func (r *runner) connectAll(n, conc int, wg *sync.WaitGroup, fn func(i int, ready func())) error {
	sem := make(chan struct{}, conc)
	var pending sync.WaitGroup
loop:
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-r.ctx.Done():
			break loop
		}
		pending.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			ready := func() {
				once.Do(func() {
					<-sem
					pending.Done()
				})
			}
			defer ready()
			fn(i, ready)
		}()
	}
	pending.Wait()
	return r.ctxErr()
}

// connectBroadcasters connects and handshakes every broadcaster; each
// then writes its channel on its own goroutine.
func (r *runner) connectBroadcasters() error {
	return r.connectAll(len(r.sources), broadcastConcurrency, &r.srcWG, func(i int, ready func()) {
		s := r.sources[i]
		var c net.Conn
		var err error
		if r.o.Raw {
			c, err = dialPlain(r.ctx, &s.slot, r.addr)
		} else {
			req := protocol.Request{Command: protocol.CommandBroadcast, User: r.user, UserPassword: r.pass, Channel: channelName(i)}
			c, err = r.dialHandshake(r.ctx, &s.slot, req)
		}
		ready()
		if err != nil {
			if r.ctx.Err() == nil {
				r.fail(fmt.Errorf("broadcaster of %s: %w", channelName(i), err))
			}
			return
		}
		r.write(s, c)
	})
}

// connectWatchers connects every sink, connectConcurrency at a time; each
// then reads (or stalls) on its own goroutine.
func (r *runner) connectWatchers() error {
	return r.connectAll(len(r.sinks), connectConcurrency, &r.sinkWG, func(i int, ready func()) {
		s := r.sinks[i]
		c, err := r.dialSink(s)
		ready()
		if err != nil {
			if r.ctx.Err() == nil {
				r.fail(fmt.Errorf("%s: %w", r.sinkName(s), err))
			}
			return
		}
		s.connectedAt = time.Now()
		r.connected.Add(1)
		if s.kind == stalled {
			r.stall(s, c)
		} else {
			r.read(s, c)
		}
	})
}

// sinkName names s in messages.
func (r *runner) sinkName(s *sink) string {
	if r.o.Baseline {
		return fmt.Sprintf("baseline stream %d", s.stream)
	}
	return fmt.Sprintf("%s watcher %d of %s", [...]string{"regular", "stalled", "slow"}[s.kind], s.index, channelName(int(s.stream)))
}

// dialSink connects a sink: a watch handshake, nothing (raw), or the
// stream number that pairs a baseline reader with its writer.
func (r *runner) dialSink(s *sink) (net.Conn, error) {
	switch {
	case r.o.Baseline:
		c, err := dialPlain(r.ctx, &s.slot, r.addr)
		if err != nil {
			return nil, err
		}
		var id [4]byte
		binary.LittleEndian.PutUint32(id[:], s.stream)
		if _, err := c.Write(id[:]); err != nil {
			return nil, err
		}
		return c, nil
	case r.o.Raw:
		return dialPlain(r.ctx, &s.slot, r.addr)
	}
	req := protocol.Request{Command: protocol.CommandWatch, User: r.user, Channel: channelName(int(s.stream))}
	addr := r.addr
	if w := r.o.WatchAddrs; len(w) > 0 {
		addr = w[s.index%len(w)]
	}
	return r.dialHandshakeTo(r.ctx, &s.slot, addr, req)
}

// acceptLoop accepts the baseline's streams until the listener closes.
func (r *runner) acceptLoop() {
	defer r.acceptWG.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return // closed: the run is over or aborted
		}
		r.srcWG.Add(1)
		go r.baselineWriter(c)
	}
}

// baselineWriter reads which stream c is and writes it.
func (r *runner) baselineWriter(c net.Conn) {
	defer r.srcWG.Done()
	var id [4]byte
	err := c.SetReadDeadline(time.Now().Add(ioTimeout))
	if err == nil {
		_, err = io.ReadFull(c, id[:])
	}
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	i := binary.LittleEndian.Uint32(id[:])
	if err == nil && int(i) >= len(r.sources) {
		err = fmt.Errorf("stream %d of %d", i, len(r.sources))
	}
	if err != nil {
		abort(c)
		if r.ctx.Err() == nil {
			r.fail(fmt.Errorf("baseline: accept: %w", err))
		}
		return
	}
	s := r.sources[i]
	if s.set(c) {
		r.write(s, c)
	}
}

// measureHandshakes opens Options.Handshakes watch handshakes on the first
// channel, handshakeConcurrency at a time, and closes each once accepted.
func (r *runner) measureHandshakes() *HandshakeStats {
	n := r.o.Handshakes
	h := &HandshakeStats{Count: n, Concurrency: min(handshakeConcurrency, n)}
	req := protocol.Request{Command: protocol.CommandWatch, User: r.user, Channel: channelName(0)}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range h.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && r.ctx.Err() == nil {
				var sl slot
				_, err := r.dialHandshake(r.ctx, &sl, req)
				sl.close()
				if err != nil {
					mu.Lock()
					h.Failed++
					if h.FirstError == "" {
						h.FirstError = err.Error()
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	h.Seconds = time.Since(start).Seconds()
	if h.Seconds > 0 {
		h.PerSecond = float64(n-h.Failed) / h.Seconds
	}
	return h
}
