package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// workRecorder replaces a Dir's bcrypt comparison and records the cost of
// every hash compared. Work doubles with each cost step, so a decision's
// bcrypt work is the sum of 2^cost over its comparisons: comparing that sum
// instead of durations keeps the test free of timing on a noisy machine.
// Dummy hashes are recognised and not computed, to keep the test fast; real
// hashes (cheap ones here) are compared for real.
type workRecorder struct {
	mu    sync.Mutex
	work  int
	dummy map[string]bool
}

func newWorkRecorder(t *testing.T, d *Dir) *workRecorder {
	t.Helper()
	w := &workRecorder{dummy: map[string]bool{}}
	// Dummies at every cost, made from one cheap hash by rewriting its
	// cost field: bcrypt.Cost reads it, and they are never computed.
	base := cheapHash(t, "nobody knows")
	dummies := map[int][]byte{}
	for cost := bcrypt.MinCost; cost <= bcrypt.DefaultCost; cost++ {
		h := strings.Replace(base, "$04$", "$"+twoDigits(cost)+"$", 1)
		dummies[cost] = []byte(h)
		w.dummy[h] = true
	}
	d.dummyHash = func(cost int) []byte { return dummies[cost] }
	d.compare = func(hash, password []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.work += 1 << cost
		isDummy := w.dummy[string(hash)]
		w.mu.Unlock()
		if isDummy || cost > 5 {
			return bcrypt.ErrMismatchedHashAndPassword // not computed
		}
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	return w
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// take returns the work recorded since the last take.
func (w *workRecorder) take() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.work
	w.work = 0
	return n
}

// TestDirEqualWork: every decision, right or wrong, about a user who exists
// or not, with a cheap hash (htpasswd -nB makes cost 5), a default one, a
// plaintext password, none, or a file that cannot be read or parsed, costs
// exactly the bcrypt work of one comparison at DefaultCost. Before, a
// cost-5 user answered a wrong password 30 times sooner than an unknown
// user, and broken files answered at once.
func TestDirEqualWork(t *testing.T) {
	hash5, err := bcrypt.GenerateFromPassword([]byte("secret"), 5)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newTestDir(t, map[string]string{
		"cost4.ini":   "password_hash=" + cheapHash(t, "secret") + "\n",
		"cost5.ini":   "password_hash=" + string(hash5) + "\n",
		"cost10.ini":  "password_hash=" + strings.Replace(cheapHash(t, "secret"), "$04$", "$10$", 1) + "\n",
		"plain.ini":   "password=secret\n",
		"empty.ini":   "password=\n",
		"nothing.ini": "[other]\nx=1\n",
		"emptyh.ini":  "password_hash=\n",
		"badhash.ini": "password_hash=not-bcrypt\n",
		"broken.ini":  "[DEFAULT\npassword=secret\n",
	})
	// A folder where a file should be: unreadable even for root.
	if err := os.Mkdir(filepath.Join(d.Path(), "unreadable.ini"), 0o700); err != nil {
		t.Fatal(err)
	}
	w := newWorkRecorder(t, d)
	want := 1 << bcrypt.DefaultCost
	tests := []struct {
		user, password string
		allowed        bool
	}{
		{"cost4", "secret", true},
		{"cost4", "wrong", false},
		{"cost5", "secret", true},
		{"cost5", "wrong", false},
		{"cost10", "wrong", false},
		{"plain", "secret", true},
		{"plain", "wrong", false},
		{"empty", "x", false},
		{"nothing", "x", false},
		{"emptyh", "x", false},
		{"badhash", "x", false},
		{"broken", "secret", false},
		{"unreadable", "x", false},
		{"unknown", "x", false},
	}
	for _, tt := range tests {
		w.take()
		err := d.Authenticate(context.Background(), tt.user, tt.password)
		if (err == nil) != tt.allowed {
			t.Errorf("Authenticate(%q, %q) = %v, want allowed=%v", tt.user, tt.password, err, tt.allowed)
		}
		if got := w.take(); got != want {
			t.Errorf("Authenticate(%q, %q) did bcrypt work %d, want %d (one comparison at cost %d)",
				tt.user, tt.password, got, want, bcrypt.DefaultCost)
		}
	}
}

// TestDirCheckUser: a user may still broadcast only while its file exists
// with a usable password; this is what a redeemed token is checked against.
func TestDirCheckUser(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{
		"hashed.ini": "password_hash=" + cheapHash(t, "secret") + "\n",
		"plain.ini":  "password=secret\n",
		"empty.ini":  "password=\n",
		"emptyh.ini": "password_hash=\npassword=secret\n",
		"broken.ini": "[DEFAULT\n",
	})
	ctx := context.Background()
	tests := []struct {
		user string
		want error // nil: may broadcast; ErrDenied or a server-side error otherwise
	}{
		{"hashed", nil},
		{"plain", nil},
		{"empty", ErrNoPassword},
		{"emptyh", ErrNoPassword},
		{"gone", ErrUnknownUser},
		{"../x", ErrUnknownUser},
	}
	for _, tt := range tests {
		err := d.CheckUser(ctx, tt.user)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("CheckUser(%q) = %v, want %v", tt.user, err, tt.want)
		}
	}
	if err := d.CheckUser(ctx, "broken"); err == nil || errors.Is(err, ErrDenied) {
		t.Errorf("CheckUser of a broken file = %v, want a server-side error", err)
	}
	if err := os.Remove(filepath.Join(d.Path(), "hashed.ini")); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckUser(ctx, "hashed"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("CheckUser after the file was removed = %v, want ErrUnknownUser", err)
	}
}
