package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/protocol"
)

// One-time broadcast tokens, cluster-wide: a token issued by node A works
// once on node B. Each user has at most one live token, stored as
// t.<user> = {SHA-256 digest} in the tokens bucket with a per-message TTL,
// so NATS itself expires it (by the NATS server's clock, not a node's).
// Redeeming deletes the record by compare-and-delete on the revision that
// was read: of two nodes redeeming the same token at once, exactly one
// delete lands.

type tokenWire struct {
	V      int    `json:"v"`
	Digest string `json:"digest"`
}

// StoreToken makes token user's one live broadcast token for ttl (at
// least one second), replacing any earlier one.
func (n *Node) StoreToken(ctx context.Context, user, token string, ttl time.Duration) error {
	if err := protocol.ValidateName(user); err != nil {
		return fmt.Errorf("cluster: store token: %w", err)
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	d := sha256.Sum256([]byte(token))
	b, _ := json.Marshal(tokenWire{V: recordVersion, Digest: hex.EncodeToString(d[:])})
	// kv.Put takes no TTL; this is what it publishes, plus the TTL.
	msg := &nats.Msg{Subject: "$KV." + n.cfg.tokenBucket() + "." + tokenKey(user), Data: b}
	if _, err := n.js.PublishMsg(ctx, msg, jetstream.WithMsgTTL(max(ttl, MinTTL))); err != nil {
		return n.fail("store token", err)
	}
	return nil
}

// RedeemToken uses up user's token. It returns nil exactly once per
// stored token, an error wrapping auth.ErrTokenInvalid (and so
// auth.ErrDenied) for a wrong, used, replaced or expired token, and an
// error wrapping ErrDirectoryUnreachable when it could not decide.
func (n *Node) RedeemToken(ctx context.Context, user, token string) error {
	err := n.redeemToken(ctx, user, token)
	switch {
	case err == nil:
		n.metrics.TokensRedeemed.Add(1)
	case errors.Is(err, auth.ErrDenied):
		n.metrics.TokensRefused.Add(1)
	}
	return err
}

func (n *Node) redeemToken(ctx context.Context, user, token string) error {
	if err := protocol.ValidateName(user); err != nil {
		return fmt.Errorf("%w: user: %w", auth.ErrTokenInvalid, err)
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	got, err := n.tokKV.Get(ctx, tokenKey(user))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return fmt.Errorf("%w for user %q: no live token (used, expired or never issued)", auth.ErrTokenInvalid, user)
	}
	if err != nil {
		return n.fail("redeem token", err)
	}
	var w tokenWire
	if err := decodeJSON(got.Value(), &w); err != nil || w.V != recordVersion {
		n.malformed(got.Key(), got.Revision(), err)
		return fmt.Errorf("%w for user %q: unreadable token record", auth.ErrTokenInvalid, user)
	}
	want, err := hex.DecodeString(w.Digest)
	d := sha256.Sum256([]byte(token))
	if err != nil || subtle.ConstantTimeCompare(want, d[:]) != 1 {
		// A wrong token does not revoke the right one (see auth.Tokens).
		return fmt.Errorf("%w for user %q: not the live token", auth.ErrTokenInvalid, user)
	}
	err = n.tokKV.Purge(ctx, tokenKey(user), jetstream.LastRevision(got.Revision()), jetstream.PurgeTTL(MinTTL))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("%w for user %q: used by another node", auth.ErrTokenInvalid, user)
	}
	if err != nil {
		return n.fail("redeem token", err)
	}
	return nil
}

// Tokens is a cluster-wide one-time broadcast token store with the
// methods of the server's TokenStore (and auth.Tokens): Issue and Redeem.
type Tokens struct {
	n   *Node
	ttl time.Duration
}

// Tokens returns a token store whose tokens last ttl
// (auth.DefaultTokenTTL if ttl is not positive).
func (n *Node) Tokens(ttl time.Duration) *Tokens {
	if ttl <= 0 {
		ttl = auth.DefaultTokenTTL
	}
	return &Tokens{n: n, ttl: max(ttl, MinTTL)}
}

// TTL returns how long a new token stays good.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a new token for user (32 random bytes, unpadded
// base64url), revoking user's earlier token on every node.
func (t *Tokens) Issue(user string) (string, time.Time, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := t.n.StoreToken(context.Background(), user, tok, t.ttl); err != nil {
		return "", time.Time{}, err
	}
	return tok, time.Now().Add(t.ttl), nil
}

// Redeem uses up user's token (see Node.RedeemToken).
func (t *Tokens) Redeem(user, token string) error {
	return t.n.RedeemToken(context.Background(), user, token)
}
