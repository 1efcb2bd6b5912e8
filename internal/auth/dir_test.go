package auth

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/fstream/fstream/internal/protocol"
)

// cheapHash hashes at MinCost so the tests stay fast.
func cheapHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// newTestDir writes files (name -> content) into a fresh folder and returns
// a Dir on it whose dummy comparisons are cheap and counted.
func newTestDir(t *testing.T, files map[string]string) (*Dir, *atomic.Int32) {
	t.Helper()
	path := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(path, name), content)
	}
	dummy := []byte(cheapHash(t, "dummy"))
	var spent atomic.Int32
	d := NewDir(path)
	d.dummyHash = func(cost int) []byte {
		spent.Add(1)
		if cost < bcrypt.DefaultCost {
			return nil // padding after a cheap hash: counted, not spent (TestDirEqualWork spends it)
		}
		return dummy
	}
	return d, &spent
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// outcome is what a test expects of Authenticate.
type outcome int

const (
	allowed     outcome = iota
	unknownUser         // ErrUnknownUser
	wrongPass           // ErrWrongPassword
	noPassword          // ErrNoPassword
	serverError         // not ErrDenied, and names the file
)

func TestDirAuthenticate(t *testing.T) {
	long72 := strings.Repeat("p", 72)
	files := map[string]string{
		"plain.ini":   "password=secret\n",
		"section.ini": "; a comment\n[DEFAULT]\npassword = secret\n",
		"hashed.ini":  "[DEFAULT]\npassword_hash = " + cheapHash(t, "hunter2") + "\n",
		"both.ini":    "password = plain\npassword_hash = " + cheapHash(t, "hashed") + "\n",
		"long.ini":    "password_hash = " + cheapHash(t, long72) + "\n",
		// htpasswd -B writes $2y$ hashes; they are the same algorithm.
		"htpasswd.ini":     "password_hash = " + strings.Replace(cheapHash(t, "hunter2"), "$2a$", "$2y$", 1) + "\n",
		"empty.ini":        "password =\n",
		"emptyhash.ini":    "password_hash =\npassword = fallback\n",
		"neither.ini":      "[DEFAULT]\ncolour = blue\n",
		"blank.ini":        "",
		"othersection.ini": "[fier]\npassword = secret\n",
		"literal.ini":      "password = p#ss;word \"q\" \\\n",
		"quoted.ini":       "password = \"secret\"\n",
		"upper.ini":        "Password = secret\n",
		"jörg.ini":         "password = ö\n",
		"corrupt.ini":      "[DEFAULT\npassword = secret\n",
		"garbage.ini":      "hunter2\n",
		"nokey.ini":        "= hunter2\n",
		"unclosed.ini":     "[hunter2\n",
		"badhash.ini":      "password_hash = not-a-bcrypt-hash\n",
	}
	d, _ := newTestDir(t, files)
	// A folder where a file should be: reading it fails on the server side.
	if err := os.Mkdir(filepath.Join(d.Path(), "folder.ini"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A user file next to the folder, which only a path escape could reach.
	writeFile(t, filepath.Join(filepath.Dir(d.Path()), "outside.ini"), "password=secret\n")

	tests := []struct {
		user, password string
		want           outcome
	}{
		{"plain", "secret", allowed},
		{"plain", "Secret", wrongPass},
		{"plain", "secret ", wrongPass},
		{"plain", "", wrongPass},
		{"section", "secret", allowed},
		{"hashed", "hunter2", allowed},
		{"hashed", "hunter3", wrongPass},
		{"hashed", "", wrongPass},
		{"hashed", cheapHash(t, "hunter2"), wrongPass},
		{"htpasswd", "hunter2", allowed},
		{"htpasswd", "hunter3", wrongPass},
		{"both", "hashed", allowed},
		{"both", "plain", wrongPass},
		{"long", long72, allowed},
		{"long", long72 + "x", wrongPass}, // bcrypt would ignore the 73rd byte
		{"empty", "", noPassword},
		{"empty", "x", noPassword},
		{"emptyhash", "fallback", noPassword}, // password_hash wins, even empty
		{"neither", "", noPassword},
		{"blank", "", noPassword},
		{"othersection", "secret", noPassword},
		{"literal", `p#ss;word "q" \`, allowed},
		{"literal", "p#ss", wrongPass},
		{"quoted", `"secret"`, allowed},
		{"quoted", "secret", wrongPass},
		{"upper", "secret", allowed},
		{"jörg", "ö", allowed},
		{"missing", "secret", unknownUser},
		{"Plain", "secret", unknownUser},
		{"corrupt", "secret", serverError},
		{"garbage", "secret", serverError},
		{"nokey", "secret", serverError},
		{"unclosed", "secret", serverError},
		{"badhash", "secret", serverError},
		{"folder", "secret", serverError},
	}
	for _, tt := range tests {
		err := d.Authenticate(context.Background(), tt.user, tt.password)
		checkOutcome(t, d, tt.user, tt.password, err, tt.want)
	}
}

func checkOutcome(t *testing.T, d *Dir, user, password string, err error, want outcome) {
	t.Helper()
	switch want {
	case allowed:
		if err != nil {
			t.Errorf("Authenticate(%q, %q) = %v, want nil", user, password, err)
		}
	case unknownUser, wrongPass, noPassword:
		sentinel := map[outcome]error{unknownUser: ErrUnknownUser, wrongPass: ErrWrongPassword, noPassword: ErrNoPassword}[want]
		if !errors.Is(err, sentinel) || !errors.Is(err, ErrDenied) {
			t.Errorf("Authenticate(%q, %q) = %v, want %v", user, password, err, sentinel)
		}
		if err != nil && len(password) >= 5 && strings.Contains(err.Error(), password) {
			t.Errorf("Authenticate(%q, %q) error %q contains the password", user, password, err)
		}
	case serverError:
		if err == nil || errors.Is(err, ErrDenied) {
			t.Errorf("Authenticate(%q, %q) = %v, want a server-side error (not ErrDenied)", user, password, err)
		} else if file := filepath.Join(d.Path(), user+".ini"); !strings.Contains(err.Error(), file) {
			t.Errorf("Authenticate(%q, %q) = %v, want the error to name %s", user, password, err, file)
		}
		// The log must not quote a corrupt line: it may be a password.
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Authenticate(%q, %q) error %q quotes the file's content", user, password, err)
		}
	}
}

// TestDirBadNames checks that a name that is not a plain name is refused
// before any path is built from it, even when a file it points to exists.
func TestDirBadNames(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{"x.ini": "password=secret\n"})
	parent := filepath.Dir(d.Path())
	writeFile(t, filepath.Join(parent, "outside.ini"), "password=secret\n")
	base := filepath.Base(d.Path())

	for _, user := range []string{
		"../outside",
		"../" + base + "/x",
		"./x",
		"a/b",
		filepath.Join(d.Path(), "x"), // absolute path to a real user
		`..\outside`,
		"",
		".",
		"..",
		"x\x00",
		"x\n",
		strings.Repeat("x", protocol.MaxNameLen+1),
		"\xff",
	} {
		err := d.Authenticate(context.Background(), user, "secret")
		if !errors.Is(err, ErrUnknownUser) || !errors.Is(err, protocol.ErrBadName) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnknownUser and protocol.ErrBadName", user, err)
		}
	}
}

// TestDirUserAddedWhileInUse adds, changes and removes a user on a Dir
// that is already in use: each change counts at the next call.
func TestDirUserAddedWhileInUse(t *testing.T) {
	d, _ := newTestDir(t, nil)
	ctx := context.Background()
	file := filepath.Join(d.Path(), "new.ini")

	if err := d.Authenticate(ctx, "new", "pw1"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("before the file exists: %v, want ErrUnknownUser", err)
	}
	writeFile(t, file, "password=pw1\n")
	if err := d.Authenticate(ctx, "new", "pw1"); err != nil {
		t.Fatalf("after adding the user: %v", err)
	}
	writeFile(t, file, "password_hash="+cheapHash(t, "pw2")+"\n")
	if err := d.Authenticate(ctx, "new", "pw1"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password after a change: %v, want ErrWrongPassword", err)
	}
	if err := d.Authenticate(ctx, "new", "pw2"); err != nil {
		t.Fatalf("new password after a change: %v", err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := d.Authenticate(ctx, "new", "pw2"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("after removing the user: %v, want ErrUnknownUser", err)
	}
}

// TestDirMissingFolder treats every user as unknown until the folder exists.
func TestDirMissingFolder(t *testing.T) {
	d := NewDir(filepath.Join(t.TempDir(), "nope"))
	d.dummyHash = func(int) []byte { return nil }
	if err := d.Authenticate(context.Background(), "fier", "x"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Authenticate = %v, want ErrUnknownUser", err)
	}
	if _, err := d.Users(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Users() error = %v, want fs.ErrNotExist", err)
	}
}

// TestDirDummyWork checks that every decision about a well-formed name
// costs bcrypt work: the real comparison for a hashed user, padded with
// dummies up to DefaultCost (costs 4 to 9 after a cost-4 hash: see
// TestDirEqualWork), and one dummy otherwise. This is what keeps timing from
// revealing which users exist.
func TestDirDummyWork(t *testing.T) {
	d, spent := newTestDir(t, map[string]string{
		"plain.ini":  "password=secret\n",
		"hashed.ini": "password_hash=" + cheapHash(t, "secret") + "\n",
		"empty.ini":  "password=\n",
	})
	tests := []struct {
		user, password string
		dummies        int32
	}{
		{"plain", "secret", 1},
		{"plain", "wrong", 1},
		{"hashed", "secret", 6},
		{"hashed", "wrong", 6},
		{"empty", "x", 1},
		{"missing", "x", 1},
	}
	for _, tt := range tests {
		spent.Store(0)
		_ = d.Authenticate(context.Background(), tt.user, tt.password)
		if got := spent.Load(); got != tt.dummies {
			t.Errorf("Authenticate(%q, %q) made %d dummy comparisons, want %d", tt.user, tt.password, got, tt.dummies)
		}
	}
}

func TestDirContextCancelled(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{"plain.ini": "password=secret\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := d.Authenticate(ctx, "plain", "secret")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDenied) {
		t.Fatalf("Authenticate with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestDirConcurrent runs Authenticate from many goroutines, for -race.
func TestDirConcurrent(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{
		"plain.ini":  "password=secret\n",
		"hashed.ini": "password_hash=" + cheapHash(t, "secret") + "\n",
	})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		user := []string{"plain", "hashed"}[i%2]
		wg.Go(func() {
			errs <- d.Authenticate(context.Background(), user, "secret")
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Authenticate: %v", err)
		}
	}
}

func TestDirUsers(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{
		"zoe.ini":       "password=x\n",
		"alice.ini":     "password=x\n",
		"jörg.ini":      "password=x\n",
		"nopass.ini":    "",        // listed: Users does not check content
		"notes.txt":     "",        // not a user file
		"bob.ini.bak":   "",        // not a user file
		"CAPS.INI":      "",        // extension is case-sensitive
		".ini":          "",        // empty name
		"..ini":         "",        // name "."
		"a\\b.ini":      "",        // not a plain name
		"tab\there.ini": "",        // not a plain name
		"readme":        "hello\n", // no extension
	})
	if err := os.Mkdir(filepath.Join(d.Path(), "folder.ini"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := d.Users()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"alice", "jörg", "nopass", "zoe"}
	if !slices.Equal(got, want) {
		t.Errorf("Users() = %q, want %q", got, want)
	}

	empty, _ := newTestDir(t, nil)
	if got, err := empty.Users(); err != nil || len(got) != 0 {
		t.Errorf("Users() of an empty folder = %q, %v; want none", got, err)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("cost of %q = %d, %v; want %d", h, cost, err, bcrypt.DefaultCost)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("hunter2")); err != nil {
		t.Errorf("hash does not match its password: %v", err)
	}

	// The hash works as a password_hash in a user file.
	d, _ := newTestDir(t, map[string]string{"fier.ini": "[DEFAULT]\npassword_hash = " + h + "\n"})
	if err := d.Authenticate(context.Background(), "fier", "hunter2"); err != nil {
		t.Errorf("Authenticate with a HashPassword hash: %v", err)
	}

	for _, bad := range []string{"", strings.Repeat("x", 73)} {
		if h, err := HashPassword(bad); err == nil {
			t.Errorf("HashPassword(%d bytes) = %q, want an error", len(bad), h)
		}
	}
}

// TestProcessDummyHash checks the default dummy is a real bcrypt hash at
// the default cost, so that it costs what a real comparison costs.
func TestProcessDummyHash(t *testing.T) {
	h := processDummyHash(bcrypt.DefaultCost)
	if cost, err := bcrypt.Cost(h); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost = %d, %v; want %d", cost, err, bcrypt.DefaultCost)
	}
	if NewDir("x").dummyHash == nil {
		t.Fatal("NewDir leaves dummyHash unset")
	}
}
