package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// logLimiter keeps a line that a client can trigger at will (a login
// against a broken user file, a refused connection) from flooding the log:
// a few lines at once, then one per interval, each saying how many were
// left out since the last.
type logLimiter struct {
	lim        *rate.Limiter
	suppressed atomic.Int64
}

func newLogLimiter(every time.Duration, burst int) *logLimiter {
	return &logLimiter{lim: rate.NewLimiter(rate.Every(every), burst)}
}

// log writes the line at level unless too many were written lately.
func (l *logLimiter) log(log *slog.Logger, level slog.Level, msg string, attrs ...any) {
	if !l.lim.Allow() {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	log.Log(context.Background(), level, msg, attrs...)
}
