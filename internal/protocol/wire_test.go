package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// h decodes spaced hex ("00 00 00 05 00") into raw bytes. The tables below
// write frame headers this way so the expected bytes are stated
// independently of the encoder under test.
func h(s string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic("bad hex in test table: " + s)
	}
	return string(b)
}

// wireCase is one known frame: its exact bytes, the text they carry and,
// when the text is a handshake or a status reply, the value it parses to.
type wireCase struct {
	name   string
	wire   string // the frame exactly as it travels
	text   string
	req    *Request // non-nil: text is a handshake that parses to *req
	status *Status  // non-nil: text is a status reply that parses to *status
}

// wireCases is the one table of known bytes <-> values. It drives the
// encode test, the decode tests and every fuzz target's seed corpus.
var wireCases = []wireCase{
	{
		name: "empty",
		wire: h("00 00 00 00 00"),
		text: "",
	},
	{
		name: "hello",
		wire: h("00 00 00 05 00 68 65 6c 6c 6f"),
		text: "hello",
	},
	{
		name:   "ok",
		wire:   h("00 00 00 02 00 6f 6b"),
		text:   "ok",
		status: &Status{OK: true},
	},
	{
		name: "utf8 name",
		wire: h("00 00 00 05 00 6a c3 b6 72 67"),
		text: "jörg",
	},
	{
		name: "watch",
		wire: h("00 00 00 30 00") + "watch,user=fier,channel=cam,channel-password=123",
		text: "watch,user=fier,channel=cam,channel-password=123",
		req: &Request{
			Command: CommandWatch, User: "fier", Channel: "cam", ChannelPassword: "123",
			Params: map[string]string{"user": "fier", "channel": "cam", "channel-password": "123"},
		},
	},
	{
		name: "watch with ack",
		wire: h("00 00 00 36 00 77 61 74 63 68 2c 75 73 65 72 3d 66 69 65 72 2c 63 68 61 6e 6e 65 6c 3d 63 61 6d 2c 63 68 61 6e 6e 65 6c 2d 70 61 73 73 77 6f 72 64 3d 31 32 33 2c 61 63 6b 3d 31"),
		text: "watch,user=fier,channel=cam,channel-password=123,ack=1",
		req: &Request{
			Command: CommandWatch, User: "fier", Channel: "cam", ChannelPassword: "123", Ack: true,
			Params: map[string]string{"user": "fier", "channel": "cam", "channel-password": "123", "ack": "1"},
		},
	},
	{
		name: "broadcast",
		wire: h("00 00 00 50 00") + "broadcast,user=fier,user-password=123,delay=0.1,channel=cam,channel-password=456",
		text: "broadcast,user=fier,user-password=123,delay=0.1,channel=cam,channel-password=456",
		req: &Request{
			Command: CommandBroadcast, User: "fier", UserPassword: "123", Channel: "cam", ChannelPassword: "456",
			Delay: 100 * time.Millisecond,
			Params: map[string]string{
				"user": "fier", "user-password": "123", "delay": "0.1", "channel": "cam", "channel-password": "456",
			},
		},
	},
	{
		name: "watch default channel",
		wire: h("00 00 00 0f 00") + "watch,user=fier",
		text: "watch,user=fier",
		req: &Request{
			Command: CommandWatch, User: "fier", Channel: DefaultChannel,
			Params: map[string]string{"user": "fier"},
		},
	},
	{
		name:   "error not-found",
		wire:   h("00 00 00 3b 00") + "error,reason=not-found,message=channel fier/cam is not live",
		text:   "error,reason=not-found,message=channel fier/cam is not live",
		status: &Status{Reason: ReasonNotFound, Message: "channel fier/cam is not live"},
	},
	{
		name:   "waiting",
		wire:   h("00 00 00 07 00 77 61 69 74 69 6e 67"),
		text:   "waiting",
		status: &Status{Waiting: true},
	},
	{
		name:   "end taken-over",
		wire:   h("00 00 00 4b 00") + "error,reason=taken-over,message=taken over by a new broadcaster of fier/cam",
		text:   "error,reason=taken-over,message=taken over by a new broadcaster of fier/cam",
		status: &Status{Reason: ReasonTakenOver, Message: "taken over by a new broadcaster of fier/cam"},
	},
	{
		name:   "error with commas in message",
		wire:   h("00 00 00 41 00") + "error,reason=bad-request,message=delay=11 is out of range, max 10",
		text:   "error,reason=bad-request,message=delay=11 is out of range, max 10",
		status: &Status{Reason: ReasonBadRequest, Message: "delay=11 is out of range, max 10"},
	},
}

// TestWireConstants pins every value that is part of the wire format. A
// change here breaks compatibility with deployed clients and servers.
func TestWireConstants(t *testing.T) {
	ints := []struct {
		name      string
		got, want int64
	}{
		{"HeaderSize", HeaderSize, 5},
		{"DefaultMaxText", DefaultMaxText, 65536},
		{"MaxTextLimit", MaxTextLimit, 1 << 24},
		{"headerMarker", headerMarker, 0},
		{"MaxNameLen", MaxNameLen, 255},
		{"MaxDelay", int64(MaxDelay), int64(10 * time.Second)},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}

	strs := []struct{ got, want string }{
		{string(CommandWatch), "watch"},
		{string(CommandBroadcast), "broadcast"},
		{KeyUser, "user"},
		{KeyUserPassword, "user-password"},
		{KeyChannel, "channel"},
		{KeyChannelPassword, "channel-password"},
		{KeyDelay, "delay"},
		{KeyAck, "ack"},
		{KeyWait, "wait"},
		{statusWaiting, "waiting"},
		{Status{Waiting: true}.Text(), "waiting"},
		{DefaultChannel, "default"},
		{statusOK, "ok"},
		{OKStatus.Text(), "ok"},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("constant = %q, want %q", c.got, c.want)
		}
	}

	wantReasons := []string{"bad-request", "unauthorized", "not-found", "forbidden", "busy", "too-large"}
	if len(Reasons) != len(wantReasons) {
		t.Fatalf("Reasons has %d codes, want %d: %v", len(Reasons), len(wantReasons), Reasons)
	}
	for i, r := range []Reason{ReasonBadRequest, ReasonUnauthorized, ReasonNotFound, ReasonForbidden, ReasonBusy, ReasonTooLarge} {
		if string(r) != wantReasons[i] {
			t.Errorf("reason %d = %q, want %q", i, r, wantReasons[i])
		}
		if Reasons[i] != r {
			t.Errorf("Reasons[%d] = %q, want %q (documentation order)", i, Reasons[i], r)
		}
		if !r.Known() {
			t.Errorf("%q.Known() = false", r)
		}
	}
	wantEnd := []string{"taken-over", "kicked", "shutdown"}
	if len(EndReasons) != len(wantEnd) {
		t.Fatalf("EndReasons has %d codes, want %d: %v", len(EndReasons), len(wantEnd), EndReasons)
	}
	for i, r := range []Reason{ReasonTakenOver, ReasonKicked, ReasonShutdown} {
		if string(r) != wantEnd[i] || EndReasons[i] != r || !r.Known() {
			t.Errorf("end reason %d = %q (EndReasons[%d] = %q, known %v), want %q", i, r, i, EndReasons[i], r.Known(), wantEnd[i])
		}
	}
	if Reason("teapot").Known() || Reason("").Known() {
		t.Error("Known() accepts a code this version does not define")
	}

	// A plain handshake must start with 0x00 so that TLS (0x16) and plain
	// clients can share a port: every accepted length is below 1<<24.
	if hdr := EncodeFrame(strings.Repeat("x", 1000)); hdr[0] != 0x00 {
		t.Errorf("first byte of a frame = 0x%02x, want 0x00", hdr[0])
	}
}

// TestWireCasesHeaders checks the table itself: each wire string starts
// with a header announcing exactly the text that follows.
func TestWireCasesHeaders(t *testing.T) {
	for _, c := range wireCases {
		if len(c.wire) != HeaderSize+len(c.text) || c.wire[HeaderSize:] != c.text {
			t.Errorf("%s: table entry is inconsistent: wire %q, text %q", c.name, c.wire, c.text)
		}
	}
}

// TestProtocolDocExamples checks the hex dumps in docs/PROTOCOL.md: each is
// one well-formed frame whose text parses as a request or a status.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "PROTOCOL.md"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("docs/PROTOCOL.md not found")
	}
	if err != nil {
		t.Fatal(err)
	}
	// A dump line: 8 hex digits of offset, two spaces, up to 16 hex bytes.
	line := regexp.MustCompile(`^[0-9a-f]{8}  ((?:[0-9a-f]{2} ?)+)\s+\|`)
	var frames [][]byte
	var cur []byte
	for _, l := range strings.Split(string(doc), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			if cur != nil {
				frames = append(frames, cur)
				cur = nil
			}
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
		if err != nil {
			t.Fatalf("bad dump line %q: %v", l, err)
		}
		cur = append(cur, b...)
	}
	if len(frames) < 3 {
		t.Fatalf("found %d hex dumps in docs/PROTOCOL.md, want at least 3", len(frames))
	}
	for _, frame := range frames {
		text, err := ReadFrame(bytes.NewReader(frame), DefaultMaxText)
		if err != nil || len(frame) != HeaderSize+len(text) {
			t.Errorf("dump % x: ReadFrame = %q, %v; want one whole frame", frame, text, err)
			continue
		}
		_, rerr := ParseRequest(text)
		_, serr := ParseStatus(text)
		if rerr != nil && serr != nil {
			t.Errorf("dump text %q is neither a request (%v) nor a status (%v)", text, rerr, serr)
		}
	}
}
