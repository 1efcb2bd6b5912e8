package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Actions an Attempt can describe.
const (
	// ActionBroadcast is a broadcaster's handshake.
	ActionBroadcast = "broadcast"
	// ActionToken is a request for a one-time broadcast token.
	ActionToken = "token"
)

const (
	// DefaultHTTPTimeout bounds one request to an auth URL when NewHTTP is
	// given no timeout.
	DefaultHTTPTimeout = 5 * time.Second
	// maxHTTPCache bounds the cached decisions; past it, new ones are not
	// cached until expired ones are swept.
	maxHTTPCache = 10_000
	// maxHTTPBody is how much of an answer's body is read (and thrown
	// away) so the connection can be reused; the status is the answer.
	maxHTTPBody = 64 << 10
)

// ErrHTTPAuth means the auth URL could not decide: it did not answer in
// time, answered with a status other than 2xx, 401 or 403, or could not be
// reached. The server refuses the client and logs it as its own failure.
var ErrHTTPAuth = errors.New("auth: auth URL failed")

// Attempt describes the handshake an Authenticator is asked about, beyond
// the user and password that Authenticate receives. The server puts it in
// the context with WithAttempt; Authenticators that do not care ignore it.
type Attempt struct {
	// Action is ActionBroadcast or ActionToken.
	Action string
	// User is the user name of the handshake.
	User string
	// Channel is the channel a broadcaster asks for; empty for a token.
	Channel string
	// Remote is the client's address, host:port.
	Remote string
}

type attemptKey struct{}

// WithAttempt returns a copy of ctx that carries a.
func WithAttempt(ctx context.Context, a Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// AttemptFrom returns the Attempt that ctx carries, if any.
func AttemptFrom(ctx context.Context) (Attempt, bool) {
	a, ok := ctx.Value(attemptKey{}).(Attempt)
	return a, ok
}

// HTTP is an Authenticator that asks an operator's web service, as
// MediaMTX's HTTP authentication does. For each attempt it POSTs a JSON
// object
//
//	{"action":"broadcast","user":"fier","password":"...","channel":"cam","remote":"203.0.113.7:51234"}
//
// (action, channel and remote come from the context's Attempt; without one,
// action is "broadcast" and the others are empty) and allows the attempt if
// the answer's status is 2xx. 401 and 403 deny it; anything else, a timeout
// or a network error is a failure of the service (ErrHTTPAuth), which the
// server also refuses but logs as its own problem. Redirects are not
// followed.
//
// Answers are cached briefly, so that a broadcaster reconnecting in a loop
// does not hammer the service: allowed attempts for the cache lifetime,
// denied ones for a quarter of it (a user who just fixed a password should
// not wait long), failures not at all. The cache key is an HMAC, under a
// key made at start-up, of every field sent: the same password for another
// channel or from another address asks the service again, and no password
// is kept in memory in a form that can be tested offline.
type HTTP struct {
	url string
	// shown is url with its userinfo masked, for errors and logs.
	shown             string
	client            *http.Client
	timeout           time.Duration
	allowTTL, denyTTL time.Duration
	// now tells the time; tests replace it.
	now func() time.Time
	// key is the HMAC key of cache keys.
	key [32]byte

	mu sync.Mutex
	// cache holds recent decisions. Guarded by mu.
	cache map[[sha256.Size]byte]cachedDecision
}

type cachedDecision struct {
	err     error // nil for allowed, the denial otherwise
	expires time.Time
}

// NewHTTP returns an HTTP Authenticator that POSTs to rawURL (http or
// https), waits at most timeout (DefaultHTTPTimeout if not positive) for
// each answer, and caches answers for cacheTTL (zero disables the cache).
func NewHTTP(rawURL string, timeout, cacheTTL time.Duration) (*HTTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("auth: auth URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("auth: auth URL %q: want http://HOST/PATH or https://HOST/PATH", rawURL)
	}
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	h := &HTTP{
		url:     u.String(),
		shown:   RedactURL(u.String()),
		timeout: timeout,
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect is reported as the status it is, rather than
			// turned into a GET that the service would not expect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		allowTTL: max(cacheTTL, 0),
		denyTTL:  max(cacheTTL/4, 0),
		now:      time.Now,
		cache:    make(map[[sha256.Size]byte]cachedDecision),
	}
	_, _ = rand.Read(h.key[:]) // never fails; it crashes the program instead
	return h, nil
}

// URL returns the URL h posts to, with any user name and password in it
// masked.
func (h *HTTP) URL() string { return h.shown }

// Close closes idle connections to the service. h can still be used.
func (h *HTTP) Close() {
	h.client.CloseIdleConnections()
}

// httpRequest is the JSON body posted for each attempt.
type httpRequest struct {
	Action   string `json:"action"`
	User     string `json:"user"`
	Password string `json:"password"`
	Channel  string `json:"channel"`
	Remote   string `json:"remote"`
}

// Authenticate implements Authenticator.
func (h *HTTP) Authenticate(ctx context.Context, user, password string) error {
	a, _ := AttemptFrom(ctx)
	body := httpRequest{Action: a.Action, User: user, Password: password, Channel: a.Channel, Remote: a.Remote}
	if body.Action == "" {
		body.Action = ActionBroadcast
	}
	key := h.cacheKey(body)
	if d, ok := h.cached(key); ok {
		return d.err
	}
	err := h.ask(ctx, body)
	h.remember(key, err)
	return err
}

// ask posts one attempt and turns the answer into a decision.
func (h *HTTP) ask(ctx context.Context, body httpRequest) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%w: encode request: %w", ErrHTTPAuth, err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHTTPAuth, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil: // the caller gave up, not the service
			return fmt.Errorf("auth: %w", ctx.Err())
		case errors.Is(reqCtx.Err(), context.DeadlineExceeded):
			return fmt.Errorf("%w: %s did not answer within %v: %w", ErrHTTPAuth, h.shown, h.timeout, reqCtx.Err())
		}
		// The *url.Error names the URL; net/http masks only its
		// password, so name it as shown everywhere else.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = h.shown
		}
		return fmt.Errorf("%w: %w", ErrHTTPAuth, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTPBody)) // only to reuse the connection
	_ = resp.Body.Close()

	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: %s answered %s for user %q", ErrDenied, h.shown, resp.Status, body.User)
	default:
		return fmt.Errorf("%w: %s answered %s (want 2xx to allow, 401 or 403 to deny)", ErrHTTPAuth, h.shown, resp.Status)
	}
}

// cacheKey is an HMAC of every field of the attempt, each prefixed with its
// length so that no two attempts share a key.
func (h *HTTP) cacheKey(body httpRequest) [sha256.Size]byte {
	m := hmac.New(sha256.New, h.key[:])
	for _, f := range []string{body.Action, body.User, body.Password, body.Channel, body.Remote} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return [sha256.Size]byte(m.Sum(nil))
}

// cached returns the cached decision for key, if there is a live one.
func (h *HTTP) cached(key [sha256.Size]byte) (cachedDecision, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.cache[key]
	if ok && !h.now().Before(d.expires) {
		delete(h.cache, key)
		return cachedDecision{}, false
	}
	return d, ok
}

// remember caches an allow or a denial; failures are not cached, so the
// next attempt asks again.
func (h *HTTP) remember(key [sha256.Size]byte, err error) {
	ttl := h.allowTTL
	switch {
	case err == nil:
	case errors.Is(err, ErrDenied):
		ttl = h.denyTTL
	default:
		return
	}
	if ttl <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if len(h.cache) >= maxHTTPCache {
		for k, d := range h.cache {
			if !now.Before(d.expires) {
				delete(h.cache, k)
			}
		}
		if len(h.cache) >= maxHTTPCache {
			return
		}
	}
	h.cache[key] = cachedDecision{err: err, expires: now.Add(ttl)}
}

// Interface check.
var _ Authenticator = (*HTTP)(nil)
