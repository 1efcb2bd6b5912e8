package protocol

// Handshake keys used between the nodes of an fstream cluster. A node that
// has watchers for a channel it does not ingest pulls the channel from
// another node with an ordinary watch handshake that carries a one-time
// pull token instead of the channel password; docs/CLUSTER.md describes
// how the token is obtained.
const (
	// KeyPullToken, in a watch handshake, is a one-time token minted by
	// the serving node for the pulling node. It replaces the channel
	// password: the serving node redeems it once, for that channel only.
	KeyPullToken = "pull-token"
)

// PullToken returns the pull token a watch request carries, if any.
func (r Request) PullToken() (string, bool) {
	if r.Command != CommandWatch {
		return "", false
	}
	tok, ok := r.Params[KeyPullToken]
	return tok, ok && tok != ""
}
