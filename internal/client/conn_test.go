package client

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// TestDial checks that a Dial'ed connection is the stream after the
// status frame, bytes that came with "ok" included, in plain and TLS.
func TestDial(t *testing.T) {
	const stream = "stream bytes right behind the status frame, then more"
	handle := func(c net.Conn) {
		req := readHandshake(t, c)
		if req.Command != protocol.CommandWatch {
			t.Errorf("fake server: command %q", req.Command)
		}
		if _, err := c.Write(append(protocol.EncodeFrame("ok"), stream[:10]...)); err != nil {
			t.Errorf("fake server: %v", err)
			return
		}
		if _, err := c.Write([]byte(stream[10:])); err != nil {
			t.Errorf("fake server: %v", err)
		}
	}
	ca := newTestCA(t)
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"plain", opts(startFake(t, handle), watchReq)},
		{"tls", tlsOpts(startFakeTLS(t, ca, handle), ca, watchReq)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Request.Command = protocol.CommandWatch
			c, err := Dial(t.Context(), o)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if string(got) != stream {
				t.Errorf("read %q, want %q", got, stream)
			}
		})
	}
}

func TestDialErrors(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.Status{Reason: protocol.ReasonNotFound})
	})
	o := opts(addr, watchReq)
	o.Request.Command = protocol.CommandWatch
	_, err := Dial(t.Context(), o)
	var refused *protocol.RefusedError
	if !errors.As(err, &refused) || refused.Reason != protocol.ReasonNotFound {
		t.Errorf("Dial refused: %v, want a not-found refusal", err)
	}

	o.Request.Command = ""
	if _, err := Dial(t.Context(), o); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Dial without a command: %v, want ErrBadRequest", err)
	}
}
