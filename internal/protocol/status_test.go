package protocol

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// statusCases are status texts and what ParseStatus makes of them. They
// seed FuzzParseStatus together with the statuses in wireCases.
var statusCases = []struct {
	name string
	text string
	want Status
	err  error
}{
	{name: "ok", text: "ok", want: Status{OK: true}},
	{name: "no message", text: "error,reason=busy,message=", want: Status{Reason: ReasonBusy}},
	{name: "message key left out", text: "error,reason=busy", want: Status{Reason: ReasonBusy}},
	{name: "message with commas and =", text: "error,reason=forbidden,message=a, b=c, d", want: Status{Reason: ReasonForbidden, Message: "a, b=c, d"}},
	{name: "unicode message", text: "error,reason=not-found,message=kanal „jörg“ fehlt", want: Status{Reason: ReasonNotFound, Message: "kanal „jörg“ fehlt"}},
	// A newer server may send a code this version does not know; the
	// client still gets the reason and message to show.
	{name: "unknown reason", text: "error,reason=teapot,message=short and stout", want: Status{Reason: "teapot", Message: "short and stout"}},

	{name: "waiting", text: "waiting", want: Status{Waiting: true}},
	{name: "waiting with message", text: "waiting,message=channel fier/cam is not live, yet", want: Status{Waiting: true, Message: "channel fier/cam is not live, yet"}},
	{name: "waiting with a field", text: "waiting,x=1", err: ErrBadStatus},

	{name: "empty", text: "", err: ErrBadStatus},
	{name: "OK upper case", text: "OK", err: ErrBadStatus},
	{name: "ok with trailing space", text: "ok ", err: ErrBadStatus},
	{name: "ok with fields", text: "ok,expires-in=120,token=abc", want: Status{OK: true, Params: map[string]string{"token": "abc", "expires-in": "120"}}},
	{name: "ok with a bare field", text: "ok,x", err: ErrBadStatus},
	{name: "ok with an empty key", text: "ok,=1", err: ErrBadStatus},
	{name: "bare error", text: "error", err: ErrBadStatus},
	{name: "error without reason", text: "error,message=x", err: ErrBadStatus},
	{name: "empty reason", text: "error,reason=,message=x", err: ErrBadStatus},
	{name: "empty reason, nothing else", text: "error,reason=", err: ErrBadStatus},
	{name: "a handshake", text: "watch,user=u", err: ErrBadStatus},
}

func TestParseStatus(t *testing.T) {
	for _, c := range statusCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStatus(c.text)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("ParseStatus(%q) = %+v, %v; want error wrapping %v", c.text, got, err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseStatus(%q) = %+v, %v; want %+v", c.text, got, err, c.want)
			}
		})
	}
	for _, c := range wireCases {
		if c.status == nil {
			continue
		}
		if got, err := ParseStatus(c.text); err != nil || !reflect.DeepEqual(got, *c.status) {
			t.Errorf("%s: ParseStatus(%q) = %+v, %v; want %+v", c.name, c.text, got, err, *c.status)
		}
		if got := c.status.Text(); got != c.text {
			t.Errorf("%s: Text() = %q, want %q", c.name, got, c.text)
		}
	}
}

// TestStatusRoundTrip encodes ok and every reason, with a message that
// contains the separators, and parses it back.
func TestStatusRoundTrip(t *testing.T) {
	statuses := []Status{OKStatus}
	for _, r := range Reasons {
		statuses = append(statuses,
			Status{Reason: r},
			Status{Reason: r, Message: "channel fier/cam: wrong password, try again; reason=x,message=y"},
		)
	}
	for _, s := range statuses {
		text := s.Text()
		got, err := ParseStatus(text)
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("ParseStatus(%q) = %+v, %v; want %+v", text, got, err, s)
		}
		if s.OK != (text == "ok") {
			t.Errorf("Text() of %+v = %q", s, text)
		}
		if !s.OK && !strings.HasPrefix(text, "error,reason="+string(s.Reason)+",message=") {
			t.Errorf("Text() of %+v = %q, want error,reason=%s,message=...", s, text, s.Reason)
		}
	}
}

func TestStatusErr(t *testing.T) {
	if err := OKStatus.Err(); err != nil {
		t.Errorf("OKStatus.Err() = %v, want nil", err)
	}
	tests := []struct {
		status Status
		msg    string
	}{
		{Status{Reason: ReasonForbidden, Message: "wrong channel password"}, "server refused (forbidden): wrong channel password"},
		{Status{Reason: ReasonBusy}, "server refused: busy"},
		{Status{Reason: ReasonBadRequest, Message: "a, b"}, "server refused (bad-request): a, b"},
	}
	for _, tt := range tests {
		err := tt.status.Err()
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("Err() of %+v = %T, want *RefusedError", tt.status, err)
		}
		if refused.Reason != tt.status.Reason || refused.Message != tt.status.Message {
			t.Errorf("RefusedError = %+v, want reason %q message %q", refused, tt.status.Reason, tt.status.Message)
		}
		if err.Error() != tt.msg {
			t.Errorf("Error() = %q, want %q", err.Error(), tt.msg)
		}
	}
}

// statusSeeds lists every status text in the tables.
func statusSeeds() []string {
	var seeds []string
	for _, c := range wireCases {
		if c.status != nil {
			seeds = append(seeds, c.text)
		}
	}
	for _, c := range statusCases {
		seeds = append(seeds, c.text)
	}
	return seeds
}
