package cluster

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h1, h2 := hashPassword("456"), hashPassword("456")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt must be random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=4096,t=1,p=1$") || strings.Contains(h1, "456") {
		t.Fatalf("hash %q", h1)
	}
	c := newPasswordChecker()
	for _, tc := range []struct {
		stored, pw string
		want       bool
	}{
		{h1, "456", true},
		{h2, "456", true},
		{h1, "457", false},
		{h1, "", false},
		{h1, "456 ", false},
		{"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x", false}, // too greedy
		{"plaintext", "plaintext", false},
	} {
		for range 2 { // the second time from the cache
			if got := c.check(tc.stored, tc.pw); got != tc.want {
				t.Errorf("check(%q, %q) = %v, want %v", tc.stored, tc.pw, got, tc.want)
			}
		}
	}
}

func TestParsePasswordHash(t *testing.T) {
	good := hashPassword("x")
	if _, err := parsePasswordHash(good); err != nil {
		t.Fatalf("parse %q: %v", good, err)
	}
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"$argon2i$v=19$m=4096,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=4096,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4096,t=1,p=1$" + parts[4],
		"$argon2id$v=19$m=65537,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4096,t=5,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4096,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4096,t=1,p=1,x=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=04096,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4096,t=1,p=1$c2Fs$" + parts[5],
		"$argon2id$v=19$m=4096,t=1,p=1$" + parts[4] + "$aGFzaA",
		"$argon2id$v=19$m=4096,t=1,p=1$!!!$" + parts[5],
	}
	for _, s := range bad {
		if _, err := parsePasswordHash(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("parse %q = %v, want ErrMalformed", s, err)
		}
	}
}

// TestPasswordCheckConcurrent checks many joins at once under -race.
func TestPasswordCheckConcurrent(t *testing.T) {
	c := newPasswordChecker()
	h := hashPassword("pin")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw, want := "pin", true
			if i%2 == 1 {
				pw, want = "nip", false
			}
			if got := c.check(h, pw); got != want {
				t.Errorf("check(%q) = %v", pw, got)
			}
		}()
	}
	wg.Wait()
}

func BenchmarkCheckPasswordUncached(b *testing.B) {
	h := hashPassword("456")
	for b.Loop() {
		c := newPasswordChecker()
		c.check(h, "456")
	}
}

func BenchmarkCheckPasswordCached(b *testing.B) {
	h := hashPassword("456")
	c := newPasswordChecker()
	c.check(h, "456")
	for b.Loop() {
		c.check(h, "456")
	}
}
