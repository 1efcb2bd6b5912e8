package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/client"
	"github.com/fstream/fstream/internal/protocol"
)

func ptr(s string) *string { return &s }

func TestBuildRequest(t *testing.T) {
	tests := []struct {
		name    string
		cmd     protocol.Command
		payload string
		o       overrides
		want    protocol.Request // Params are checked through the fields
		params  map[string]string
		wantErr string
	}{
		{
			name:    "payload with its command",
			cmd:     protocol.CommandWatch,
			payload: "watch,user=fier,channel=x",
			want:    protocol.Request{User: "fier", Channel: "x"},
		},
		{
			name:    "payload without its command",
			cmd:     protocol.CommandWatch,
			payload: "user=fier,channel=x,channel-password=123",
			want:    protocol.Request{User: "fier", Channel: "x", ChannelPassword: "123"},
		},
		{
			name: "flags only, default channel",
			cmd:  protocol.CommandWatch,
			o:    overrides{User: ptr("fier")},
			want: protocol.Request{User: "fier", Channel: protocol.DefaultChannel},
		},
		{
			name:    "flags override payload",
			cmd:     protocol.CommandBroadcast,
			payload: "broadcast,user=a,user-password=1,channel=c,channel-password=2,delay=1",
			o: overrides{
				User: ptr("b"), UserPassword: ptr("p"), Channel: ptr("d"),
				ChannelPassword: ptr("q"), Delay: ptr("0.25"),
			},
			want: protocol.Request{User: "b", UserPassword: "p", Channel: "d", ChannelPassword: "q", Delay: 250 * time.Millisecond},
		},
		{
			name:    "env password when nothing else gives one",
			cmd:     protocol.CommandBroadcast,
			payload: "user=fier",
			o:       overrides{EnvUserPassword: "env"},
			want:    protocol.Request{User: "fier", UserPassword: "env", Channel: protocol.DefaultChannel},
		},
		{
			name:    "payload password wins over env",
			cmd:     protocol.CommandBroadcast,
			payload: "user=fier,user-password=payload",
			o:       overrides{EnvUserPassword: "env"},
			want:    protocol.Request{User: "fier", UserPassword: "payload", Channel: protocol.DefaultChannel},
		},
		{
			name:    "flag password wins over env and payload",
			cmd:     protocol.CommandBroadcast,
			payload: "user=fier,user-password=payload",
			o:       overrides{UserPassword: ptr("flag"), EnvUserPassword: "env"},
			want:    protocol.Request{User: "fier", UserPassword: "flag", Channel: protocol.DefaultChannel},
		},
		{
			name:    "unknown keys kept, empty fields skipped, = in value",
			cmd:     protocol.CommandBroadcast,
			payload: "broadcast,user=fier,,x-quality=high,user-password=a=b,",
			want:    protocol.Request{User: "fier", UserPassword: "a=b", Channel: protocol.DefaultChannel},
			params:  map[string]string{"x-quality": "high"},
		},
		{
			name:    "token flag replaces the env password",
			cmd:     protocol.CommandBroadcast,
			payload: "user=fier",
			o:       overrides{Token: ptr("T0k"), EnvUserPassword: "env"},
			want:    protocol.Request{User: "fier", Channel: protocol.DefaultChannel},
			params:  map[string]string{"token": "T0k"},
		},
		{
			name:    "token in payload",
			cmd:     protocol.CommandBroadcast,
			payload: "broadcast,user=fier,token=T0k,channel=cam",
			o:       overrides{EnvUserPassword: "env"},
			want:    protocol.Request{User: "fier", Channel: "cam"},
			params:  map[string]string{"token": "T0k"},
		},
		{
			name:    "token flag wins over payload token",
			cmd:     protocol.CommandBroadcast,
			payload: "user=fier,token=old",
			o:       overrides{Token: ptr("new")},
			want:    protocol.Request{User: "fier", Channel: protocol.DefaultChannel},
			params:  map[string]string{"token": "new"},
		},
		{name: "token and flag password", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), UserPassword: ptr("pw"), Token: ptr("T")}, wantErr: "a token or a user password, not both"},
		{name: "token and payload password", cmd: protocol.CommandBroadcast, payload: "user=a,user-password=pw,token=T", wantErr: "a token or a user password, not both"},
		{name: "payload password equal to env and a token", cmd: protocol.CommandBroadcast, payload: "user=a,user-password=pw,token=T", o: overrides{EnvUserPassword: "pw"}, wantErr: "not both"},
		{name: "empty token", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), Token: ptr("")}, wantErr: "empty token"},
		{name: "comma in token", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), Token: ptr("a,b")}, wantErr: "--token cannot contain a comma"},
		{name: "token payload", cmd: protocol.CommandBroadcast, payload: "token,user=a", wantErr: `starts with "token"`},
		{name: "missing user", cmd: protocol.CommandWatch, payload: "channel=x", wantErr: "missing user"},
		{name: "empty payload no flags", cmd: protocol.CommandWatch, wantErr: "missing user"},
		{name: "bare command", cmd: protocol.CommandWatch, payload: "watch", wantErr: "missing user"},
		{name: "other command", cmd: protocol.CommandWatch, payload: "broadcast,user=a", wantErr: `starts with "broadcast"`},
		{name: "not key=value", cmd: protocol.CommandWatch, payload: "user=a,oops", wantErr: `field "oops" is not key=value`},
		{name: "not a payload", cmd: protocol.CommandWatch, payload: "hello", wantErr: `field "hello" is not key=value`},
		{name: "empty key", cmd: protocol.CommandWatch, payload: "user=a,=b", wantErr: "not key=value"},
		{name: "comma in flag password", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), UserPassword: ptr("x,y")}, wantErr: "--user-password cannot contain a comma"},
		{name: "comma in channel password", cmd: protocol.CommandWatch, o: overrides{User: ptr("a"), ChannelPassword: ptr("x,y")}, wantErr: "--channel-password cannot contain a comma"},
		{name: "comma in env password", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), EnvUserPassword: "x,y"}, wantErr: "FSTREAM_USER_PASSWORD cannot contain a comma"},
		{name: "empty user", cmd: protocol.CommandWatch, o: overrides{User: ptr("")}, wantErr: "user: protocol: bad name"},
		{name: "bad channel", cmd: protocol.CommandWatch, payload: "user=a,channel=../etc", wantErr: "channel: protocol: bad name"},
		{name: "delay out of range", cmd: protocol.CommandBroadcast, o: overrides{User: ptr("a"), Delay: ptr("11")}, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildRequest(tt.cmd, tt.payload, tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Command != tt.cmd {
				t.Errorf("Command = %q, want %q", got.Command, tt.cmd)
			}
			g, w := got, tt.want
			g.Command, g.Params, w.Command, w.Params = "", nil, "", nil
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got  %+v\nwant %+v", g, w)
			}
			for k, v := range tt.params {
				if got.Params[k] != v {
					t.Errorf("Params[%q] = %q, want %q", k, got.Params[k], v)
				}
			}
			if _, ok := tt.params[protocol.KeyToken]; ok {
				if _, ok := got.Params[protocol.KeyUserPassword]; ok {
					t.Errorf("a user password travels with the token: %v", got.Params)
				}
			}
		})
	}
}

// reqOf drops Params so that Requests compare with ==.
func reqOf(r protocol.Request) protocol.Request {
	r.Params = nil
	return r
}

func TestStreamFlags(t *testing.T) {
	const timeout = client.DefaultHandshakeTimeout
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantReq  protocol.Request
		timeout  time.Duration
	}{
		{
			name:     "watch flags",
			args:     []string{"watch", "127.0.0.1", "--user", "fier", "--channel", "cam", "--channel-password", "123"},
			wantAddr: "127.0.0.1:61920",
			wantReq:  protocol.Request{Command: protocol.CommandWatch, User: "fier", Channel: "cam", ChannelPassword: "123"},
		},
		{
			name:     "watch payload and timeout",
			args:     []string{"watch", "[::1]:1234", "user=fier,channel=cam", "--connect-timeout", "3s"},
			wantAddr: "[::1]:1234",
			wantReq:  protocol.Request{Command: protocol.CommandWatch, User: "fier", Channel: "cam"},
			timeout:  3 * time.Second,
		},
		{
			name:     "watch ignores the env password",
			args:     []string{"watch", "127.0.0.1", "--user", "fier"},
			env:      map[string]string{envUserPassword: "secret"},
			wantAddr: "127.0.0.1:61920",
			wantReq:  protocol.Request{Command: protocol.CommandWatch, User: "fier", Channel: protocol.DefaultChannel},
		},
		{
			name:     "broadcast flags",
			args:     []string{"broadcast", "example.com:7", "--user=fier", "--user-password=1", "--channel=cam", "--delay=0.1"},
			wantAddr: "example.com:7",
			wantReq:  protocol.Request{Command: protocol.CommandBroadcast, User: "fier", UserPassword: "1", Channel: "cam", Delay: 100 * time.Millisecond},
		},
		{
			name:     "broadcast env password",
			args:     []string{"broadcast", "127.0.0.1", "broadcast,user=fier"},
			env:      map[string]string{envUserPassword: "secret"},
			wantAddr: "127.0.0.1:61920",
			wantReq:  protocol.Request{Command: protocol.CommandBroadcast, User: "fier", UserPassword: "secret", Channel: protocol.DefaultChannel},
		},
		{
			name:     "broadcast flag password wins over env",
			args:     []string{"broadcast", "127.0.0.1", "--user", "fier", "--user-password", "flag"},
			env:      map[string]string{envUserPassword: "secret"},
			wantAddr: "127.0.0.1:61920",
			wantReq:  protocol.Request{Command: protocol.CommandBroadcast, User: "fier", UserPassword: "flag", Channel: protocol.DefaultChannel},
		},
		{
			name:     "legacy watch",
			args:     []string{"127.0.0.1:61920", "watch,user=fier,channel=x"},
			wantAddr: "127.0.0.1:61920",
			wantReq:  protocol.Request{Command: protocol.CommandWatch, User: "fier", Channel: "x"},
		},
		{
			name:     "legacy broadcast",
			args:     []string{"127.0.0.1", "broadcast,user=fier,user-password=1,delay=0.5,channel=x,channel-password=2"},
			wantAddr: "127.0.0.1:61920",
			wantReq: protocol.Request{Command: protocol.CommandBroadcast, User: "fier", UserPassword: "1",
				Delay: 500 * time.Millisecond, Channel: "x", ChannelPassword: "2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.args, tt.env)
			if r.code != exitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var c client.Options
			switch {
			case r.watch != nil && r.broadcast == nil:
				c = r.watch.Client
				if r.watch.Out == nil {
					t.Error("watch has no output")
				}
			case r.broadcast != nil && r.watch == nil:
				c = r.broadcast.Client
				if r.broadcast.In == nil {
					t.Error("broadcast has no input")
				}
			default:
				t.Fatalf("want exactly one of watch and broadcast to run: %+v", r)
			}
			if c.Addr != tt.wantAddr {
				t.Errorf("Addr = %q, want %q", c.Addr, tt.wantAddr)
			}
			if !reflect.DeepEqual(reqOf(c.Request), tt.wantReq) {
				t.Errorf("Request = %+v\nwant      %+v", reqOf(c.Request), tt.wantReq)
			}
			want := tt.timeout
			if want == 0 {
				want = timeout
			}
			if c.DialTimeout != want || c.HandshakeTimeout != want {
				t.Errorf("timeouts = %v, %v; want %v", c.DialTimeout, c.HandshakeTimeout, want)
			}
		})
	}
}

func TestLegacyKeepsUnknownKeys(t *testing.T) {
	r := parse(t, []string{"127.0.0.1", "watch,user=fier,x-new=1"}, nil)
	if r.watch == nil {
		t.Fatalf("watch did not run: exit %d, %q", r.code, r.stderr)
	}
	want := map[string]string{"user": "fier", "x-new": "1"}
	if !reflect.DeepEqual(r.watch.Client.Request.Params, want) {
		t.Errorf("Params = %v, want %v", r.watch.Client.Request.Params, want)
	}
}

func TestTLSFlags(t *testing.T) {
	ca := writeCA(t)
	tests := []struct {
		name     string
		args     []string
		wantAddr string
		wantTLS  bool
		insecure bool
		roots    bool // RootCAs set from --tls-ca
	}{
		{name: "plain", args: []string{"watch", "127.0.0.1", "--user", "u"}, wantAddr: "127.0.0.1:61920"},
		{name: "tls scheme", args: []string{"watch", "tls://example.com", "--user", "u"}, wantAddr: "tls://example.com:61920", wantTLS: true},
		{name: "tls flag", args: []string{"broadcast", "example.com:7", "--user", "u", "--tls"}, wantAddr: "tls://example.com:7", wantTLS: true},
		{name: "insecure implies tls", args: []string{"watch", "127.0.0.1", "--user", "u", "--tls-insecure"}, wantAddr: "tls://127.0.0.1:61920", wantTLS: true, insecure: true},
		{name: "ca implies tls", args: []string{"broadcast", "127.0.0.1", "--user", "u", "--tls-ca", ca}, wantAddr: "tls://127.0.0.1:61920", wantTLS: true, roots: true},
		{name: "scheme and flag", args: []string{"watch", "tls://[::1]:9", "--user", "u", "--tls"}, wantAddr: "tls://[::1]:9", wantTLS: true},
		{name: "legacy form", args: []string{"tls://127.0.0.1", "watch,user=u"}, wantAddr: "tls://127.0.0.1:61920", wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.args, nil)
			if r.code != exitOK {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var c client.Options
			if r.watch != nil {
				c = r.watch.Client
			} else {
				c = r.broadcast.Client
			}
			if c.Addr != tt.wantAddr {
				t.Errorf("Addr = %q, want %q", c.Addr, tt.wantAddr)
			}
			if (c.TLS != nil) != tt.wantTLS {
				t.Fatalf("TLS = %v, want TLS: %v", c.TLS, tt.wantTLS)
			}
			if c.TLS == nil {
				return
			}
			if c.TLS.InsecureSkipVerify != tt.insecure || (c.TLS.RootCAs != nil) != tt.roots {
				t.Errorf("TLS: insecure %v, roots %v; want %v, %v", c.TLS.InsecureSkipVerify, c.TLS.RootCAs != nil, tt.insecure, tt.roots)
			}
		})
	}
}

func TestTLSFlagErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"watch", "127.0.0.1", "--user", "u", "--tls-ca", "/nonexistent/ca.pem"}, "--tls-ca: open /nonexistent/ca.pem"},
		{[]string{"watch", "127.0.0.1", "--user", "u", "--tls-ca", notPEM}, "no PEM certificate"},
		{[]string{"watch", "127.0.0.1", "--user", "u", "--tls-ca", notPEM, "--tls-insecure"}, "exclude each other"},
		{[]string{"watch", "ftp://127.0.0.1", "--user", "u"}, `unknown scheme "ftp://"`},
		{[]string{"watch", "127.0.0.1", "--user", "u", "--token", "T"}, "unknown flag: --token"},
		{[]string{"broadcast", "127.0.0.1", "--user", "u", "--user-password", "p", "--token", "T"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := parse(t, tt.args, nil)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}
