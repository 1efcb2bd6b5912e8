package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-IP limiter map; past it, limiters that are
// full again (no recent failures) are dropped.
const maxLimiters = 4096

// ipLimiter throttles failed logins per remote IP so that passwords cannot
// be guessed quickly. A nil *ipLimiter allows everything.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu   sync.Mutex
	byIP map[string]*rate.Limiter
}

func newIPLimiter(perMinute int) *ipLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &ipLimiter{
		limit: rate.Every(time.Minute / time.Duration(perMinute)),
		burst: perMinute,
		byIP:  make(map[string]*rate.Limiter),
	}
}

// allowed reports whether ip may try to log in now.
func (l *ipLimiter) allowed(ip string) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byIP[ip]
	return lim == nil || lim.Tokens() >= 1
}

// failed records a failed login from ip.
func (l *ipLimiter) failed(ip string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.byIP[ip]
	if lim == nil {
		if len(l.byIP) >= maxLimiters {
			for k, v := range l.byIP {
				if v.Tokens() >= float64(l.burst) {
					delete(l.byIP, k)
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.byIP[ip] = lim
	}
	lim.Allow()
}
