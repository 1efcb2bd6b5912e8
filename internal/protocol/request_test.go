package protocol

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// requestCases are handshake texts and what ParseRequest makes of them.
// Accepted cases list only the fields that differ from a watch by "u" on the
// default channel; want.Params is checked only when set. They also seed
// FuzzParseRequest, together with the requests in wireCases.
var requestCases = []struct {
	name string
	text string
	want Request // when err is nil
	err  error
}{
	// Commands.
	{name: "watch", text: "watch,user=u", want: Request{Command: CommandWatch}},
	{name: "broadcast", text: "broadcast,user=u", want: Request{Command: CommandBroadcast}},
	{name: "empty text", text: "", err: ErrBadRequest},
	{name: "empty command", text: ",user=u", err: ErrBadRequest},
	{name: "unknown command", text: "listen,user=u", err: ErrBadRequest},
	{name: "commands are case-sensitive", text: "WATCH,user=u", err: ErrBadRequest},
	{name: "command with spaces", text: " watch,user=u", err: ErrBadRequest},

	// Every key.
	{
		name: "all keys",
		text: "broadcast,user=fier,user-password=pw,channel=cam,channel-password=cpw,delay=2.5,ack=1",
		want: Request{
			Command: CommandBroadcast, User: "fier", UserPassword: "pw", Channel: "cam",
			ChannelPassword: "cpw", Delay: 2500 * time.Millisecond, Ack: true,
			Params: map[string]string{
				"user": "fier", "user-password": "pw", "channel": "cam",
				"channel-password": "cpw", "delay": "2.5", "ack": "1",
			},
		},
	},
	{name: "keys in any order", text: "watch,ack=1,channel=cam,user=fier", want: Request{User: "fier", Channel: "cam", Ack: true}},
	{name: "value split on first =", text: "watch,user=u,channel-password=a=b=c", want: Request{ChannelPassword: "a=b=c"}},
	{name: "password with spaces and unicode", text: "watch,user=u,channel-password= pä ss ", want: Request{ChannelPassword: " pä ss "}},
	{name: "empty password", text: "watch,user=u,channel-password=", want: Request{}},
	{name: "last duplicate wins", text: "watch,user=a,user=u", want: Request{}},

	// user.
	{name: "missing user", text: "watch,channel=cam", err: ErrBadRequest},
	{name: "no fields", text: "watch", err: ErrBadRequest},
	{name: "empty user", text: "watch,user=", err: ErrBadName},
	{name: "unicode user", text: "watch,user=jörg", want: Request{User: "jörg"}},
	{name: "user of 255 bytes", text: "watch,user=" + strings.Repeat("u", 255), want: Request{User: strings.Repeat("u", 255)}},

	// channel.
	{name: "default channel", text: "watch,user=u", want: Request{Channel: "default"}},
	{name: "explicit channel", text: "watch,user=u,channel=cam", want: Request{Channel: "cam"}},
	{name: "empty channel", text: "watch,user=u,channel=", err: ErrBadName},
	{name: "dotted channel", text: "watch,user=u,channel=cam.1", want: Request{Channel: "cam.1"}},
	{name: "dots inside a name", text: "watch,user=..x", want: Request{User: "..x"}},

	// delay.
	{name: "delay 0", text: "broadcast,user=u,delay=0", want: Request{Command: CommandBroadcast}},
	{name: "delay 10", text: "broadcast,user=u,delay=10", want: Request{Command: CommandBroadcast, Delay: 10 * time.Second}},
	{name: "delay 0.1", text: "broadcast,user=u,delay=0.1", want: Request{Command: CommandBroadcast, Delay: 100 * time.Millisecond}},
	{name: "delay 10.1", text: "broadcast,user=u,delay=10.1", err: ErrBadRequest},
	{name: "delay -1", text: "broadcast,user=u,delay=-1", err: ErrBadRequest},
	{name: "delay NaN", text: "broadcast,user=u,delay=NaN", err: ErrBadRequest},
	{name: "delay inf", text: "broadcast,user=u,delay=inf", err: ErrBadRequest},
	{name: "delay abc", text: "broadcast,user=u,delay=abc", err: ErrBadRequest},
	{name: "delay empty", text: "broadcast,user=u,delay=", err: ErrBadRequest},
	{name: "delay huge", text: "broadcast,user=u,delay=1e300", err: ErrBadRequest},

	// ack.
	{name: "ack 1", text: "watch,user=u,ack=1", want: Request{Ack: true}},
	{name: "ack true", text: "watch,user=u,ack=true", want: Request{Ack: true}},
	{name: "ack TRUE", text: "watch,user=u,ack=TRUE", want: Request{Ack: true}},
	{name: "ack yes", text: "watch,user=u,ack=yes", want: Request{Ack: true}},
	{name: "ack on", text: "watch,user=u,ack=on", want: Request{Ack: true}},
	{name: "ack 0", text: "watch,user=u,ack=0", want: Request{}},
	{name: "ack false", text: "watch,user=u,ack=false", want: Request{}},
	{name: "ack no", text: "watch,user=u,ack=no", want: Request{}},
	{name: "ack off", text: "watch,user=u,ack=off", want: Request{}},
	{name: "ack empty", text: "watch,user=u,ack=", want: Request{}},
	{name: "ack 2", text: "watch,user=u,ack=2", err: ErrBadRequest},
	{name: "ack maybe", text: "watch,user=u,ack=maybe", err: ErrBadRequest},

	// Fields.
	{
		name: "unknown keys kept",
		text: "watch,user=u,colour=blue,x-future=1",
		want: Request{Params: map[string]string{"user": "u", "colour": "blue", "x-future": "1"}},
	},
	{name: "empty key kept", text: "watch,user=u,=v", want: Request{Params: map[string]string{"user": "u", "": "v"}}},
	{name: "empty fields", text: "watch,,user=u,,", want: Request{Params: map[string]string{"user": "u"}}},
	{name: "field without =", text: "watch,user=u,ack", err: ErrBadRequest},
	{name: "only a key", text: "watch,user", err: ErrBadRequest},
	{name: "not utf8", text: "watch,user=\xff", err: ErrNotUTF8},
	{name: "not utf8 in unknown key", text: "watch,user=u,x=\xc0\x80", err: ErrNotUTF8},
}

// badNames are user and channel names ParseRequest must refuse with
// ErrBadName: each would read as a path, or is not a name at all.
var badNames = []string{
	"",
	".",
	"..",
	"../x",
	"a/b",
	"/etc/passwd",
	`a\b`,
	`..\x`,
	"a\x00b",
	"a\nb",
	"a\tb",
	"\x7f",
	"a\u0085b",         // C1 control
	"cam\u202egnp.exe", // RIGHT-TO-LEFT OVERRIDE: shows as "camexe.png"
	"c\u200bam",        // ZERO WIDTH SPACE: shows as "cam"
	"\ufeffcam",        // BYTE ORDER MARK (format character)
	"cam\u2066",        // LEFT-TO-RIGHT ISOLATE
	"a\u2028b",         // LINE SEPARATOR
	"a\u2029b",         // PARAGRAPH SEPARATOR
	strings.Repeat("a", MaxNameLen+1),
	strings.Repeat("ö", MaxNameLen/2+1), // 256 bytes, 128 runes
}

func TestParseRequest(t *testing.T) {
	for _, c := range requestCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRequest(c.text)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("ParseRequest(%q) error = %v, want one wrapping %v", c.text, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", c.text, err)
			}
			want := withDefaults(c.want)
			if c.want.Params == nil {
				got.Params = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseRequest(%q)\n got %#v\nwant %#v", c.text, got, want)
			}
		})
	}
}

// TestParseRequestWire parses the handshakes of the shared wire table.
func TestParseRequestWire(t *testing.T) {
	for _, c := range wireCases {
		if c.req == nil {
			continue
		}
		got, err := ParseRequest(c.text)
		if err != nil {
			t.Errorf("%s: ParseRequest: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, *c.req) {
			t.Errorf("%s: ParseRequest\n got %#v\nwant %#v", c.name, got, *c.req)
		}
	}
}

func TestParseRequestBadNames(t *testing.T) {
	for _, name := range badNames {
		for _, text := range []string{
			"watch,user=" + name,
			"broadcast,user=u,channel=" + name,
		} {
			_, err := ParseRequest(text)
			if !errors.Is(err, ErrBadName) {
				t.Errorf("ParseRequest(%q) error = %v, want ErrBadName", text, err)
			}
		}
		if err := ValidateName(name); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q) = %v, want ErrBadName", name, err)
		}
	}
}

// TestParseRequestErrorsSayWhere checks that a refused field is named, so
// the message sent back in an error frame helps the client's user.
func TestParseRequestErrorsSayWhere(t *testing.T) {
	tests := []struct{ text, want string }{
		{"watch,user=a/b", "user"},
		{"watch,user=u,channel=..", "channel"},
		{"broadcast,user=u,delay=x", "delay"},
		{"watch,user=u,ack=2", "ack"},
		{"watch,channel=c", "user"},
		{"watch,user=u,junk", "field 3"},
		{"look,user=u", "look"},
	}
	for _, tt := range tests {
		_, err := ParseRequest(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRequest(%q) error = %v, want it to mention %q", tt.text, err, tt.want)
		}
	}
}

// TestParseRequestLongErrorTruncated keeps error messages short when a peer
// sends a huge bad field.
func TestParseRequestLongErrorTruncated(t *testing.T) {
	text := "watch,user=u," + strings.Repeat("x", 10000)
	_, err := ParseRequest(text)
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("error = %v, want ErrBadRequest", err)
	}
	if len(err.Error()) > 200 {
		t.Errorf("error message is %d bytes long, want it truncated", len(err.Error()))
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"u", "fier", "jörg", "cam-1_a.b", "..x", "x..", "a b", "日本", strings.Repeat("a", MaxNameLen)} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
}

func TestParseDelay(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"0.0", 0, true},
		{"-0", 0, true},
		{"0.001", time.Millisecond, true},
		{"0.25", 250 * time.Millisecond, true},
		{"10", 10 * time.Second, true},
		{"10.0", 10 * time.Second, true},
		{"10.000001", 0, false},
		{"10.1", 0, false},
		{"-1", 0, false},
		{"-0.001", 0, false},
		{"NaN", 0, false},
		{"+Inf", 0, false},
		{"-inf", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"1s", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDelay(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("ParseDelay(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if !tt.ok && !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseDelay(%q) = %v, %v; want ErrBadRequest", tt.in, got, err)
		}
	}
}

func TestRequestText(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{
			name: "watch from wire table",
			req:  Request{Command: CommandWatch, User: "fier", Channel: "cam", ChannelPassword: "123"},
			want: "watch,user=fier,channel=cam,channel-password=123",
		},
		{
			name: "broadcast from wire table",
			req: Request{
				Command: CommandBroadcast, User: "fier", UserPassword: "123",
				Delay: 100 * time.Millisecond, Channel: "cam", ChannelPassword: "456",
			},
			want: "broadcast,user=fier,user-password=123,delay=0.1,channel=cam,channel-password=456",
		},
		{
			// ack first, so a server that cuts an over-long handshake
			// still sees it; extras sorted after the known keys.
			name: "ack first, extras sorted last",
			req: Request{
				Command: CommandWatch, User: "u", Channel: "c", Ack: true,
				Params: map[string]string{"zz": "1", "aa": "2", "user": "ignored", "ack": "0"},
			},
			want: "watch,ack=1,user=u,channel=c,aa=2,zz=1",
		},
		{
			name: "empty channel omitted",
			req:  Request{Command: CommandWatch, User: "u"},
			want: "watch,user=u",
		},
	}
	for _, tt := range tests {
		got, err := tt.req.Text()
		if err != nil || got != tt.want {
			t.Errorf("%s: Text() = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestRequestTextErrors(t *testing.T) {
	for name, req := range map[string]Request{
		"comma in user":          {Command: CommandWatch, User: "a,b"},
		"comma in password":      {Command: CommandWatch, User: "u", ChannelPassword: "p,w"},
		"comma in extra value":   {Command: CommandWatch, User: "u", Params: map[string]string{"x": "1,2"}},
		"empty extra key":        {Command: CommandWatch, User: "u", Params: map[string]string{"": "v"}},
		"= in extra key":         {Command: CommandWatch, User: "u", Params: map[string]string{"a=b": "v"}},
		"comma in extra key":     {Command: CommandWatch, User: "u", Params: map[string]string{"a,b": "v"}},
		"comma in channel":       {Command: CommandWatch, User: "u", Channel: "c,d"},
		"comma in user password": {Command: CommandBroadcast, User: "u", UserPassword: ",,"},
	} {
		if got, err := req.Text(); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: Text() = %q, %v; want ErrBadRequest", name, got, err)
		}
	}
}

// TestRequestRoundTrip encodes every accepted request of the tables and
// parses it back.
func TestRequestRoundTrip(t *testing.T) {
	for _, text := range requestSeeds() {
		req, err := ParseRequest(text)
		if err != nil {
			continue
		}
		enc, err := req.Text()
		if err != nil {
			continue // an empty key cannot be re-encoded
		}
		back, err := ParseRequest(enc)
		if err != nil {
			t.Errorf("ParseRequest(%q) (from %q): %v", enc, text, err)
			continue
		}
		if !sameRequest(req, back) {
			t.Errorf("round trip of %q through %q:\n got %#v\nwant %#v", text, enc, back, req)
		}
	}
}

// withDefaults fills the fields a requestCases entry leaves out.
func withDefaults(r Request) Request {
	if r.Command == "" {
		r.Command = CommandWatch
	}
	if r.User == "" {
		r.User = "u"
	}
	if r.Channel == "" {
		r.Channel = DefaultChannel
	}
	return r
}

// sameRequest reports whether a and b mean the same request. Params may
// differ in known keys: Text writes those from the struct fields, omitting
// zero values ("delay=0", "ack=0").
func sameRequest(a, b Request) bool {
	pa, pb := maps.Clone(a.Params), maps.Clone(b.Params)
	for _, k := range []string{KeyUser, KeyUserPassword, KeyChannel, KeyChannelPassword, KeyDelay, KeyAck} {
		delete(pa, k)
		delete(pb, k)
	}
	a.Params, b.Params = nil, nil
	return reflect.DeepEqual(a, b) && maps.Equal(pa, pb)
}

// requestSeeds lists every handshake text in the tables.
func requestSeeds() []string {
	var seeds []string
	for _, c := range wireCases {
		if c.req != nil {
			seeds = append(seeds, c.text)
		}
	}
	for _, c := range requestCases {
		seeds = append(seeds, c.text)
	}
	for _, name := range badNames {
		seeds = append(seeds, "watch,user="+name)
	}
	return seeds
}
