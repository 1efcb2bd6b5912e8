package server

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
)

const (
	// maxLimiters bounds each throttle's map; past it, buckets with no
	// recent failure and no attempt in flight are dropped.
	maxLimiters = 4096
	// channelFailuresFactor is how many more failed channel passwords a
	// channel takes per minute, from all addresses together, than one
	// address may make: enough for many honest typos, far too few to
	// guess a password from many addresses.
	channelFailuresFactor = 10
)

// throttle limits failed password attempts per key (a remote address, a
// channel). A key may make burst failures at once, refilled evenly over a
// minute. An attempt reserves its failure before the password is checked
// and gives it back if the password was right, so parallel attempts cannot
// slip through while earlier ones are still being checked (a bcrypt
// comparison takes tens of milliseconds). A nil *throttle allows
// everything.
type throttle struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	// byKey holds the buckets of keys with recent failures or attempts
	// in flight. Guarded by mu.
	byKey map[string]*bucket
}

// bucket is one key's failures (spent tokens of lim) and attempts in flight,
// each of which holds one of the remaining tokens until it ends.
type bucket struct {
	lim      *rate.Limiter
	inFlight int
}

func newThrottle(perMinute int) *throttle {
	if perMinute <= 0 {
		return nil
	}
	return &throttle{
		limit: rate.Every(time.Minute / time.Duration(perMinute)),
		burst: perMinute,
		byKey: make(map[string]*bucket),
	}
}

// begin starts an attempt for key. It reports false, and starts nothing,
// when the key's failures and its attempts in flight use up its tokens.
// Every true must be followed by one end for the same key.
func (t *throttle) begin(key string) bool {
	if t == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.byKey[key]
	if b == nil {
		if len(t.byKey) >= maxLimiters {
			t.sweepLocked()
		}
		b = &bucket{lim: rate.NewLimiter(t.limit, t.burst)}
		t.byKey[key] = b
	}
	if b.lim.Tokens()-float64(b.inFlight) < 1 {
		return false
	}
	b.inFlight++
	return true
}

// end finishes an attempt begun for key; failed spends the token it held.
func (t *throttle) end(key string, failed bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.byKey[key]
	if b == nil {
		return // not begun: a caller bug, but nothing to give back
	}
	b.inFlight--
	if failed {
		// Cannot fail: the attempt's token was held for it.
		b.lim.Allow()
	}
	if b.inFlight == 0 && b.lim.Tokens() >= float64(t.burst) {
		delete(t.byKey, key)
	}
}

// sweepLocked drops buckets that hold nothing. Called with mu held.
func (t *throttle) sweepLocked() {
	for k, b := range t.byKey {
		if b.inFlight == 0 && b.lim.Tokens() >= float64(t.burst) {
			delete(t.byKey, k)
		}
	}
}

// addrKey is the throttle key of a remote IP: the address itself, or its
// /64 for IPv6, since one host usually holds a whole /64 and could
// otherwise take a fresh budget per address.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().Is6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// failures holds the server's password throttles. Failed logins and failed
// channel passwords share one budget per address, so an address cannot
// double its guesses by switching between them; channel passwords also
// have a budget per channel, so that guessing from many addresses is slow
// too.
type failures struct {
	byAddr    *throttle
	byChannel *throttle
}

func newFailures(perMinute int) *failures {
	return &failures{
		byAddr:    newThrottle(perMinute),
		byChannel: newThrottle(perMinute * channelFailuresFactor),
	}
}

// beginLogin starts a login attempt from ip. It returns false when the
// address has no failures left; otherwise done must be called once with
// whether the attempt failed.
func (f *failures) beginLogin(ip string) (done func(failed bool), ok bool) {
	k := addrKey(ip)
	if !f.byAddr.begin(k) {
		return nil, false
	}
	return func(failed bool) { f.byAddr.end(k, failed) }, true
}

// beginChannelPassword starts a channel password attempt from ip on key, as
// beginLogin does.
func (f *failures) beginChannelPassword(ip string, key hub.Key) (done func(failed bool), ok bool) {
	a := addrKey(ip)
	c := key.User + "\x00" + key.Channel // names contain no NUL
	if !f.byAddr.begin(a) {
		return nil, false
	}
	if !f.byChannel.begin(c) {
		f.byAddr.end(a, false)
		return nil, false
	}
	return func(failed bool) {
		f.byChannel.end(c, failed)
		f.byAddr.end(a, failed)
	}, true
}

// beginWatcherPassword starts a watcher's channel password attempt. Only a
// watcher that gives a password is counted: one that gives none guesses
// nothing, and players such as VLC first ask without one.
// A throttled watcher gets a hub.JoinError, so that TCP, HTTP and the
// counters read its reason where they read the hub's refusals.
func (s *Server) beginWatcherPassword(req WatchRequest, key hub.Key) (done func(failed bool), err error) {
	if req.Password == "" {
		return func(bool) {}, nil
	}
	done, ok := s.authFails.beginChannelPassword(hostOf(req.Remote), key)
	if !ok {
		return nil, &hub.JoinError{Reason: protocol.ReasonBusy, Err: ErrThrottled,
			Msg: "too many wrong channel passwords from your address or for this channel; wait a minute"}
	}
	return done, nil
}
