package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func issue(t *testing.T, tk *Tokens, user string) string {
	t.Helper()
	token, _, err := tk.Issue(user)
	if err != nil {
		t.Fatalf("Issue(%q): %v", user, err)
	}
	return token
}

func TestTokenFormat(t *testing.T) {
	clock := newFakeClock()
	tk := NewTokens(time.Minute, clock.Now)
	token, expires, err := tk.Issue("fier")
	if err != nil {
		t.Fatal(err)
	}
	if !expires.Equal(clock.Now().Add(time.Minute)) {
		t.Errorf("expires = %v, want now + 1m", expires)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		t.Errorf("token %q is not %d bytes of unpadded base64url: %v", token, tokenBytes, err)
	}
	if strings.ContainsAny(token, ",=") {
		t.Errorf("token %q cannot travel in a handshake", token)
	}
	if other := issue(t, tk, "fier"); other == token {
		t.Error("two tokens are equal")
	}
	if NewTokens(0, nil).TTL() != DefaultTokenTTL {
		t.Error("NewTokens(0, nil) does not default the lifetime")
	}
}

func TestTokenRedeem(t *testing.T) {
	const ttl = 2 * time.Minute
	tests := []struct {
		name string
		// run issues and redeems; it returns the error of the redeem
		// under test.
		run  func(t *testing.T, tk *Tokens, clock *fakeClock) error
		want error // nil: allowed
	}{
		{
			name: "fresh token",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				return tk.Redeem("fier", issue(t, tk, "fier"))
			},
		},
		{
			name: "just before expiry",
			run: func(t *testing.T, tk *Tokens, clock *fakeClock) error {
				token := issue(t, tk, "fier")
				clock.Advance(ttl - time.Nanosecond)
				return tk.Redeem("fier", token)
			},
		},
		{
			name: "at expiry",
			run: func(t *testing.T, tk *Tokens, clock *fakeClock) error {
				token := issue(t, tk, "fier")
				clock.Advance(ttl)
				return tk.Redeem("fier", token)
			},
			want: ErrTokenExpired,
		},
		{
			name: "second use",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				token := issue(t, tk, "fier")
				if err := tk.Redeem("fier", token); err != nil {
					t.Fatalf("first use: %v", err)
				}
				return tk.Redeem("fier", token)
			},
			want: ErrTokenInvalid,
		},
		{
			name: "expired, then again",
			run: func(t *testing.T, tk *Tokens, clock *fakeClock) error {
				token := issue(t, tk, "fier")
				clock.Advance(ttl + time.Second)
				if err := tk.Redeem("fier", token); !errors.Is(err, ErrTokenExpired) {
					t.Fatalf("first try: %v, want ErrTokenExpired", err)
				}
				return tk.Redeem("fier", token)
			},
			want: ErrTokenInvalid,
		},
		{
			name: "replaced by a newer token",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				old := issue(t, tk, "fier")
				issue(t, tk, "fier")
				return tk.Redeem("fier", old)
			},
			want: ErrTokenInvalid,
		},
		{
			name: "the newer token works",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				issue(t, tk, "fier")
				return tk.Redeem("fier", issue(t, tk, "fier"))
			},
		},
		{
			name: "another user's token",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				issue(t, tk, "fier")
				return tk.Redeem("fier", issue(t, tk, "other"))
			},
			want: ErrTokenInvalid,
		},
		{
			name: "token for a user without one",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				return tk.Redeem("other", issue(t, tk, "fier"))
			},
			want: ErrTokenInvalid,
		},
		{
			name: "a wrong guess does not burn the real token",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				token := issue(t, tk, "fier")
				if err := tk.Redeem("fier", "guess"); !errors.Is(err, ErrTokenInvalid) {
					t.Fatalf("guess: %v, want ErrTokenInvalid", err)
				}
				return tk.Redeem("fier", token)
			},
		},
		{
			name: "empty token",
			run: func(t *testing.T, tk *Tokens, _ *fakeClock) error {
				issue(t, tk, "fier")
				return tk.Redeem("fier", "")
			},
			want: ErrTokenInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tk := NewTokens(ttl, clock.Now)
			err := tt.run(t, tk, clock)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Redeem = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrDenied) {
				t.Fatalf("Redeem = %v, want %v (and ErrDenied)", err, tt.want)
			}
		})
	}
}

func TestTokenExpiredMessage(t *testing.T) {
	clock := newFakeClock()
	tk := NewTokens(2*time.Minute, clock.Now)
	token := issue(t, tk, "fier")
	clock.Advance(3 * time.Minute)
	err := tk.Redeem("fier", token)
	if err == nil || !strings.Contains(err.Error(), `token expired for user "fier": expired 1m0s ago (tokens last 2m0s)`) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatal("the error quotes the token")
	}
}

// TestTokenBounded checks that the map of live tokens is bounded and that
// expired tokens are swept to make room.
func TestTokenBounded(t *testing.T) {
	clock := newFakeClock()
	tk := NewTokens(time.Minute, clock.Now)
	tk.max = 3
	for _, u := range []string{"a", "b", "c"} {
		issue(t, tk, u)
	}
	if _, _, err := tk.Issue("d"); !errors.Is(err, ErrTooManyTokens) || errors.Is(err, ErrDenied) {
		t.Fatalf("Issue past the bound: %v, want ErrTooManyTokens", err)
	}
	// A user who has a token may still replace it.
	issue(t, tk, "a")

	clock.Advance(time.Minute)
	issue(t, tk, "d") // sweeps a, b, c
	if n := tk.Len(); n != 1 {
		t.Fatalf("Len() = %d after the sweep, want 1", n)
	}
}

// TestTokenSweep checks that expired tokens go even when the bound is far.
func TestTokenSweep(t *testing.T) {
	clock := newFakeClock()
	tk := NewTokens(time.Minute, clock.Now)
	for _, u := range []string{"a", "b", "c"} {
		issue(t, tk, u)
	}
	clock.Advance(2 * time.Minute)
	issue(t, tk, "d")
	if n := tk.Len(); n != 1 {
		t.Fatalf("Len() = %d, want 1: expired tokens were not swept", n)
	}
}

func TestTokenBadUser(t *testing.T) {
	tk := NewTokens(time.Minute, nil)
	for _, user := range []string{"", "../x", "a\nb"} {
		if _, _, err := tk.Issue(user); err == nil {
			t.Errorf("Issue(%q) succeeded", user)
		}
	}
}

// TestTokenConcurrent issues and redeems from many goroutines, for -race:
// each token is redeemed by exactly one of two competing redeemers.
func TestTokenConcurrent(t *testing.T) {
	tk := NewTokens(time.Minute, nil)
	users := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	results := make(chan error, 2*len(users)*50)
	for _, u := range users {
		wg.Go(func() {
			for range 50 {
				token, _, err := tk.Issue(u)
				if err != nil {
					results <- err
					return
				}
				var inner sync.WaitGroup
				for range 2 {
					inner.Go(func() { results <- tk.Redeem(u, token) })
				}
				inner.Wait()
			}
		})
	}
	wg.Wait()
	close(results)
	var ok, denied int
	for err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrTokenInvalid):
			denied++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != len(users)*50 || denied != len(users)*50 {
		t.Fatalf("%d redeemed and %d denied, want %d each", ok, denied, len(users)*50)
	}
}
