package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// authService is a fake auth URL: it records every request and answers
// with the status that answer returns.
type authService struct {
	*httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	last     map[string]string // the last JSON body
	answer   func(w http.ResponseWriter, r *http.Request) int
}

func startAuthService(t *testing.T, answer func(w http.ResponseWriter, r *http.Request) int) *authService {
	t.Helper()
	s := &authService{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		var body map[string]string
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("auth service got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("auth service: decode body: %v", err)
		}
		s.mu.Lock()
		s.last = body
		s.mu.Unlock()
		w.WriteHeader(s.answer(w, r))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *authService) lastBody() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func newHTTP(t *testing.T, url string, timeout, cacheTTL time.Duration) *HTTP {
	t.Helper()
	h, err := NewHTTP(url, timeout, cacheTTL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// status answers every request with code.
func status(code int) func(http.ResponseWriter, *http.Request) int {
	return func(http.ResponseWriter, *http.Request) int { return code }
}

func TestHTTPDecisions(t *testing.T) {
	tests := []struct {
		code int
		want outcome
	}{
		{http.StatusOK, allowed},
		{http.StatusNoContent, allowed},
		{http.StatusUnauthorized, wrongPass},
		{http.StatusForbidden, wrongPass},
		{http.StatusNotFound, serverError},
		{http.StatusFound, serverError}, // not followed
		{http.StatusInternalServerError, serverError},
		{http.StatusServiceUnavailable, serverError},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			svc := startAuthService(t, func(w http.ResponseWriter, _ *http.Request) int {
				if tt.code == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				return tt.code
			})
			h := newHTTP(t, svc.URL+"/auth", time.Second, 0)
			err := h.Authenticate(context.Background(), "fier", "hunter2")
			switch tt.want {
			case allowed:
				if err != nil {
					t.Fatalf("Authenticate = %v, want nil", err)
				}
			case wrongPass:
				if !errors.Is(err, ErrDenied) || errors.Is(err, ErrHTTPAuth) {
					t.Fatalf("Authenticate = %v, want ErrDenied", err)
				}
			case serverError:
				if !errors.Is(err, ErrHTTPAuth) || errors.Is(err, ErrDenied) {
					t.Fatalf("Authenticate = %v, want ErrHTTPAuth and not ErrDenied", err)
				}
				if !strings.Contains(err.Error(), svc.URL) {
					t.Errorf("error %q does not name the URL", err)
				}
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q contains the password", err)
			}
			if n := svc.requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestHTTPBody(t *testing.T) {
	svc := startAuthService(t, status(http.StatusOK))
	h := newHTTP(t, svc.URL, time.Second, 0)

	ctx := WithAttempt(context.Background(), Attempt{Action: ActionBroadcast, User: "fier", Channel: "cam", Remote: "192.0.2.1:5000"})
	if err := h.Authenticate(ctx, "fier", `p"w,1`); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"action": "broadcast", "user": "fier", "password": `p"w,1`, "channel": "cam", "remote": "192.0.2.1:5000"}
	if got := svc.lastBody(); !mapsEqual(got, want) {
		t.Errorf("body = %v, want %v", got, want)
	}

	// Without an Attempt the action defaults to broadcast.
	if err := h.Authenticate(context.Background(), "fier", "x"); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"action": "broadcast", "user": "fier", "password": "x", "channel": "", "remote": ""}
	if got := svc.lastBody(); !mapsEqual(got, want) {
		t.Errorf("body without an Attempt = %v, want %v", got, want)
	}

	ctx = WithAttempt(context.Background(), Attempt{Action: ActionToken, User: "fier", Remote: "192.0.2.1:5000"})
	if err := h.Authenticate(ctx, "fier", "x"); err != nil {
		t.Fatal(err)
	}
	if got := svc.lastBody()["action"]; got != "token" {
		t.Errorf("action = %q, want token", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestHTTPTimeout uses a service that never answers: the request is
// abandoned after the timeout and counts as the service's failure.
func TestHTTPTimeout(t *testing.T) {
	svc := startAuthService(t, func(_ http.ResponseWriter, r *http.Request) int {
		<-r.Context().Done() // until the client gives up
		return http.StatusOK
	})
	h := newHTTP(t, svc.URL, 50*time.Millisecond, time.Minute)
	err := h.Authenticate(context.Background(), "fier", "x")
	if !errors.Is(err, ErrHTTPAuth) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDenied) {
		t.Fatalf("Authenticate = %v, want ErrHTTPAuth with DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("error %q does not say what happened", err)
	}
}

// TestHTTPCallerGivesUp checks that the caller's cancellation is reported
// as such, not as the service's failure.
func TestHTTPCallerGivesUp(t *testing.T) {
	svc := startAuthService(t, func(_ http.ResponseWriter, r *http.Request) int {
		<-r.Context().Done()
		return http.StatusOK
	})
	h := newHTTP(t, svc.URL, time.Minute, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.Authenticate(ctx, "fier", "x")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrHTTPAuth) || errors.Is(err, ErrDenied) {
		t.Fatalf("Authenticate = %v, want context.Canceled only", err)
	}
}

func TestHTTPUnreachable(t *testing.T) {
	svc := httptest.NewServer(http.NotFoundHandler())
	url := svc.URL
	svc.Close() // nothing listens there now
	h := newHTTP(t, url, time.Second, time.Minute)
	if err := h.Authenticate(context.Background(), "fier", "x"); !errors.Is(err, ErrHTTPAuth) {
		t.Fatalf("Authenticate = %v, want ErrHTTPAuth", err)
	}
}

// TestHTTPCache counts the requests that reach the service: allowed and
// denied answers are reused for their lifetimes, failures never.
func TestHTTPCache(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusOK)
	svc := startAuthService(t, func(http.ResponseWriter, *http.Request) int { return int(code.Load()) })
	const ttl = 40 * time.Second
	h := newHTTP(t, svc.URL, time.Second, ttl)
	clock := newFakeClock()
	h.now = clock.Now

	ctx := context.Background()
	cam := WithAttempt(ctx, Attempt{Action: ActionBroadcast, User: "fier", Channel: "cam", Remote: "192.0.2.1:1"})
	steps := []struct {
		name     string
		ctx      context.Context
		user, pw string
		advance  time.Duration
		code     int
		wantErr  error // nil, ErrDenied or ErrHTTPAuth
		requests int32 // total so far
	}{
		{name: "first allow asks", ctx: cam, user: "fier", pw: "a", code: 200, requests: 1},
		{name: "same attempt is cached", ctx: cam, user: "fier", pw: "a", code: 403, requests: 1},
		{name: "other password asks", ctx: cam, user: "fier", pw: "b", code: 403, wantErr: ErrDenied, requests: 2},
		{name: "denial is cached", ctx: cam, user: "fier", pw: "b", code: 200, wantErr: ErrDenied, requests: 2},
		{name: "other channel asks", ctx: WithAttempt(ctx, Attempt{Channel: "other", Remote: "192.0.2.1:1"}), user: "fier", pw: "a", code: 200, requests: 3},
		{name: "other user asks", ctx: cam, user: "fiona", pw: "a", code: 200, requests: 4},
		{name: "denial expires first", ctx: cam, user: "fier", pw: "b", advance: ttl / 4, code: 200, requests: 5},
		{name: "allow still cached", ctx: cam, user: "fier", pw: "a", code: 403, requests: 5},
		{name: "allow expires", ctx: cam, user: "fier", pw: "a", advance: ttl, code: 500, wantErr: ErrHTTPAuth, requests: 6},
		{name: "failure is not cached", ctx: cam, user: "fier", pw: "a", code: 500, wantErr: ErrHTTPAuth, requests: 7},
		{name: "asks again after a failure", ctx: cam, user: "fier", pw: "a", code: 200, requests: 8},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		code.Store(int32(st.code))
		err := h.Authenticate(st.ctx, st.user, st.pw)
		switch {
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: Authenticate = %v, want nil", st.name, err)
		case st.wantErr != nil && !errors.Is(err, st.wantErr):
			t.Fatalf("%s: Authenticate = %v, want %v", st.name, err, st.wantErr)
		}
		if n := svc.requests.Load(); n != st.requests {
			t.Fatalf("%s: %d requests so far, want %d", st.name, n, st.requests)
		}
	}
}

func TestHTTPNoCache(t *testing.T) {
	svc := startAuthService(t, status(http.StatusOK))
	h := newHTTP(t, svc.URL, time.Second, 0)
	for range 3 {
		if err := h.Authenticate(context.Background(), "fier", "a"); err != nil {
			t.Fatal(err)
		}
	}
	if n := svc.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3 without a cache", n)
	}
}

// TestHTTPCacheKey checks that the cache key separates fields, so that
// moving bytes between user and password does not hit another's entry,
// and that it does not hold the password.
func TestHTTPCacheKey(t *testing.T) {
	h := newHTTP(t, "http://127.0.0.1:1/", time.Second, time.Minute)
	a := h.cacheKey(httpRequest{Action: "broadcast", User: "ab", Password: "c"})
	b := h.cacheKey(httpRequest{Action: "broadcast", User: "a", Password: "bc"})
	if a == b {
		t.Fatal("cache keys of different attempts are equal")
	}
	other := newHTTP(t, "http://127.0.0.1:1/", time.Second, time.Minute)
	if other.cacheKey(httpRequest{Action: "broadcast", User: "ab", Password: "c"}) == a {
		t.Fatal("two instances share cache keys: the HMAC key is not random")
	}
}

func TestNewHTTPBadURL(t *testing.T) {
	for _, url := range []string{"", "ftp://example.com/", "example.com/auth", "http://", "http://[::1"} {
		if _, err := NewHTTP(url, time.Second, 0); err == nil {
			t.Errorf("NewHTTP(%q) succeeded", url)
		}
	}
	h := newHTTP(t, "https://user:secret@127.0.0.1:1/auth", 0, 0)
	if strings.Contains(h.URL(), "secret") {
		t.Errorf("URL() = %q shows the password", h.URL())
	}
	if h.timeout != DefaultHTTPTimeout {
		t.Errorf("timeout = %v, want the default", h.timeout)
	}
}

func TestAttemptContext(t *testing.T) {
	if _, ok := AttemptFrom(context.Background()); ok {
		t.Fatal("AttemptFrom found an Attempt in an empty context")
	}
	a := Attempt{Action: ActionToken, User: "u", Channel: "c", Remote: "r"}
	got, ok := AttemptFrom(WithAttempt(context.Background(), a))
	if !ok || got != a {
		t.Fatalf("AttemptFrom = %+v, %v; want %+v", got, ok, a)
	}
}
