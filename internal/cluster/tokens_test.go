package cluster

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
)

// TestTokensAcrossNodes: a token issued on one node is redeemed once on
// another; a newer token revokes the older one; a wrong token revokes
// nothing.
func TestTokensAcrossNodes(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	b := openNode(t, testConfig(ns, "b"))
	ta, tb := a.Tokens(time.Minute), b.Tokens(time.Minute)

	tok, expires, err := ta.Issue("fier")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if len(tok) != 43 || !expires.After(time.Now()) {
		t.Fatalf("Issue = %q, %v", tok, expires)
	}
	if err := tb.Redeem("fier", "wrong"); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("wrong token = %v, want ErrTokenInvalid", err)
	}
	if err := tb.Redeem("other", tok); !errors.Is(err, auth.ErrDenied) {
		t.Fatalf("token of another user = %v, want ErrDenied", err)
	}
	if err := tb.Redeem("fier", tok); err != nil {
		t.Fatalf("Redeem on b: %v", err)
	}
	if err := ta.Redeem("fier", tok); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("second Redeem on a = %v, want ErrTokenInvalid", err)
	}

	old, _, _ := ta.Issue("fier")
	cur, _, _ := tb.Issue("fier")
	if err := ta.Redeem("fier", old); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("replaced token = %v, want ErrTokenInvalid", err)
	}
	if err := ta.Redeem("fier", cur); err != nil {
		t.Fatalf("current token: %v", err)
	}
}

// TestTokenRedeemedOnceUnderRace redeems the same token from two nodes at
// once, many times over: exactly one redemption of each token succeeds.
func TestTokenRedeemedOnceUnderRace(t *testing.T) {
	ns := startNATS(t)
	nodes := []*Node{openNode(t, testConfig(ns, "a")), openNode(t, testConfig(ns, "b"))}
	ctx := ctxT(t)
	const rounds, perNode = 20, 4
	for round := range rounds {
		tok := newSession() + newSession()
		if err := nodes[round%2].StoreToken(ctx, "fier", tok, time.Minute); err != nil {
			t.Fatalf("StoreToken: %v", err)
		}
		var wg sync.WaitGroup
		results := make(chan error, len(nodes)*perNode)
		for _, n := range nodes {
			for range perNode {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results <- n.RedeemToken(ctx, "fier", tok)
				}()
			}
		}
		wg.Wait()
		close(results)
		ok := 0
		for err := range results {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, auth.ErrTokenInvalid):
				t.Fatalf("round %d: Redeem = %v, want nil or ErrTokenInvalid", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d redemptions succeeded, want exactly 1", round, ok)
		}
	}
	total := nodes[0].Metrics().TokensRedeemed.Load() + nodes[1].Metrics().TokensRedeemed.Load()
	if total != rounds {
		t.Fatalf("TokensRedeemed = %d, want %d", total, rounds)
	}
}

// TestTokenExpires stores a token with the shortest TTL and waits until
// NATS has removed it.
func TestTokenExpires(t *testing.T) {
	ns := startNATS(t)
	a := openNode(t, testConfig(ns, "a"))
	ctx := ctxT(t)
	if err := a.StoreToken(ctx, "fier", "tok", MinTTL); err != nil {
		t.Fatalf("StoreToken: %v", err)
	}
	eventually(t, within, "token expired", func() bool {
		_, err := a.tokKV.Get(ctx, tokenKey("fier"))
		return err != nil
	})
	if err := a.RedeemToken(ctx, "fier", "tok"); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("expired token = %v, want ErrTokenInvalid", err)
	}
}
