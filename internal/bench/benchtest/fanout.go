package benchtest

import (
	"net"
	"sync"
	"time"
)

// Fanout copies one source's bytes to every watcher added to it, a chunk
// at a time, writing to each in turn: the simplest relay there is. Its
// zero value is ready to use.
type Fanout struct {
	mu       sync.Mutex
	watchers []net.Conn
	joined   map[net.Conn]time.Time
	// Kick, if set, resets each watcher that long after it joined, the
	// way a relay evicts one.
	Kick time.Duration
	// Mutate, if set, rewrites a chunk that starts off bytes into what
	// the watchers were sent; returning nil drops it.
	Mutate func(off int64, b []byte) []byte
}

// Add makes c a watcher.
func (f *Fanout) Add(c net.Conn) {
	f.mu.Lock()
	f.watchers = append(f.watchers, c)
	if f.joined == nil {
		f.joined = map[net.Conn]time.Time{}
	}
	f.joined[c] = time.Now()
	f.mu.Unlock()
}

// kickOld resets the watchers that joined more than f.Kick ago.
func (f *Fanout) kickOld() {
	if f.Kick == 0 {
		return
	}
	f.mu.Lock()
	var old []net.Conn
	for _, w := range f.watchers {
		if time.Since(f.joined[w]) > f.Kick {
			old = append(old, w)
		}
	}
	f.mu.Unlock()
	for _, w := range old {
		if tc, ok := w.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		f.remove(w)
	}
}

// Pump copies src to the watchers until src ends, then closes them all.
func (f *Fanout) Pump(src net.Conn) {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		k, err := src.Read(buf)
		f.kickOld()
		if k > 0 {
			f.mu.Lock()
			ws := append([]net.Conn(nil), f.watchers...)
			f.mu.Unlock()
			b := buf[:k]
			if len(ws) > 0 {
				if f.Mutate != nil {
					b = f.Mutate(off, b)
				}
				off += int64(k)
			}
			for _, w := range ws {
				if _, err := w.Write(b); err != nil {
					f.remove(w)
				}
			}
		}
		if err != nil {
			break
		}
	}
	f.mu.Lock()
	ws := f.watchers
	f.watchers = nil
	f.mu.Unlock()
	for _, w := range ws {
		_ = w.Close()
	}
}

func (f *Fanout) remove(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, w := range f.watchers {
		if w == c {
			f.watchers = append(f.watchers[:i], f.watchers[i+1:]...)
			_ = c.Close()
			return
		}
	}
}
