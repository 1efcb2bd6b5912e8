package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

const (
	// recordVersion is the format of every directory record; a node
	// ignores (and logs) records of another version.
	recordVersion = 1
	// maxRecord bounds a record before it is decoded. The largest valid
	// one (two 255-byte names, an address, a hash) is far smaller.
	maxRecord = 4 << 10
	// maxSession bounds a session id; ours are 22 characters.
	maxSession = 64
	// maxFormat bounds the detected-format string.
	maxFormat = 32
)

// Entry is a live channel in the directory: who ingests it and how to
// reach it.
type Entry struct {
	Key Key
	// Origin is the node that ingests the channel; OriginAddr is its
	// advertise address; Session is the origin process's session, which
	// changes when a node restarts under the same name.
	Origin     string
	OriginAddr string
	Session    string
	// Revision is the directory revision of this entry. A later claim
	// always has a higher revision: revisions, never clocks, order
	// claims.
	Revision uint64
	// Start is when the broadcaster started, by the origin's clock; it is
	// shown to people and never compared across nodes.
	Start time.Time
	// Format is the detected stream format ("mpegts", "h264", ...), empty
	// until known.
	Format string
	// Watchers is how many watchers the origin serves itself, as last
	// reported (SetWatchers) and written by its heartbeat.
	Watchers int64
	// Expired is set only in an OnUpstreamChanged call for an entry that
	// left the directory: its origin stopped heartbeating (dead, or cut
	// off from NATS) rather than released it.
	Expired bool

	// passwordHash is the PHC string of the channel password's argon2id
	// hash; empty when the channel has no password.
	passwordHash string
}

// HasPassword reports whether watchers must give a channel password.
func (e Entry) HasPassword() bool { return e.passwordHash != "" }

// NodeInfo is a live node.
type NodeInfo struct {
	Name    string
	Addr    string
	Session string
	// Since is when the node joined, by its own clock (shown only).
	Since time.Time
	// Watchers and Channels are what the node last reported
	// (Node.ReportLoad); Pulls is how many channels it pulls.
	Watchers int64
	Channels int
	Pulls    int
}

// Pull says that Node carries a channel by pulling it from Upstream.
type Pull struct {
	Node     string
	Upstream string
	// Watchers is how many watchers Node serves the channel to, as last
	// reported (SetWatchers).
	Watchers int64
}

// entryWire is an Entry as stored.
type entryWire struct {
	V        int       `json:"v"`
	User     string    `json:"user"`
	Channel  string    `json:"channel"`
	Node     string    `json:"node"`
	Addr     string    `json:"addr"`
	Session  string    `json:"session"`
	Start    time.Time `json:"start"`
	Format   string    `json:"format,omitempty"`
	Password string    `json:"pw,omitempty"`
	Watchers int64     `json:"watchers,omitempty"`
}

type nodeWire struct {
	V        int       `json:"v"`
	Name     string    `json:"name"`
	Addr     string    `json:"addr"`
	Session  string    `json:"session"`
	Since    time.Time `json:"since"`
	Watchers int64     `json:"watchers"`
	Channels int       `json:"channels"`
	Pulls    int       `json:"pulls"`
}

type pullWire struct {
	V        int    `json:"v"`
	Node     string `json:"node"`
	Session  string `json:"session"`
	Upstream string `json:"upstream"`
	Watchers int64  `json:"watchers,omitempty"`
}

func encodeEntry(e Entry) []byte {
	b, _ := json.Marshal(entryWire{V: recordVersion, User: e.Key.User, Channel: e.Key.Channel,
		Node: e.Origin, Addr: e.OriginAddr, Session: e.Session, Start: e.Start.UTC(),
		Format: e.Format, Password: e.passwordHash, Watchers: e.Watchers})
	return b
}

// decodeJSON decodes one bounded JSON object of the current version,
// rejecting unknown fields and trailing data.
func decodeJSON(data []byte, v any) error {
	if len(data) > maxRecord {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(data), maxRecord)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}

func checkVersion(v int) error {
	if v != recordVersion {
		return fmt.Errorf("%w: record version %d, want %d", ErrMalformed, v, recordVersion)
	}
	return nil
}

func checkSession(s string) error {
	if s == "" || len(s) > maxSession {
		return fmt.Errorf("%w: session of %d bytes", ErrMalformed, len(s))
	}
	return nil
}

// decodeEntry decodes the record stored under key (a channel key) at rev.
// The record must name the same channel as its key, so that a record
// copied under another key is refused.
func decodeEntry(key string, rev uint64, data []byte) (Entry, error) {
	kind, names, err := parseKey(key)
	if err != nil {
		return Entry{}, err
	}
	if kind != kindChannel {
		return Entry{}, fmt.Errorf("%w: %.64q is not a channel key", ErrMalformed, key)
	}
	var w entryWire
	if err := decodeJSON(data, &w); err != nil {
		return Entry{}, err
	}
	if err := checkVersion(w.V); err != nil {
		return Entry{}, err
	}
	if w.User != names[0] || w.Channel != names[1] {
		return Entry{}, fmt.Errorf("%w: record for %q/%q under key of %q/%q", ErrMalformed, w.User, w.Channel, names[0], names[1])
	}
	if err := protocol.ValidateName(w.Node); err != nil {
		return Entry{}, fmt.Errorf("%w: origin node: %w", ErrMalformed, err)
	}
	if err := CheckAdvertise(w.Addr); err != nil {
		return Entry{}, fmt.Errorf("%w: origin address: %w", ErrMalformed, err)
	}
	if err := checkSession(w.Session); err != nil {
		return Entry{}, err
	}
	if len(w.Format) > maxFormat {
		return Entry{}, fmt.Errorf("%w: format of %d bytes", ErrMalformed, len(w.Format))
	}
	if w.Watchers < 0 {
		return Entry{}, fmt.Errorf("%w: negative count", ErrMalformed)
	}
	if w.Password != "" {
		if _, err := parsePasswordHash(w.Password); err != nil {
			return Entry{}, err
		}
	}
	return Entry{Key: Key{w.User, w.Channel}, Origin: w.Node, OriginAddr: w.Addr, Session: w.Session,
		Revision: rev, Start: w.Start, Format: w.Format, Watchers: w.Watchers, passwordHash: w.Password}, nil
}

func encodeNode(n NodeInfo) []byte {
	b, _ := json.Marshal(nodeWire{V: recordVersion, Name: n.Name, Addr: n.Addr, Session: n.Session,
		Since: n.Since.UTC(), Watchers: n.Watchers, Channels: n.Channels, Pulls: n.Pulls})
	return b
}

func decodeNode(key string, data []byte) (NodeInfo, error) {
	kind, names, err := parseKey(key)
	if err != nil {
		return NodeInfo{}, err
	}
	if kind != kindNode {
		return NodeInfo{}, fmt.Errorf("%w: %.64q is not a node key", ErrMalformed, key)
	}
	var w nodeWire
	if err := decodeJSON(data, &w); err != nil {
		return NodeInfo{}, err
	}
	if err := checkVersion(w.V); err != nil {
		return NodeInfo{}, err
	}
	if w.Name != names[0] {
		return NodeInfo{}, fmt.Errorf("%w: node record %q under key of %q", ErrMalformed, w.Name, names[0])
	}
	if err := CheckAdvertise(w.Addr); err != nil {
		return NodeInfo{}, fmt.Errorf("%w: node address: %w", ErrMalformed, err)
	}
	if err := checkSession(w.Session); err != nil {
		return NodeInfo{}, err
	}
	if w.Watchers < 0 || w.Channels < 0 || w.Pulls < 0 {
		return NodeInfo{}, fmt.Errorf("%w: negative count", ErrMalformed)
	}
	return NodeInfo{Name: w.Name, Addr: w.Addr, Session: w.Session, Since: w.Since,
		Watchers: w.Watchers, Channels: w.Channels, Pulls: w.Pulls}, nil
}

func encodePull(node, session, upstream string, watchers int64) []byte {
	b, _ := json.Marshal(pullWire{V: recordVersion, Node: node, Session: session, Upstream: upstream, Watchers: watchers})
	return b
}

// decodePull decodes a pull record; key must be the pull key of k.
func decodePull(k Key, key string, data []byte) (Pull, error) {
	kind, names, err := parseKey(key)
	if err != nil {
		return Pull{}, err
	}
	if kind != kindPull || names[0] != k.User || names[1] != k.Channel {
		return Pull{}, fmt.Errorf("%w: %.64q is not a pull key of %s", ErrMalformed, key, k)
	}
	var w pullWire
	if err := decodeJSON(data, &w); err != nil {
		return Pull{}, err
	}
	if err := checkVersion(w.V); err != nil {
		return Pull{}, err
	}
	if w.Node != names[2] {
		return Pull{}, fmt.Errorf("%w: pull record of %q under key of %q", ErrMalformed, w.Node, names[2])
	}
	if err := checkSession(w.Session); err != nil {
		return Pull{}, err
	}
	if err := protocol.ValidateName(w.Upstream); err != nil || w.Upstream == w.Node {
		return Pull{}, fmt.Errorf("%w: pull upstream %q", ErrMalformed, w.Upstream)
	}
	if w.Watchers < 0 {
		return Pull{}, fmt.Errorf("%w: negative count", ErrMalformed)
	}
	return Pull{Node: w.Node, Upstream: w.Upstream, Watchers: w.Watchers}, nil
}
