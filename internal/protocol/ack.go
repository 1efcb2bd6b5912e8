package protocol

import "strings"

// FindAck looks for the ack key in handshake text that could not be
// parsed, so that a server can say why it refuses. found reports whether an
// ack field was seen; ack is its value (false if it is not a valid yes). If
// truncated, text is only the start of a handshake and its last field,
// which may be cut short, is ignored. The last ack wins, as in ParseRequest.
func FindAck(text []byte, truncated bool) (ack, found bool) {
	fields := strings.Split(string(text), ",")
	if truncated {
		fields = fields[:len(fields)-1]
	}
	// The first field is the command.
	for i := len(fields) - 1; i >= 1; i-- {
		if k, v, ok := strings.Cut(fields[i], "="); ok && k == KeyAck {
			ack, err := parseBool(v)
			return err == nil && ack, true
		}
	}
	return false, false
}
