package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fstream/fstream/internal/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ioTimeout fails a fake server's I/O fast instead of hanging the test.
const ioTimeout = 10 * time.Second

// startFake runs a fake fstream server on 127.0.0.1:0 that calls handle for
// each connection, and returns its address. Cleanup closes the listener and
// waits for every handler; handlers end when the client closes its side.
func startFake(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln, handle)
}

// serveFake is startFake on a given listener.
func serveFake(t *testing.T, ln net.Listener, handle func(c net.Conn)) string {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readHandshake reads the client's handshake frame under a deadline.
func readHandshake(t *testing.T, c net.Conn) protocol.Request {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	defer c.SetReadDeadline(time.Time{})
	text, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
	if err != nil {
		t.Errorf("fake server: read handshake: %v", err)
		return protocol.Request{}
	}
	req, err := protocol.ParseRequest(text)
	if err != nil {
		t.Errorf("fake server: parse handshake %q: %v", text, err)
	}
	if !req.Ack {
		t.Errorf("fake server: handshake %q has no ack=1", text)
	}
	return req
}

func sendStatus(t *testing.T, c net.Conn, st protocol.Status) {
	t.Helper()
	if err := protocol.WriteFrame(c, st.Text()); err != nil {
		t.Errorf("fake server: %v", err)
	}
}

// waitClose blocks until the client closes the connection.
func waitClose(c net.Conn) { io.Copy(io.Discard, c) }

func streamData(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}

func opts(addr string, req protocol.Request) Options {
	return Options{Addr: addr, Request: req}
}

var watchReq = protocol.Request{User: "fier", Channel: "cam"}

func TestHandshakeBytes(t *testing.T) {
	tests := []struct {
		name      string
		broadcast bool
		req       protocol.Request
		want      string
	}{
		{
			name: "watch",
			req:  protocol.Request{User: "fier", Channel: "cam", ChannelPassword: "123"},
			want: "watch,ack=1,user=fier,channel=cam,channel-password=123",
		},
		{
			name: "watch command given",
			req:  protocol.Request{Command: protocol.CommandWatch, User: "fier", Channel: "cam"},
			want: "watch,ack=1,user=fier,channel=cam",
		},
		{
			name:      "broadcast with delay and unknown keys",
			broadcast: true,
			req: protocol.Request{
				User: "fier", UserPassword: "1", Delay: 100 * time.Millisecond,
				Channel: "cam", ChannelPassword: "456",
				Params: map[string]string{"x-extra": "y", "ack": "0", "user": "ignored"},
			},
			want: "broadcast,ack=1,user=fier,user-password=1,delay=0.1,channel=cam,channel-password=456,x-extra=y",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan []byte, 1)
			addr := startFake(t, func(c net.Conn) {
				c.SetReadDeadline(time.Now().Add(ioTimeout))
				buf := make([]byte, protocol.HeaderSize+len(tt.want))
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Errorf("fake server: %v", err)
				}
				got <- buf
				sendStatus(t, c, protocol.Status{Reason: protocol.ReasonBusy})
			})
			var err error
			if tt.broadcast {
				err = Broadcast(t.Context(), opts(addr, tt.req), failReader{t})
			} else {
				err = Watch(t.Context(), opts(addr, tt.req), io.Discard)
			}
			if _, ok := errors.AsType[*protocol.RefusedError](err); !ok {
				t.Fatalf("err = %v, want the fake server's refusal", err)
			}
			if g, w := <-got, protocol.EncodeFrame(tt.want); !bytes.Equal(g, w) {
				t.Errorf("handshake bytes\n got %q\nwant %q", g, w)
			}
		})
	}
}

// transport is how a test's client reaches its fake server: plain TCP or
// TLS. Tests that hold for both run over each.
type transport struct {
	name string
	// start runs a fake server that calls handle for each connection and
	// returns its address.
	start func(t *testing.T, handle func(c net.Conn)) string
	// opts returns the client's options for the fake server at addr.
	opts func(addr string, req protocol.Request) Options
}

// transports returns plain TCP and TLS (with a CA made for the test).
func transports(t *testing.T) []transport {
	ca := newTestCA(t)
	return []transport{
		{name: "plain", start: startFake, opts: opts},
		{
			name:  "tls",
			start: func(t *testing.T, handle func(net.Conn)) string { return startFakeTLS(t, ca, handle) },
			opts:  func(addr string, req protocol.Request) Options { return tlsOpts(addr, ca, req) },
		},
	}
}

func TestWatchDeliversStream(t *testing.T) {
	data := streamData(8 << 20)
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			handshakes := make(chan string, 1)
			addr := tr.start(t, func(c net.Conn) {
				c.SetDeadline(time.Now().Add(ioTimeout))
				text, err := protocol.ReadFrame(c, protocol.DefaultMaxText)
				if err != nil {
					t.Errorf("fake server: %v", err)
					return
				}
				handshakes <- text
				sendStatus(t, c, protocol.OKStatus)
				// Odd-sized writes so the client sees chunk boundaries that
				// do not match its buffer.
				for rest := data; len(rest) > 0; {
					n := min(len(rest), 65521)
					if _, err := c.Write(rest[:n]); err != nil {
						t.Errorf("fake server: %v", err)
						return
					}
					rest = rest[n:]
				}
			})
			h := sha256.New()
			cw := &countWriter{w: h}
			if err := Watch(t.Context(), tr.opts(addr, watchReq), cw); err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if got, want := <-handshakes, "watch,ack=1,user=fier,channel=cam"; got != want {
				t.Errorf("handshake %q, want %q", got, want)
			}
			if cw.n != len(data) {
				t.Fatalf("got %d bytes, want %d", cw.n, len(data))
			}
			if got, want := h.Sum(nil), sha256.Sum256(data); !bytes.Equal(got, want[:]) {
				t.Fatalf("sha256 mismatch")
			}
		})
	}
}

func TestWatchKeepsBytesAfterOK(t *testing.T) {
	const stream = "\x47first packet right behind the status frame"
	reply := append(protocol.EncodeFrame("ok"), stream...)
	tests := []struct {
		name  string
		chunk int
	}{
		{"one segment", len(reply)},
		{"byte by byte", 1},
		{"split in the header", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFake(t, func(c net.Conn) {
				readHandshake(t, c)
				for rest := reply; len(rest) > 0; {
					n := min(len(rest), tt.chunk)
					if _, err := c.Write(rest[:n]); err != nil {
						t.Errorf("fake server: %v", err)
						return
					}
					rest = rest[n:]
				}
			})
			var out bytes.Buffer
			if err := Watch(t.Context(), opts(addr, watchReq), &out); err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if out.String() != stream {
				t.Fatalf("got %q, want %q", out.String(), stream)
			}
		})
	}
}

func TestBroadcastDeliversStream(t *testing.T) {
	data := streamData(8 << 20)
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			sums := make(chan [sha256.Size]byte, 1)
			addr := tr.start(t, func(c net.Conn) {
				req := readHandshake(t, c)
				if req.Command != protocol.CommandBroadcast || req.UserPassword != "1" {
					t.Errorf("fake server got %+v", req)
				}
				sendStatus(t, c, protocol.OKStatus)
				c.SetReadDeadline(time.Now().Add(ioTimeout))
				h := sha256.New()
				n, err := io.Copy(h, c)
				if err != nil || n != int64(len(data)) {
					t.Errorf("fake server: got %d bytes, %v; want %d", n, err, len(data))
				}
				sums <- [sha256.Size]byte(h.Sum(nil))
			})
			req := protocol.Request{User: "fier", UserPassword: "1", Channel: "cam"}
			if err := Broadcast(t.Context(), tr.opts(addr, req), onlyReader{bytes.NewReader(data)}); err != nil {
				t.Fatalf("Broadcast: %v", err)
			}
			// Broadcast returned after the server closed, so the sum is ready.
			select {
			case got := <-sums:
				if got != sha256.Sum256(data) {
					t.Fatal("sha256 mismatch")
				}
			default:
				t.Fatal("Broadcast returned before the server had read the stream")
			}
		})
	}
}

func TestRefused(t *testing.T) {
	const msg = "no, really: no"
	for _, reason := range protocol.Reasons {
		for _, broadcast := range []bool{false, true} {
			name := string(reason) + "/watch"
			if broadcast {
				name = string(reason) + "/broadcast"
			}
			t.Run(name, func(t *testing.T) {
				addr := startFake(t, func(c net.Conn) {
					readHandshake(t, c)
					sendStatus(t, c, protocol.Status{Reason: reason, Message: msg})
				})
				var err error
				if broadcast {
					// failReader proves stdin is not read before the answer.
					err = Broadcast(t.Context(), opts(addr, watchReq), failReader{t})
				} else {
					err = Watch(t.Context(), opts(addr, watchReq), io.Discard)
				}
				refused, ok := errors.AsType[*protocol.RefusedError](err)
				if !ok {
					t.Fatalf("err = %v, want a *protocol.RefusedError", err)
				}
				if refused.Reason != reason || refused.Message != msg {
					t.Errorf("got %+v, want reason %s and message %q", refused, reason, msg)
				}
			})
		}
	}
}

func TestHandshakeTimeout(t *testing.T) {
	addr := startFake(t, waitClose)
	o := opts(addr, watchReq)
	o.HandshakeTimeout = 50 * time.Millisecond
	err := Watch(t.Context(), o, io.Discard)
	if !errors.Is(err, ErrHandshakeTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want ErrHandshakeTimeout", err)
	}
	err = Broadcast(t.Context(), o, failReader{t})
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("Broadcast err = %v, want ErrHandshakeTimeout", err)
	}
}

func TestNoAnswer(t *testing.T) {
	tests := []struct {
		name  string
		reply []byte
	}{
		{"closed", nil},
		{"closed mid-frame", protocol.EncodeFrame("ok")[:4]},
		{"not fstream", []byte("SSH-2.0-OpenSSH_9.2\r\n")},
		{"stream instead of status", bytes.Repeat([]byte{0x47, 0, 0, 0x10}, 100)},
		{"unknown status", protocol.EncodeFrame("maybe")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startFake(t, func(c net.Conn) {
				readHandshake(t, c)
				c.Write(tt.reply)
			})
			err := Watch(t.Context(), opts(addr, watchReq), io.Discard)
			if !errors.Is(err, ErrNoAnswer) {
				t.Fatalf("err = %v, want ErrNoAnswer", err)
			}
		})
	}
}

func TestWatchCancel(t *testing.T) {
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			addr := tr.start(t, func(c net.Conn) {
				readHandshake(t, c)
				sendStatus(t, c, protocol.OKStatus)
				c.Write([]byte("some stream"))
				waitClose(c)
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			started := make(chan struct{})
			dst := writerFunc(func(p []byte) (int, error) {
				select {
				case <-started:
				default:
					close(started)
				}
				return len(p), nil
			})
			errc := make(chan error, 1)
			go func() { errc <- Watch(ctx, tr.opts(addr, watchReq), dst) }()
			select {
			case <-started:
			case err := <-errc:
				t.Fatalf("Watch ended before the cancel: %v", err)
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}

// TestBroadcastCancel cancels a broadcaster blocked on a server that
// stopped reading: the cancel ends it at once, over TLS too.
func TestBroadcastCancel(t *testing.T) {
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			// The fake server accepts and then never reads, so the client
			// ends up blocked in Write, which only the cancel can end. Over
			// TLS the client closes the TCP connection without
			// close_notify, so the server's read ends with an error rather
			// than io.EOF.
			addr := tr.start(t, func(c net.Conn) {
				readHandshake(t, c)
				sendStatus(t, c, protocol.OKStatus)
				waitClose(c)
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			src := &zeroReader{started: make(chan struct{})}
			errc := make(chan error, 1)
			go func() { errc <- Broadcast(ctx, tr.opts(addr, watchReq), src) }()
			select {
			case <-src.started:
			case err := <-errc:
				t.Fatalf("Broadcast ended before the cancel: %v", err)
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
		})
	}
}

func TestCancelledBeforeDial(t *testing.T) {
	addr := startFake(t, waitClose)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Watch(ctx, opts(addr, watchReq), io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch err = %v, want context.Canceled", err)
	}
	if err := Broadcast(ctx, opts(addr, watchReq), failReader{t}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Broadcast err = %v, want context.Canceled", err)
	}
}

func TestBroadcastServerClosesEarly(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.CopyN(io.Discard, c, 1<<20)
		// Closing with unread data resets the connection, like a server
		// that drops a broadcaster on takeover.
	})
	err := Broadcast(t.Context(), opts(addr, watchReq), &zeroReader{})
	if !errors.Is(err, ErrConnClosed) {
		t.Fatalf("err = %v, want ErrConnClosed", err)
	}
}

func TestBroadcastCloseTimeout(t *testing.T) {
	release := make(chan struct{})
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(io.Discard, c)
		<-release // read everything but never close
	})
	defer close(release)
	o := opts(addr, watchReq)
	o.CloseTimeout = 50 * time.Millisecond
	err := Broadcast(t.Context(), o, bytes.NewReader([]byte("short stream")))
	if !errors.Is(err, ErrCloseTimeout) {
		t.Fatalf("err = %v, want ErrCloseTimeout", err)
	}
}

func TestBroadcastInputError(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		waitClose(c)
	})
	boom := errors.New("disk on fire")
	err := Broadcast(t.Context(), opts(addr, watchReq), io.MultiReader(bytes.NewReader([]byte("abc")), errReader{boom}))
	if !errors.Is(err, ErrReadInput) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want ErrReadInput wrapping the input's error", err)
	}
}

func TestWatchOutputClosed(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		c.SetWriteDeadline(time.Now().Add(ioTimeout))
		chunk := make([]byte, 4096)
		for {
			if _, err := c.Write(chunk); err != nil {
				return // the client hung up
			}
		}
	})
	dst := writerFunc(func([]byte) (int, error) {
		return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
	})
	err := Watch(t.Context(), opts(addr, watchReq), dst)
	if !errors.Is(err, ErrWriteOutput) || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want ErrWriteOutput with EPIPE", err)
	}
	if errors.Is(err, ErrConnClosed) {
		t.Fatalf("err = %v blames the connection for the output's error", err)
	}
}

func TestWatchServerResets(t *testing.T) {
	addr := startFake(t, func(c net.Conn) {
		readHandshake(t, c)
		sendStatus(t, c, protocol.OKStatus)
		c.Write([]byte("partial"))
		c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	err := Watch(t.Context(), opts(addr, watchReq), io.Discard)
	// The reset may arrive before or after the client has read the bytes;
	// either way it must not look like a clean end.
	if err == nil {
		t.Fatal("Watch returned nil after a reset")
	}
}

func TestLocalErrors(t *testing.T) {
	// No server: each case fails before dialing.
	tests := []struct {
		name      string
		broadcast bool
		o         Options
		want      error
	}{
		{"bad addr", false, Options{Addr: "[::1", Request: watchReq}, ErrBadAddr},
		{"empty addr", false, Options{Request: watchReq}, ErrBadAddr},
		{"wrong command", true, Options{Addr: "127.0.0.1", Request: protocol.Request{Command: protocol.CommandWatch, User: "u"}}, ErrBadRequest},
		{"comma in password", true, Options{Addr: "127.0.0.1", Request: protocol.Request{User: "u", UserPassword: "a,b"}}, ErrBadRequest},
		{"no user", false, Options{Addr: "127.0.0.1"}, ErrBadRequest},
		{"bad channel", false, Options{Addr: "127.0.0.1", Request: protocol.Request{User: "u", Channel: "../x"}}, protocol.ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.broadcast {
				err = Broadcast(t.Context(), tt.o, failReader{t})
			} else {
				err = Watch(t.Context(), tt.o, io.Discard)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNormalizeAddr(t *testing.T) {
	tests := []struct {
		in, want string
		tls      bool
		wantErr  bool
	}{
		{in: "example.com", want: "example.com:61920"},
		{in: "example.com:1234", want: "example.com:1234"},
		{in: "example.com:", want: "example.com:61920"},
		{in: "127.0.0.1", want: "127.0.0.1:61920"},
		{in: "127.0.0.1:61920", want: "127.0.0.1:61920"},
		{in: "[::1]", want: "[::1]:61920"},
		{in: "[::1]:1", want: "[::1]:1"},
		{in: "::1", want: "[::1]:61920"},
		{in: "fe80::1%eth0", want: "[fe80::1%eth0]:61920"},
		{in: ":61920", want: ":61920"},
		{in: ":1", want: ":1"},
		{in: "tls://example.com", want: "example.com:61920", tls: true},
		{in: "tls://example.com:443", want: "example.com:443", tls: true},
		{in: "tls://[::1]", want: "[::1]:61920", tls: true},
		{in: "tls://::1", want: "[::1]:61920", tls: true},
		{in: "", wantErr: true},
		{in: "tls://", wantErr: true},
		{in: "tcp://example.com", wantErr: true},
		{in: "https://example.com", wantErr: true},
		{in: "TLS://example.com", wantErr: true},
		{in: "tls://tls://example.com", wantErr: true},
		{in: "[::1", wantErr: true},
		{in: "[example.com]", wantErr: true},
		{in: "host:port", wantErr: true},
		{in: "host:0", wantErr: true},
		{in: "host:65536", wantErr: true},
		{in: "a:b:c", wantErr: true},
		{in: "[::1]x", wantErr: true},
	}
	for _, tt := range tests {
		got, useTLS, err := NormalizeAddr(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadAddr) {
				t.Errorf("NormalizeAddr(%q) = %q, %v, %v; want ErrBadAddr", tt.in, got, useTLS, err)
			}
			continue
		}
		if err != nil || got != tt.want || useTLS != tt.tls {
			t.Errorf("NormalizeAddr(%q) = %q, %v, %v; want %q, %v", tt.in, got, useTLS, err, tt.want, tt.tls)
		}
	}
}

// failReader fails the test if it is read: input must not be consumed
// before the server accepted the handshake.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("input read before the handshake was accepted")
	return 0, io.EOF
}

// zeroReader is an endless input; started is closed on the first Read.
type zeroReader struct {
	once    sync.Once
	started chan struct{}
}

func (r *zeroReader) Read(p []byte) (int, error) {
	if r.started != nil {
		r.once.Do(func() { close(r.started) })
	}
	clear(p)
	return len(p), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// onlyReader hides any WriterTo so the copy goes through Read.
type onlyReader struct{ io.Reader }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}
