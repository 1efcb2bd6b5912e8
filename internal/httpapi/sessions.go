package httpapi

import (
	"sync"
	"time"
)

// hlsSessionWindow is how long after its last playlist fetch an HLS viewer
// still counts: players reload the playlist every segment.
const hlsSessionWindow = 30 * time.Second

// maxHLSSessions bounds the sessions remembered: clients choose their
// User-Agent, so the set must not grow with them.
const maxHLSSessions = 100_000

// sessionSet counts distinct HLS viewers: a viewer is a client address and
// User-Agent that fetched a playlist in the last hlsSessionWindow. Behind
// a caching proxy it counts the proxy's fetches, not the audience.
type sessionSet struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newSessionSet() *sessionSet {
	return &sessionSet{last: make(map[string]time.Time)}
}

// seen records a playlist fetch by the session k at now.
func (s *sessionSet) seen(k string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.last[k]; !ok && len(s.last) >= maxHLSSessions {
		s.pruneLocked(now)
		if len(s.last) >= maxHLSSessions {
			return
		}
	}
	s.last[k] = now
}

// count returns the sessions active at now.
func (s *sessionSet) count(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	return len(s.last)
}

func (s *sessionSet) pruneLocked(now time.Time) {
	for k, t := range s.last {
		if now.Sub(t) > hlsSessionWindow {
			delete(s.last, k)
		}
	}
}
