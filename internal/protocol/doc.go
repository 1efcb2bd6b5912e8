// Package protocol encodes and decodes fstream's wire format. It knows bytes,
// not sockets: everything here works on []byte, io.Reader and io.Writer.
//
// A client opens a TCP connection and sends one handshake frame:
//
//	+----------------------+------+------------------------+
//	| length N (uint32 BE) | 0x00 | N bytes of UTF-8 text  |
//	+----------------------+------+------------------------+
//
// N counts only the text. The text is comma-separated: the first field is the
// command ("watch" or "broadcast"), the rest are key=value pairs split on the
// first '='. Unknown keys are ignored so that newer clients work with older
// servers. With ack=1 the server answers with one status frame in the same
// framing ("ok" or "error,reason=CODE,message=TEXT") before any stream byte;
// without it the server sends only stream bytes and rejects by closing, as the
// original fstream did.
//
// After the handshake a broadcaster sends raw stream bytes and a watcher
// receives them. docs/PROTOCOL.md is the full specification.
package protocol
