package cluster

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/fstream/fstream/internal/protocol"
)

// Key names a channel: its owner and its name.
type Key struct {
	User, Channel string
}

// String returns "user/channel" (a '/' is never part of a name).
func (k Key) String() string { return k.User + "/" + k.Channel }

// Validate checks both names with protocol.ValidateName.
func (k Key) Validate() error {
	if err := protocol.ValidateName(k.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	if err := protocol.ValidateName(k.Channel); err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	return nil
}

// Record kinds: the first token of a directory key.
const (
	kindNode    = "n" // n.<node>: a live node
	kindChannel = "c" // c.<user>.<channel>: a live channel's origin
	kindPull    = "p" // p.<user>.<channel>.<node>: node pulls the channel
	kindToken   = "t" // t.<user>: a user's one-time broadcast token
)

// enc makes any valid name safe as one NATS key or subject token, which
// allow only [-/_=.A-Za-z0-9] and give '.' a meaning: unpadded base64url
// uses only [-_A-Za-z0-9], and a valid name is never empty.
func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func dec(tok string) (string, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return "", fmt.Errorf("%w: key token %.32q: %w", ErrMalformed, tok, err)
	}
	return string(b), nil
}

func nodeKey(node string) string { return kindNode + "." + enc(node) }
func channelKey(k Key) string    { return kindChannel + "." + enc(k.User) + "." + enc(k.Channel) }
func pullKey(k Key, node string) string {
	return kindPull + "." + enc(k.User) + "." + enc(k.Channel) + "." + enc(node)
}
func pullFilter(k Key) string     { return kindPull + "." + enc(k.User) + "." + enc(k.Channel) + ".*" }
func tokenKey(user string) string { return kindToken + "." + enc(user) }

// Filters for listing every record of a kind.
const (
	allNodes    = kindNode + ".*"
	allChannels = kindChannel + ".*.*"
	allPulls    = kindPull + ".*.*.*"
)

// parseKey splits a directory key into its kind and decoded names, and
// checks that it is well formed: the right number of tokens, each a valid
// name. Keys written by something else are ErrMalformed.
func parseKey(key string) (kind string, names []string, err error) {
	toks := strings.Split(key, ".")
	want := map[string]int{kindNode: 1, kindChannel: 2, kindPull: 3, kindToken: 1}
	n, ok := want[toks[0]]
	if !ok || len(toks) != n+1 {
		return "", nil, fmt.Errorf("%w: key %.64q", ErrMalformed, key)
	}
	for _, t := range toks[1:] {
		name, err := dec(t)
		if err != nil {
			return "", nil, err
		}
		if err := protocol.ValidateName(name); err != nil {
			return "", nil, fmt.Errorf("%w: key %.64q: %w", ErrMalformed, key, err)
		}
		names = append(names, name)
	}
	return toks[0], names, nil
}
