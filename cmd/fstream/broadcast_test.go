package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"testing"

	"github.com/fstream/fstream/internal/protocol"
)

func TestRunBroadcastTLS(t *testing.T) {
	tc := newTestCert(t)
	stream := bytes.Repeat([]byte("\x47tls broadcast "), 100_000)
	got := make(chan [sha256.Size]byte, 1)
	addr := startFakeTLS(t, tc, func(c net.Conn, req protocol.Request) {
		if req.Command != protocol.CommandBroadcast || req.User != "fier" || req.UserPassword != "secret" {
			t.Errorf("fake server got %+v", req)
		}
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		h := sha256.New()
		io.Copy(h, c)
		got <- [sha256.Size]byte(h.Sum(nil))
	})
	env := map[string]string{envUserPassword: "secret"}
	args := []string{"broadcast", "tls://" + addr, "--user", "fier", "--channel", "cam", "--tls-ca", tc.caFile}
	code, _, stderr := runIn(t.Context(), args, bytes.NewReader(stream), env)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if <-got != sha256.Sum256(stream) {
		t.Fatal("the server did not get the stream byte for byte")
	}
}

// TestRunBroadcastToken checks that a token travels instead of the
// password, even when the environment holds one.
func TestRunBroadcastToken(t *testing.T) {
	reqs := make(chan protocol.Request, 1)
	addr := startFake(t, func(c net.Conn, req protocol.Request) {
		reqs <- req
		protocol.WriteFrame(c, protocol.OKStatus.Text())
		io.Copy(io.Discard, c)
	})
	env := map[string]string{envUserPassword: "secret"}
	for _, args := range [][]string{
		{"broadcast", addr, "--user", "fier", "--channel", "cam", "--token", "T0k-en_"},
		{addr, "broadcast,user=fier,channel=cam,token=T0k-en_"},
	} {
		code, _, stderr := runIn(t.Context(), args, bytes.NewReader([]byte("data")), env)
		if code != exitOK || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		req := <-reqs
		if _, ok := req.Params[protocol.KeyUserPassword]; ok || req.Params[protocol.KeyToken] != "T0k-en_" || req.User != "fier" {
			t.Errorf("%v: server got %v, want token=T0k-en_ and no user-password", args, req.Params)
		}
	}
}
