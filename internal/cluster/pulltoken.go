package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// Pull authentication. A pulling node must not need the channel password
// (it has only a hash) nor a secret shared by all nodes beyond their NATS
// credentials. So before it dials, it asks the node it will pull from, by
// a NATS request on that node's subject fstream.<bucket>.pull.<node>, for
// a pull token: 32 random bytes, good for one watch handshake of that
// channel within a few seconds. Only holders of the cluster's NATS
// credentials can ask, and the token travels to the pulling node over
// NATS, never through an fstream client.

const (
	// DefaultPullTokenTTL is how long a pull token stays good: enough to
	// dial and send one handshake.
	DefaultPullTokenTTL = 10 * time.Second
	// maxPullTokens bounds the live pull tokens of one node; minting
	// beyond it fails until some are redeemed or expire.
	maxPullTokens = 10_000
	// maxControlMsg bounds a control request or reply before decoding.
	maxControlMsg = 4 << 10
)

// ErrTooManyPullTokens means a node holds maxPullTokens live tokens.
var ErrTooManyPullTokens = errors.New("cluster: too many live pull tokens")

// PullTokens holds the pull tokens a node minted, until they are redeemed
// or expire. Only their SHA-256 digests are kept. It is safe for
// concurrent use.
type PullTokens struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu   sync.Mutex
	live map[[sha256.Size]byte]pullToken // guarded by mu
}

type pullToken struct {
	key     Key
	node    string // the node it was minted for
	expires time.Time
}

// NewPullTokens returns an empty store whose tokens last ttl
// (DefaultPullTokenTTL if ttl is not positive). now tells the time; nil
// means time.Now.
func NewPullTokens(ttl time.Duration, now func() time.Time) *PullTokens {
	if ttl <= 0 {
		ttl = DefaultPullTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &PullTokens{ttl: ttl, now: now, max: maxPullTokens, live: make(map[[sha256.Size]byte]pullToken)}
}

// Mint returns a new token good for one pull of k by node.
func (t *PullTokens) Mint(k Key, node string) (string, error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.live) >= t.max {
		for d, p := range t.live {
			if !now.Before(p.expires) {
				delete(t.live, d)
			}
		}
		if len(t.live) >= t.max {
			return "", fmt.Errorf("%w (%d)", ErrTooManyPullTokens, t.max)
		}
	}
	t.live[sha256.Sum256([]byte(tok))] = pullToken{key: k, node: node, expires: now.Add(t.ttl)}
	return tok, nil
}

// Redeem uses up token and reports whether it was minted for a pull of k
// and has not expired, with the node it was minted for. A token is used up
// by any attempt, right channel or not.
func (t *PullTokens) Redeem(token string, k Key) (node string, ok bool) {
	d := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	p, found := t.live[d]
	if !found {
		return "", false
	}
	delete(t.live, d)
	if p.key != k || !t.now().Before(p.expires) {
		return "", false
	}
	return p.node, true
}

// Len returns the number of tokens held, expired ones not yet swept
// included.
func (t *PullTokens) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.live)
}

// RedeemPullToken redeems token in this node's store, counting the
// outcome; the server calls it for a watch handshake with pull-token=.
func (n *Node) RedeemPullToken(token string, k Key) (node string, ok bool) {
	node, ok = n.tokens.Redeem(token, k)
	if ok {
		n.metrics.PullTokensRedeemed.Add(1)
	} else {
		n.metrics.PullTokensRefused.Add(1)
	}
	return node, ok
}

type pullRequest struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	Node    string `json:"node"`
}

type pullReply struct {
	Token string `json:"token,omitempty"`
	Error string `json:"error,omitempty"`
}

// Error codes of a pull reply.
const (
	pullErrNotCarried = "not-carried"
	pullErrBad        = "bad-request"
	pullErrBusy       = "busy"
)

// RequestPullToken asks node (the origin or a relay of k) for a token to
// pull k with. Errors: ErrNotCarried when that node neither ingests nor
// pulls k, ErrDirectoryUnreachable when it does not answer in time.
func (n *Node) RequestPullToken(ctx context.Context, node string, k Key) (string, error) {
	if err := k.Validate(); err != nil {
		return "", fmt.Errorf("cluster: pull token: %w", err)
	}
	if err := protocol.ValidateName(node); err != nil {
		return "", fmt.Errorf("cluster: pull token: node: %w", err)
	}
	ctx, cancel, err := n.begin(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	req, _ := json.Marshal(pullRequest{User: k.User, Channel: k.Channel, Node: n.cfg.NodeName})
	msg, err := n.nc.RequestWithContext(ctx, n.subject("pull", node), req)
	if err != nil {
		return "", n.fail(fmt.Sprintf("pull token for %s from %s", k, node), err)
	}
	var rep pullReply
	if err := decodeJSON(msg.Data, &rep); err != nil {
		return "", fmt.Errorf("cluster: pull token from %s: %w", node, err)
	}
	switch {
	case rep.Error == pullErrNotCarried:
		return "", fmt.Errorf("%w: %s by %s", ErrNotCarried, k, node)
	case rep.Error != "":
		return "", fmt.Errorf("cluster: pull token for %s from %s: refused (%.40s)", k, node, rep.Error)
	case rep.Token == "" || len(rep.Token) > 64:
		return "", fmt.Errorf("cluster: pull token from %s: %w: bad token", node, ErrMalformed)
	}
	return rep.Token, nil
}

// answerPull answers one pull-token request.
func (n *Node) answerPull(data []byte) []byte {
	var req pullRequest
	rep := pullReply{Error: pullErrBad}
	k := Key{}
	if decodeJSON(data, &req) == nil {
		k = Key{req.User, req.Channel}
		rep = n.mintFor(k, req.Node)
	}
	if rep.Error != "" {
		n.log.Info("pull token request refused", "channel", k.String(), "for", req.Node, "reason", rep.Error)
	}
	b, _ := json.Marshal(rep)
	return b
}

func (n *Node) mintFor(k Key, node string) pullReply {
	if k.Validate() != nil || protocol.ValidateName(node) != nil {
		return pullReply{Error: pullErrBad}
	}
	if !n.carries(k) {
		return pullReply{Error: pullErrNotCarried}
	}
	tok, err := n.tokens.Mint(k, node)
	if err != nil {
		n.log.Warn("pull token refused", "channel", k.String(), "for", node, "err", err)
		return pullReply{Error: pullErrBusy}
	}
	n.metrics.PullTokensMinted.Add(1)
	return pullReply{Token: tok}
}
