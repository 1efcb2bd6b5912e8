package cluster

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestPullTokens(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	pt := NewPullTokens(10*time.Second, clock.Now)
	k, other := Key{"u", "c"}, Key{"u", "d"}

	tok, err := pt.Mint(k, "b")
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if len(tok) != 43 {
		t.Fatalf("token %q has %d characters, want 43", tok, len(tok))
	}
	if node, ok := pt.Redeem(tok, k); !ok || node != "b" {
		t.Fatalf("first Redeem = %q, %v; want b, true", node, ok)
	}
	if _, ok := pt.Redeem(tok, k); ok {
		t.Fatal("second Redeem succeeded: tokens are single use")
	}

	tok, _ = pt.Mint(k, "b")
	if _, ok := pt.Redeem(tok, other); ok {
		t.Fatal("token redeemed for another channel")
	}
	if _, ok := pt.Redeem(tok, k); ok {
		t.Fatal("token still good after a try on another channel")
	}

	tok, _ = pt.Mint(k, "b")
	clock.Add(10 * time.Second)
	if _, ok := pt.Redeem(tok, k); ok {
		t.Fatal("expired token redeemed")
	}
	if _, ok := pt.Redeem("", k); ok {
		t.Fatal("empty token redeemed")
	}
	if pt.Len() != 0 {
		t.Fatalf("Len = %d after every token was used, want 0", pt.Len())
	}
}

func TestPullTokensBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	pt := NewPullTokens(time.Second, clock.Now)
	pt.max = 3
	k := Key{"u", "c"}
	for range 3 {
		if _, err := pt.Mint(k, "b"); err != nil {
			t.Fatalf("Mint: %v", err)
		}
	}
	if _, err := pt.Mint(k, "b"); !errors.Is(err, ErrTooManyPullTokens) {
		t.Fatalf("Mint beyond the bound = %v, want ErrTooManyPullTokens", err)
	}
	clock.Add(time.Second) // all expire: the next Mint sweeps them
	if _, err := pt.Mint(k, "b"); err != nil || pt.Len() != 1 {
		t.Fatalf("Mint after expiry = %v, Len %d; want nil, 1", err, pt.Len())
	}
}

// TestRequestPullToken gets a token over NATS from the origin and from a
// relay, and redeems it once on the serving side.
func TestRequestPullToken(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	c := openNode(t, testConfig(ns, "c"))
	ctx := ctxT(t)
	k := Key{"fier", "cam"}

	if _, err := b.RequestPullToken(ctx, "a", k); !errors.Is(err, ErrNotCarried) {
		t.Fatalf("token for a channel a does not carry = %v, want ErrNotCarried", err)
	}
	if _, err := a.Claim(ctx, k, ClaimInfo{Password: "secret"}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	tok, err := b.RequestPullToken(ctx, "a", k)
	if err != nil {
		t.Fatalf("RequestPullToken: %v", err)
	}
	if node, ok := a.RedeemPullToken(tok, k); !ok || node != "b" {
		t.Fatalf("RedeemPullToken = %q, %v; want b, true", node, ok)
	}
	if _, ok := a.RedeemPullToken(tok, k); ok {
		t.Fatal("pull token redeemed twice")
	}
	// b's token is no good on another node.
	tok, _ = b.RequestPullToken(ctx, "a", k)
	if _, ok := c.RedeemPullToken(tok, k); ok {
		t.Fatal("a's token redeemed by c")
	}

	// b relays: c may pull from b once b registered its pull.
	if err := b.RegisterPull(ctx, k, "a"); err != nil {
		t.Fatalf("RegisterPull: %v", err)
	}
	tok, err = c.RequestPullToken(ctx, "b", k)
	if err != nil {
		t.Fatalf("RequestPullToken from relay: %v", err)
	}
	if node, ok := b.RedeemPullToken(tok, k); !ok || node != "c" {
		t.Fatalf("relay RedeemPullToken = %q, %v", node, ok)
	}
	if _, err := c.RequestPullToken(ctx, "nobody", k); !errors.Is(err, ErrDirectoryUnreachable) {
		t.Fatalf("token from a node that does not exist = %v, want ErrDirectoryUnreachable", err)
	}
	m := a.Metrics()
	if m.PullTokensMinted.Load() != 2 || m.PullTokensRedeemed.Load() != 1 || m.PullTokensRefused.Load() != 1 {
		t.Fatalf("a's pull token counters: minted %d, redeemed %d, refused %d",
			m.PullTokensMinted.Load(), m.PullTokensRedeemed.Load(), m.PullTokensRefused.Load())
	}
}
