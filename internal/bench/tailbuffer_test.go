package bench

import "testing"

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "…defghijk" {
		t.Errorf("String() = %q, want the last 8 bytes after a mark", got)
	}
	if got := (&tailBuffer{max: 8}).String(); got != "" {
		t.Errorf("empty: %q", got)
	}
}
