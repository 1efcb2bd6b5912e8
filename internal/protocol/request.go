package protocol

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Command is the first field of a handshake.
type Command string

// The commands a client can send.
const (
	CommandWatch     Command = "watch"
	CommandBroadcast Command = "broadcast"
	// CommandToken asks for a one-time broadcast token in exchange for
	// user and user-password; the "ok" status carries token= and
	// expires-in= (seconds). Always answered with a status frame.
	CommandToken Command = "token"
)

// Keys of the handshake text.
const (
	KeyUser            = "user"
	KeyUserPassword    = "user-password"
	KeyChannel         = "channel"
	KeyChannelPassword = "channel-password"
	KeyDelay           = "delay"
	KeyAck             = "ack"
	// KeyToken replaces user-password in a broadcast: a one-time token
	// from a "token" request.
	KeyToken = "token"
	// KeyJoin is a watcher's join policy: gop, keyframe or live.
	KeyJoin = "join"
	// KeyBufsize makes a generic stream's new watchers start at multiples
	// of this many bytes (the later original's chunk-aligned joins).
	KeyBufsize = "bufsize"
	// KeyExpiresIn is the token's lifetime in seconds, in the ok status
	// that answers a token request.
	KeyExpiresIn = "expires-in"
	// KeyWait, set to 1 by a watcher, asks a server to hold the connection
	// while the channel is not live instead of refusing it: the server
	// answers "waiting" (with ack=1) and then "ok" once a broadcaster
	// arrives. Servers that predate it ignore it and refuse with not-found.
	KeyWait = "wait"
)

const (
	// DefaultChannel is the channel used when a request names none.
	DefaultChannel = "default"
	// MaxDelay is the largest delay a broadcaster may ask for.
	MaxDelay = 10 * time.Second
	// MaxNameLen is the longest user or channel name, in bytes.
	MaxNameLen = 255
)

// Request is a parsed handshake.
type Request struct {
	Command         Command
	User            string
	UserPassword    string
	Channel         string
	ChannelPassword string
	// Delay is how long the server may batch a broadcaster's bytes before
	// sending them to watchers; zero forwards at once.
	Delay time.Duration
	// Ack asks the server for a status frame before any stream byte.
	Ack bool
	// Params holds every key=value pair as sent, known keys included, so
	// that extensions can read keys this version does not interpret.
	Params map[string]string
}

// ParseRequest parses handshake text. Errors wrap ErrBadRequest or ErrBadName
// and say which field is wrong.
func ParseRequest(text string) (Request, error) {
	if !utf8.ValidString(text) {
		return Request{}, ErrNotUTF8
	}
	fields := strings.Split(text, ",")
	req := Request{
		Command: Command(fields[0]),
		Channel: DefaultChannel,
		Params:  make(map[string]string, len(fields)-1),
	}
	switch req.Command {
	case CommandWatch, CommandBroadcast, CommandToken:
	case "":
		return Request{}, fmt.Errorf("%w: empty command, want watch or broadcast", ErrBadRequest)
	default:
		return Request{}, fmt.Errorf("%w: unknown command %q, want watch, broadcast or token", ErrBadRequest, truncate(fields[0]))
	}
	for i, f := range fields {
		if i == 0 || f == "" {
			continue // the command; tolerate "a=1,,b=2" and a trailing comma
		}
		key, value, ok := strings.Cut(f, "=")
		if !ok {
			return Request{}, fmt.Errorf("%w: %s is not key=value (a value cannot contain a comma)", ErrBadRequest, describeField(i, f))
		}
		req.Params[key] = value
	}
	p := req.Params
	req.User = p[KeyUser]
	req.UserPassword = p[KeyUserPassword]
	req.ChannelPassword = p[KeyChannelPassword]
	if c, ok := p[KeyChannel]; ok {
		req.Channel = c
	}
	if _, ok := p[KeyUser]; !ok {
		return Request{}, fmt.Errorf("%w: missing %s=", ErrBadRequest, KeyUser)
	}
	if err := ValidateName(req.User); err != nil {
		return Request{}, fmt.Errorf("user: %w", err)
	}
	if err := ValidateName(req.Channel); err != nil {
		return Request{}, fmt.Errorf("channel: %w", err)
	}
	if v, ok := p[KeyDelay]; ok {
		d, err := ParseDelay(v)
		if err != nil {
			return Request{}, err
		}
		req.Delay = d
	}
	if v, ok := p[KeyAck]; ok {
		ack, err := parseBool(v)
		if err != nil {
			return Request{}, fmt.Errorf("%w: %s: %w", ErrBadRequest, describeValue(KeyAck, v), err)
		}
		req.Ack = ack
	}
	return req, nil
}

// ParseDelay parses a delay in decimal seconds, from 0 to MaxDelay.
func ParseDelay(v string) (time.Duration, error) {
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("%w: %s is not a number of seconds", ErrBadRequest, describeValue(KeyDelay, v))
	}
	if secs < 0 || secs > MaxDelay.Seconds() {
		return 0, fmt.Errorf("%w: %s is out of range 0 to %g seconds", ErrBadRequest, describeValue(KeyDelay, v), MaxDelay.Seconds())
	}
	// Round, not truncate: 0.256666641 s is 256666640.99… ns in float64, and
	// truncating would make Request.Text and ParseRequest disagree.
	return time.Duration(math.Round(secs * float64(time.Second))), nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("want 1 or 0")
}

// Text encodes the request as handshake text. Known fields come from the
// struct; Params supplies any other keys (in sorted order). It fails if a
// value cannot be carried by the format (a comma, or an '=' in a key).
func (r Request) Text() (string, error) {
	var b strings.Builder
	b.WriteString(string(r.Command))
	add := func(k, v string) error {
		if strings.Contains(v, ",") {
			return fmt.Errorf("%w: %s cannot contain a comma", ErrBadRequest, k)
		}
		if k == "" || strings.ContainsAny(k, ",=") {
			return fmt.Errorf("%w: bad key %q", ErrBadRequest, k)
		}
		b.WriteByte(',')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		return nil
	}
	// ack goes first so that a server refusing an over-long handshake can
	// still find it in the part it reads (see AckRequested).
	known := []struct {
		key, value string
		set        bool
	}{
		{KeyAck, "1", r.Ack},
		{KeyUser, r.User, true},
		{KeyUserPassword, r.UserPassword, r.UserPassword != ""},
		{KeyDelay, formatDelay(r.Delay), r.Delay != 0},
		{KeyChannel, r.Channel, r.Channel != ""},
		{KeyChannelPassword, r.ChannelPassword, r.ChannelPassword != ""},
	}
	for _, f := range known {
		if f.set {
			if err := add(f.key, f.value); err != nil {
				return "", err
			}
		}
	}
	for _, k := range sortedKeys(r.Params) {
		switch k {
		case KeyUser, KeyUserPassword, KeyDelay, KeyChannel, KeyChannelPassword, KeyAck:
			continue
		}
		if err := add(k, r.Params[k]); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func formatDelay(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// ValidateName reports whether s is a plain user or channel name: non-empty,
// at most MaxNameLen bytes of UTF-8, and never something a file system would
// read as a path (no '/', '\', NUL or control characters, not "." or "..").
// Invisible format characters (Unicode category Cf: bidi overrides such as
// U+202E, zero-width spaces such as U+200B) and line or paragraph
// separators are refused too: they would let one name pass for another on
// the status page and in logs.
func ValidateName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(s) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadName, MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadName)
	case s == "." || s == "..":
		return fmt.Errorf("%w: %q is not a name", ErrBadName, s)
	}
	for _, r := range s {
		if r == '/' || r == '\\' || isInvisible(r) {
			return fmt.Errorf("%w: %q contains %q; use letters, digits, '-', '_' or '.'", ErrBadName, truncate(s), r)
		}
	}
	return nil
}

// truncate keeps error messages short when a peer sends something huge.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// AckRequested reports whether handshake text that could not be parsed asks
// for a status reply, so that a server can say why it refuses. If truncated,
// text is only the start of an over-long handshake and its last field, which
// may be cut short, is ignored.
func AckRequested(text []byte, truncated bool) bool {
	ack, _ := FindAck(text, truncated)
	return ack
}

// isInvisible reports control characters (Cc), format characters (Cf) and
// line or paragraph separators (Zl, Zp): characters that change how the
// text around them looks rather than showing themselves.
func isInvisible(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
