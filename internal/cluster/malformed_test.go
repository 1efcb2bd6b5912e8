package cluster

import (
	"errors"
	"testing"
)

// TestMalformedRecordsIgnored writes records a node did not write
// (garbage, a future version, a record under another channel's key, keys
// outside our encoding) and checks that they are logged, counted and
// ignored, and that the nodes keep working.
func TestMalformedRecordsIgnored(t *testing.T) {
	ns := startNATS(t)
	var ev events
	cfgA := testConfig(ns, "a")
	ev.hook(&cfgA)
	a := openNode(t, cfgA)
	b := openNode(t, testConfig(ns, "b"))
	ctx := ctxT(t)
	good := Key{"u", "good"}
	if _, err := a.Claim(ctx, good, ClaimInfo{}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	bad := Key{"u", "bad"}
	other := Entry{Key: Key{"u", "other"}, Origin: "b", OriginAddr: "127.0.0.1:2", Session: "s"}
	future := []byte(`{"v":2,"user":"u","channel":"bad","node":"b","addr":"127.0.0.1:2","session":"s","start":"2025-01-01T00:00:00Z"}`)
	writes := map[string][]byte{
		channelKey(bad):           []byte("not json"),
		channelKey(Key{"u", "x"}): encodeEntry(other), // names another channel
		channelKey(Key{"u", "y"}): future,
		"c.bm90IGJhc2U2NA.Zm9v":   []byte("{}"),                     // "not base64"? decodes, but empty record
		"c.!!!.x":                 nil,                              // invalid key token: refused by NATS
		"c.only-one-token":        encodeEntry(Entry{Key: bad}),     // wrong shape
		nodeKey("ghost"):          []byte(`{"v":1,"name":"ghost"}`), // no address, no session
		pullKey(good, "ghost"):    []byte(`[]`),
	}
	for key, val := range writes {
		if _, err := b.kv.Put(ctx, key, val); err != nil {
			t.Logf("Put %q: %v (skipped)", key, err)
		}
	}
	// A channel entry on the watcher path: malformed updates must not
	// disturb a's claim or hooks.
	if _, err := b.kv.Put(ctx, channelKey(good), []byte(`{"v":1}`)); err != nil {
		t.Fatalf("Put: %v", err)
	}

	if _, err := b.Lookup(ctx, bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("Lookup of garbage = %v, want ErrNotFound wrapping ErrMalformed", err)
	}
	if _, err := b.Lookup(ctx, Key{"u", "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup of a misplaced record = %v, want ErrNotFound", err)
	}
	eventually(t, within, "only well-formed channels listed", func() bool {
		chans, err := b.Channels(ctx)
		return err == nil && len(chans) == 1 && chans[0].Key == good
	})
	names := nodeNames(t, b)
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Fatalf("Nodes = %v, want a and b", names)
	}
	pulls, err := b.Pulls(ctx, good)
	if err != nil || len(pulls) != 0 {
		t.Fatalf("Pulls = %+v, %v; want none", pulls, err)
	}
	// a overwrites the broken entry with its next heartbeat and keeps its
	// claim: a malformed record is not a takeover.
	eventually(t, within, "a's entry restored", func() bool {
		e, err := b.Lookup(ctx, good)
		return err == nil && e.Origin == "a"
	})
	if n := len(ev.snapshot().takenOver); n != 0 {
		t.Fatalf("a told of %d takeovers by malformed records", n)
	}
	if b.Metrics().Malformed.Load() == 0 || a.Metrics().Malformed.Load() == 0 {
		t.Fatalf("malformed counters: a %d, b %d", a.Metrics().Malformed.Load(), b.Metrics().Malformed.Load())
	}
}
