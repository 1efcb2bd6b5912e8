package protocol

import "testing"

// TestClusterKeys pins the cluster handshake keys: they are wire format,
// spoken between nodes that may run different versions.
func TestClusterKeys(t *testing.T) {
	if KeyPullToken != "pull-token" {
		t.Fatalf("KeyPullToken = %q, want pull-token", KeyPullToken)
	}
}

func TestPullToken(t *testing.T) {
	cases := []struct {
		name string
		text string
		tok  string
		ok   bool
	}{
		{"watch with token", "watch,user=fier,channel=cam,pull-token=abc_-DEF", "abc_-DEF", true},
		{"token with equals", "watch,user=u,pull-token=a=b", "a=b", true},
		{"empty token", "watch,user=u,pull-token=", "", false},
		{"no token", "watch,user=u", "", false},
		{"broadcast ignores token", "broadcast,user=u,pull-token=abc", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParseRequest(c.text)
			if err != nil {
				t.Fatalf("ParseRequest(%q): %v", c.text, err)
			}
			tok, ok := req.PullToken()
			if tok != c.tok || ok != c.ok {
				t.Fatalf("PullToken() = %q, %v, want %q, %v", tok, ok, c.tok, c.ok)
			}
		})
	}
}

// TestPullTokenRoundTrip checks that a client that puts the token in
// Params sends it and a server reads it back unchanged.
func TestPullTokenRoundTrip(t *testing.T) {
	const tok = "q2V0aGlzLWlzLTQzLWNoYXJzLW9mLWJhc2U2NHVybC0x"
	req := Request{Command: CommandWatch, User: "fier", Channel: "cam", Ack: true,
		Params: map[string]string{KeyPullToken: tok}}
	text, err := req.Text()
	if err != nil {
		t.Fatalf("Text: %v", err)
	}
	back, err := ParseRequest(text)
	if err != nil {
		t.Fatalf("ParseRequest(%q): %v", text, err)
	}
	if got, ok := back.PullToken(); !ok || got != tok {
		t.Fatalf("round trip of %q: PullToken() = %q, %v", text, got, ok)
	}
}
