package client

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

var tokenReq = protocol.Request{User: "fier", UserPassword: "hunter2"}

func TestRequestTokenBytes(t *testing.T) {
	const want = "token,ack=1,user=fier,user-password=hunter2"
	got := make(chan []byte, 1)
	addr := startFake(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		buf := make([]byte, protocol.HeaderSize+len(want))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Errorf("fake server: %v", err)
		}
		got <- buf
		sendStatus(t, c, protocol.Status{OK: true, Params: map[string]string{protocol.KeyToken: "T", protocol.KeyExpiresIn: "120"}})
	})
	token, expiresIn, err := RequestToken(t.Context(), opts(addr, tokenReq))
	if err != nil || token != "T" || expiresIn != 2*time.Minute {
		t.Fatalf("RequestToken = %q, %v, %v; want T, 2m0s", token, expiresIn, err)
	}
	if g, w := <-got, protocol.EncodeFrame(want); !bytes.Equal(g, w) {
		t.Errorf("handshake bytes\n got %q\nwant %q", g, w)
	}
}

func TestRequestTokenAnswers(t *testing.T) {
	const token = "Xp3Jw1cYqgq2QyE6mQ0n1Xv9yq3kq5y1h2m0c4y7Z8A"
	tests := []struct {
		name      string
		reply     string
		wantToken string
		wantTTL   time.Duration
		wantErr   error // nil, ErrNoAnswer or *protocol.RefusedError (refusal)
		refusal   protocol.Reason
	}{
		{name: "token and expiry", reply: "ok,expires-in=120,token=" + token, wantToken: token, wantTTL: 2 * time.Minute},
		{name: "fractional expiry", reply: "ok,expires-in=1.5,token=" + token, wantToken: token, wantTTL: 1500 * time.Millisecond},
		{name: "no expiry", reply: "ok,token=" + token, wantToken: token},
		{name: "unknown params ignored", reply: "ok,token=" + token + ",x-new=1", wantToken: token},
		{name: "ok without token", reply: "ok", wantErr: ErrNoAnswer},
		{name: "empty token", reply: "ok,token=,expires-in=120", wantErr: ErrNoAnswer},
		{name: "bad expiry", reply: "ok,token=T,expires-in=soon", wantErr: ErrNoAnswer},
		{name: "negative expiry", reply: "ok,token=T,expires-in=-1", wantErr: ErrNoAnswer},
		{name: "NaN expiry", reply: "ok,token=T,expires-in=NaN", wantErr: ErrNoAnswer},
		{name: "huge expiry", reply: "ok,token=T,expires-in=1e300", wantErr: ErrNoAnswer},
		{name: "refused", reply: "error,reason=unauthorized,message=wrong user or password", refusal: protocol.ReasonUnauthorized},
		{name: "old server", reply: "error,reason=bad-request,message=unknown command \"token\"", refusal: protocol.ReasonBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFake(t, func(c net.Conn) {
				req := readHandshake(t, c)
				if req.Command != protocol.CommandToken || req.User != "fier" || req.UserPassword != "hunter2" {
					t.Errorf("fake server got %+v", req)
				}
				if err := protocol.WriteFrame(c, tt.reply); err != nil {
					t.Errorf("fake server: %v", err)
				}
			})
			token, ttl, err := RequestToken(t.Context(), opts(addr, tokenReq))
			switch {
			case tt.refusal != "":
				refused, ok := errors.AsType[*protocol.RefusedError](err)
				if !ok || refused.Reason != tt.refusal {
					t.Fatalf("err = %v, want a %s refusal", err, tt.refusal)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil || token != tt.wantToken || ttl != tt.wantTTL {
					t.Fatalf("RequestToken = %q, %v, %v; want %q, %v", token, ttl, err, tt.wantToken, tt.wantTTL)
				}
			}
			if err != nil && token != "" {
				t.Errorf("token %q returned with an error", token)
			}
		})
	}
}

func TestRequestTokenTLS(t *testing.T) {
	ca := newTestCA(t)
	addr := startFakeTLS(t, ca, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.Status{OK: true, Params: map[string]string{protocol.KeyToken: "T", protocol.KeyExpiresIn: "60"}})
	})
	token, ttl, err := RequestToken(t.Context(), tlsOpts(addr, ca, tokenReq))
	if err != nil || token != "T" || ttl != time.Minute {
		t.Fatalf("RequestToken = %q, %v, %v", token, ttl, err)
	}
}

func TestRequestTokenLocalErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"no password", Options{Addr: "127.0.0.1", Request: protocol.Request{User: "fier"}}, ErrBadRequest},
		{"no user", Options{Addr: "127.0.0.1", Request: protocol.Request{UserPassword: "x"}}, ErrBadRequest},
		{"watch request", Options{Addr: "127.0.0.1", Request: protocol.Request{Command: protocol.CommandWatch, User: "fier", UserPassword: "x"}}, ErrBadRequest},
		{"bad addr", Options{Addr: "ftp://127.0.0.1", Request: tokenReq}, ErrBadAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := RequestToken(t.Context(), tt.o); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
