package hub

import "context"

// liveWaiters are the callers of WaitLive for one key. ch is closed when
// the channel goes live (or the hub closes); n counts the callers, so that
// the entry goes when the last one gives up.
type liveWaiters struct {
	ch chan struct{}
	n  int
}

// WaitLive returns nil once the channel key has a broadcaster: at once if
// it has one now, or when Publish makes it live. It returns ctx's error
// when ctx ends first, and a *JoinError (ErrHubClosed) when the hub closes.
// A watcher that waited must still Subscribe, which checks its password
// and the limits then (and may find the channel not live again: the
// broadcaster can leave in between).
func (h *Hub) WaitLive(ctx context.Context, key Key) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return h.refusal(ErrHubClosed, key, "")
	}
	if c := h.channels[key]; c != nil && c.live() {
		h.mu.Unlock()
		return nil
	}
	if h.waiters == nil {
		h.waiters = make(map[Key]*liveWaiters)
	}
	w := h.waiters[key]
	if w == nil {
		w = &liveWaiters{ch: make(chan struct{})}
		h.waiters[key] = w
	}
	w.n++
	h.mu.Unlock()

	defer func() {
		h.mu.Lock()
		if w.n--; w.n == 0 && h.waiters[key] == w {
			delete(h.waiters, key)
		}
		h.mu.Unlock()
	}()
	select {
	case <-w.ch:
		h.mu.Lock()
		closed := h.closed
		h.mu.Unlock()
		if closed {
			return h.refusal(ErrHubClosed, key, "")
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeLocked wakes the callers of WaitLive for key. Expects h.mu.
func (h *Hub) wakeLocked(key Key) {
	if w := h.waiters[key]; w != nil {
		close(w.ch)
		delete(h.waiters, key)
	}
}

// live reports whether the channel has a broadcaster. Expects h.mu or
// nothing; takes c.mu.
func (c *Channel) live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.publisher != nil && !c.ended
}
