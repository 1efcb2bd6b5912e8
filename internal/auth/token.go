package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

const (
	// DefaultTokenTTL is how long a token stays good when NewTokens is
	// given no lifetime.
	DefaultTokenTTL = 2 * time.Minute
	// tokenBytes is the entropy of a token: 256 bits, beyond guessing.
	tokenBytes = 32
	// maxLiveTokens bounds the tokens kept at once. Only authenticated
	// users get tokens and each has at most one, so this is reached only
	// with that many users asking within one lifetime.
	maxLiveTokens = 100_000
)

// Token errors. Both wrap ErrDenied: the server refuses the broadcast with
// its generic answer and logs the detail.
var (
	// ErrTokenInvalid means the user has no live token, or a different
	// one (already used, replaced by a newer token, or never issued).
	ErrTokenInvalid = fmt.Errorf("%w: invalid token", ErrDenied)
	// ErrTokenExpired means the token was right but is past its lifetime.
	ErrTokenExpired = fmt.Errorf("%w: token expired", ErrDenied)
	// ErrTooManyTokens means Issue found maxLiveTokens live tokens; it is
	// a server limit, not a denial.
	ErrTooManyTokens = errors.New("auth: too many live tokens")
)

// Tokens issues and redeems one-time broadcast tokens. A token is good for
// one broadcast by the user it was issued to, until it expires; issuing a
// new token for a user revokes the previous one. Tokens lives in memory, so
// a restart revokes every token. It is safe for concurrent use.
//
// Only a SHA-256 digest of each token is kept: the tokens themselves exist
// only in the answer to the client, and digests of equal length compare in
// constant time.
type Tokens struct {
	ttl time.Duration
	now func() time.Time
	// max bounds len(live); tests lower it.
	max int

	mu sync.Mutex
	// live holds each user's token. Guarded by mu.
	live map[string]liveToken
	// lastSweep is when expired tokens were last removed. Guarded by mu.
	lastSweep time.Time
}

type liveToken struct {
	digest  [sha256.Size]byte
	expires time.Time
}

// NewTokens returns an empty Tokens whose tokens last ttl (DefaultTokenTTL
// if ttl is not positive). now tells the time; nil means time.Now. Tests
// pass a fake clock.
func NewTokens(ttl time.Duration, now func() time.Time) *Tokens {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{ttl: ttl, now: now, max: maxLiveTokens, live: make(map[string]liveToken)}
}

// TTL returns how long a new token stays good.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a new token for user and when it expires, revoking any
// token user had. The token is 32 random bytes in unpadded base64url (43
// characters that need no escaping in a handshake). The caller must have
// authenticated user.
func (t *Tokens) Issue(user string) (token string, expires time.Time, err error) {
	if err := protocol.ValidateName(user); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue token: user %q: %w", user, err)
	}
	var raw [tokenBytes]byte
	_, _ = rand.Read(raw[:]) // never fails; it crashes the program instead
	token = base64.RawURLEncoding.EncodeToString(raw[:])

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if now.Sub(t.lastSweep) >= t.ttl || len(t.live) >= t.max {
		t.sweep(now)
	}
	if _, ok := t.live[user]; !ok && len(t.live) >= t.max {
		return "", time.Time{}, fmt.Errorf("%w (%d)", ErrTooManyTokens, t.max)
	}
	expires = now.Add(t.ttl)
	t.live[user] = liveToken{digest: sha256.Sum256([]byte(token)), expires: expires}
	return token, expires, nil
}

// Redeem uses up user's token. It returns nil once for the token Issue last
// gave user, if it has not expired; an error wrapping ErrTokenExpired or
// ErrTokenInvalid (both ErrDenied) otherwise. A wrong token does not revoke
// the right one: it has 256 bits, so guessing is hopeless, and revoking would
// let anyone cancel another user's token.
func (t *Tokens) Redeem(user, token string) error {
	got := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	live, ok := t.live[user]
	if !ok || subtle.ConstantTimeCompare(live.digest[:], got[:]) != 1 {
		return fmt.Errorf("%w for user %q: not the live token (used already, replaced by a newer one, or never issued)", ErrTokenInvalid, user)
	}
	delete(t.live, user)
	if now := t.now(); !now.Before(live.expires) {
		return fmt.Errorf("%w for user %q: expired %v ago (tokens last %v)",
			ErrTokenExpired, user, now.Sub(live.expires).Round(time.Second), t.ttl)
	}
	return nil
}

// Len returns the number of tokens held, expired ones not yet swept
// included.
func (t *Tokens) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.live)
}

// sweep removes expired tokens. Called with mu held.
func (t *Tokens) sweep(now time.Time) {
	for user, live := range t.live {
		if !now.Before(live.expires) {
			delete(t.live, user)
		}
	}
	t.lastSweep = now
}
