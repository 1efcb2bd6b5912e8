package client

import (
	"errors"
	"fmt"

	"github.com/fstream/fstream/internal/protocol"
)

// Sentinel errors, returned wrapped with the step that failed.
var (
	// ErrBadAddr means an address could not be understood.
	ErrBadAddr = errors.New("client: bad address")
	// ErrBadRequest means the request cannot be sent as a handshake.
	ErrBadRequest = errors.New("client: bad request")
	// ErrHandshakeTimeout means the server did not answer the handshake in
	// time. The error also wraps os.ErrDeadlineExceeded.
	ErrHandshakeTimeout = errors.New("client: no answer to the handshake")
	// ErrNoAnswer means the server closed the connection, or sent something
	// that is not a status frame, instead of answering the handshake.
	ErrNoAnswer = errors.New("client: server did not answer the handshake")
	// ErrConnClosed means the server closed or reset the connection while
	// the stream was running (for a broadcaster: another broadcaster took
	// the channel over, or the server shut down).
	ErrConnClosed = errors.New("client: server closed the connection")
	// ErrCloseTimeout means a broadcaster finished sending but the server
	// did not close its side in time, so delivery is not confirmed.
	ErrCloseTimeout = errors.New("client: server did not confirm the end of the stream")
	// ErrReadInput wraps an error from a broadcaster's input.
	ErrReadInput = errors.New("client: read input")
	// ErrWriteOutput wraps an error from a watcher's output. With
	// syscall.EPIPE it means the reader of the output went away.
	ErrWriteOutput = errors.New("client: write output")
	// ErrHTTPPort means the address is an HTTP server's (it answered the
	// handshake with "HTTP/1."): fstream's own HTTP side, or another.
	ErrHTTPPort = errors.New("client: this is an HTTP port")
	// ErrGaveUp means no address took the connection back within
	// Options.Reconnect; it wraps the last attempt's error too.
	ErrGaveUp = errors.New("client: no server took the connection back")
)

// TLS errors, returned wrapped with the cause from crypto/tls.
var (
	// ErrNotTLS means the server answered the TLS hello with something
	// that is not TLS: it serves plain connections only.
	ErrNotTLS = errors.New("client: server does not speak TLS")
	// ErrTLSVerify means the server's certificate could not be verified:
	// an unknown authority (the error also wraps an
	// x509.UnknownAuthorityError), another name, or expired.
	ErrTLSVerify = errors.New("client: cannot verify the server's certificate")
	// ErrTLSHandshake means the TLS handshake failed for another reason.
	ErrTLSHandshake = errors.New("client: TLS handshake failed")
)

// CutError is a broadcast the server ended, with the reason it sent in a
// status frame just before it closed the connection: another broadcaster
// took the channel over (protocol.ReasonTakenOver), an operator removed it
// (ReasonKicked) or the server is shutting down (ReasonShutdown). Bytes
// still on their way when it happened may not have reached the server.
type CutError struct {
	Reason  protocol.Reason
	Message string
}

func (e *CutError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server ended the stream: %s", e.Reason)
	}
	return e.Message
}
