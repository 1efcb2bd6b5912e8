// Package client is the client side of fstream: it connects to a server,
// performs the handshake and pipes a byte stream between the connection and
// an io.Reader or io.Writer (in the CLI, stdin and stdout).
//
// A connection's life:
//
//  1. Dial ADDR (NormalizeAddr adds the default port) with a context, so a
//     signal aborts a slow connect. With Options.TLS, or an address that
//     starts with tls://, the TLS handshake follows within the same
//     timeout. A server without TLS answers the TLS hello with a plain
//     status frame, which is reported as ErrNotTLS; a certificate that
//     cannot be verified as ErrTLSVerify.
//  2. Send the handshake frame, always with ack=1, and read the server's
//     status frame under Options.HandshakeTimeout. A refusal is returned as a
//     *protocol.RefusedError; nothing has been read from the input yet, so a
//     broadcaster's stdin is left untouched.
//  3. Stream. Broadcast copies its input to the connection until EOF, then
//     half-closes the connection and waits for the server to close its side,
//     which tells it that every byte reached the server. Meanwhile it reads
//     the server's side: a status frame there says why the server cut the
//     stream (a *CutError: taken over, kicked, shutdown). Watch copies the
//     connection to its output until the server closes. The status frame is
//     read through a buffer that the copy keeps using, so stream bytes that
//     arrive in the same segment as "ok" are not lost.
//
// RequestToken runs steps 1 and 2 only, with the "token" command: the "ok"
// carries a one-time broadcast token, which a later Broadcast sends as
// token= instead of user-password=.
//
// Cancelling the context closes the connection at any step and the call
// returns the context's error. Errors name their step and wrap the sentinels
// of errors.go, so a caller can tell a closed output (ErrWriteOutput with
// syscall.EPIPE: the player quit) from a server that went away
// (ErrConnClosed).
package client
