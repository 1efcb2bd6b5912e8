package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testHash is a valid argon2id hash of "456".
var testHash = hashPassword("456")

// recordCases are stored channel records and what decodeEntry makes of
// them. They also seed FuzzDecodeEntry.
var recordCases = []struct {
	name string
	key  string
	data string
	want *Entry // nil: ErrMalformed
}{
	{
		name: "minimal",
		key:  channelKey(Key{"fier", "cam"}),
		data: `{"v":1,"user":"fier","channel":"cam","node":"a","addr":"10.0.0.1:61920","session":"s1","start":"2025-01-02T03:04:05Z"}`,
		want: &Entry{Key: Key{"fier", "cam"}, Origin: "a", OriginAddr: "10.0.0.1:61920", Session: "s1",
			Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	},
	{
		name: "format",
		key:  channelKey(Key{"jörg", "cam.1"}),
		data: `{"v":1,"user":"jörg","channel":"cam.1","node":"b","addr":"[::1]:1","session":"s","start":"2025-01-02T03:04:05Z","format":"mpegts"}`,
		want: &Entry{Key: Key{"jörg", "cam.1"}, Origin: "b", OriginAddr: "[::1]:1", Session: "s",
			Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Format: "mpegts"},
	},
	{name: "not json", key: channelKey(Key{"u", "c"}), data: `garbage`},
	{name: "empty object", key: channelKey(Key{"u", "c"}), data: `{}`},
	{name: "future version", key: channelKey(Key{"u", "c"}), data: `{"v":2,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z"}`},
	{name: "unknown field", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z","x":1}`},
	{name: "trailing data", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z"} {}`},
	{name: "other channel", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"d","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z"}`},
	{name: "wildcard addr", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"0.0.0.0:5","session":"s","start":"2025-01-02T03:04:05Z"}`},
	{name: "bad node", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a/b","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z"}`},
	{name: "no session", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"","start":"2025-01-02T03:04:05Z"}`},
	{name: "long format", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z","format":"` + strings.Repeat("f", 33) + `"}`},
	{name: "plaintext password", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z","pw":"456"}`},
	{name: "greedy hash", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z","pw":"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}`},
	{name: "node key", key: nodeKey("a"), data: `{"v":1,"user":"u","channel":"c","node":"a","addr":"1.2.3.4:5","session":"s","start":"2025-01-02T03:04:05Z"}`},
	{name: "key not base64", key: "c.!.x", data: `{}`},
	{name: "key of dots", key: "c..", data: `{}`},
	{name: "huge", key: channelKey(Key{"u", "c"}), data: `{"v":1,"user":"` + strings.Repeat("u", maxRecord) + `"}`},
}

func TestDecodeEntry(t *testing.T) {
	for _, c := range recordCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeEntry(c.key, 7, []byte(c.data))
			if c.want == nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("decodeEntry = %+v, %v; want ErrMalformed", got, err)
				}
				return
			}
			want := *c.want
			want.Revision = 7
			if err != nil || got != want {
				t.Fatalf("decodeEntry = %+v, %v\nwant %+v", got, err, want)
			}
			// And back: what we encode decodes to the same entry.
			again, err := decodeEntry(c.key, 7, encodeEntry(got))
			if err != nil || again != want {
				t.Fatalf("round trip = %+v, %v", again, err)
			}
		})
	}
}

func TestEntryRoundTripWithPassword(t *testing.T) {
	e := Entry{Key: Key{"u", "c"}, Origin: "a", OriginAddr: "1.2.3.4:5", Session: "s", passwordHash: testHash}
	got, err := decodeEntry(channelKey(e.Key), 1, encodeEntry(e))
	if err != nil || !got.HasPassword() || got.passwordHash != testHash {
		t.Fatalf("decodeEntry = %+v, %v", got, err)
	}
	if strings.Contains(string(encodeEntry(e)), `"456"`) {
		t.Fatal("the password itself is in the record")
	}
}

// TestKeysForEveryName checks that any name protocol allows makes a valid
// NATS key that decodes back, the longest included.
func TestKeysForEveryName(t *testing.T) {
	names := []string{"a", "jörg", "cam.1", "..x", "with space", "a=b,c", "*", ">", "日本語", "emoji 🎥",
		strings.Repeat("u", 255), strings.Repeat("é", 127)}
	for _, u := range names {
		for _, c := range names {
			k := Key{u, c}
			if err := k.Validate(); err != nil {
				t.Fatalf("Validate(%q): %v", k, err)
			}
			for _, key := range []string{channelKey(k), pullKey(k, u), nodeKey(u), tokenKey(u)} {
				if !validKey(key) {
					t.Fatalf("key %q is not a valid NATS key", key)
				}
			}
			kind, got, err := parseKey(channelKey(k))
			if err != nil || kind != kindChannel || got[0] != u || got[1] != c {
				t.Fatalf("parseKey(channelKey(%q)) = %s %q, %v", k, kind, got, err)
			}
			kind, got, err = parseKey(pullKey(k, "node"))
			if err != nil || kind != kindPull || got[2] != "node" {
				t.Fatalf("parseKey(pullKey) = %s %q, %v", kind, got, err)
			}
		}
	}
}

// validKey is NATS' rule for a KV key.
func validKey(k string) bool {
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for _, r := range k {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && !strings.ContainsRune("-/_=.", r) {
			return false
		}
	}
	return true
}

func TestDecodeNodeAndPull(t *testing.T) {
	ni := NodeInfo{Name: "a", Addr: "1.2.3.4:5", Session: "s", Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Watchers: 3, Channels: 2, Pulls: 1}
	got, err := decodeNode(nodeKey("a"), encodeNode(ni))
	if err != nil || got != ni {
		t.Fatalf("decodeNode = %+v, %v", got, err)
	}
	if _, err := decodeNode(nodeKey("b"), encodeNode(ni)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("node record under another name = %v", err)
	}
	k := Key{"u", "c"}
	p, err := decodePull(k, pullKey(k, "b"), encodePull("b", "s", "a", 0))
	if err != nil || p != (Pull{Node: "b", Upstream: "a"}) {
		t.Fatalf("decodePull = %+v, %v", p, err)
	}
	for _, bad := range []struct{ key, data string }{
		{pullKey(k, "c"), string(encodePull("b", "s", "a", 0))},             // under another node
		{pullKey(Key{"u", "d"}, "b"), string(encodePull("b", "s", "a", 0))}, // another channel
		{pullKey(k, "b"), string(encodePull("b", "s", "b", 0))},             // from itself
		{pullKey(k, "b"), string(encodePull("b", "", "a", 0))},              // no session
	} {
		if _, err := decodePull(k, bad.key, []byte(bad.data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodePull(%s, %s) = %v, want ErrMalformed", bad.key, bad.data, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, c := range recordCases {
		f.Add(c.key, []byte(c.data))
	}
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		e, err := decodeEntry(key, 1, data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Anything accepted is a valid entry that survives a round trip.
		if e.Key.Validate() != nil || CheckAdvertise(e.OriginAddr) != nil || e.Session == "" {
			t.Fatalf("accepted an invalid entry %+v", e)
		}
		again, err := decodeEntry(key, 1, encodeEntry(e))
		if err != nil || !again.Start.Equal(e.Start) {
			t.Fatalf("round trip of %+v: %+v, %v", e, again, err)
		}
		again.Start = e.Start
		if again != e {
			t.Fatalf("round trip of %+v: %+v", e, again)
		}
	})
}
