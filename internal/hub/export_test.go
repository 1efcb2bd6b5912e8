package hub

// WaitersOf returns how many callers of WaitLive wait for key, so that
// tests know a waiter is parked before they make the channel live.
func (h *Hub) WaitersOf(key Key) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.waiters[key]; w != nil {
		return w.n
	}
	return 0
}
