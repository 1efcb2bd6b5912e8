package auth

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/fstream/fstream/internal/protocol"
)

// fileModeOf returns the permission bits of path.
func fileModeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestAddUserServerSeesIt adds, changes and deletes a user through the
// management API while a Dir made before the folder existed (as a running
// server's) keeps answering.
func TestAddUserServerSeesIt(t *testing.T) {
	folder := filepath.Join(t.TempDir(), "users")
	server := NewDir(folder) // made before the folder exists, never recreated
	dummy := []byte(cheapHash(t, "dummy"))
	server.dummyHash = func(int) []byte { return dummy }
	admin := NewDir(folder)
	ctx := context.Background()

	if err := server.Authenticate(ctx, "fier", "hunter2"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("before add: %v, want ErrUnknownUser", err)
	}
	if err := admin.AddUserHash("fier", cheapHash(t, "hunter2")); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if got := fileModeOf(t, folder); got != dirMode {
		t.Errorf("folder mode = %v, want %v", got, fs.FileMode(dirMode))
	}
	file := filepath.Join(folder, "fier.ini")
	if got := fileModeOf(t, file); got != fileMode {
		t.Errorf("file mode = %v, want %v", got, fs.FileMode(fileMode))
	}
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(content), "hunter2") || !strings.HasPrefix(string(content), "[DEFAULT]\npassword_hash = $2a$") {
		t.Errorf("new file does not hold just a bcrypt hash:\n%s", content)
	}
	if err := server.Authenticate(ctx, "fier", "hunter2"); err != nil {
		t.Fatalf("after add: %v", err)
	}
	if err := server.Authenticate(ctx, "fier", "hunter3"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password after add: %v, want ErrWrongPassword", err)
	}

	if err := admin.AddUserHash("fier", cheapHash(t, "other")); !errors.Is(err, ErrUserExists) {
		t.Fatalf("AddUser of an existing user: %v, want ErrUserExists", err)
	}
	if err := server.Authenticate(ctx, "fier", "hunter2"); err != nil {
		t.Fatalf("a refused AddUser changed the password: %v", err)
	}

	if err := admin.SetPasswordHash("fier", cheapHash(t, "correct horse")); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if err := server.Authenticate(ctx, "fier", "hunter2"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password after passwd: %v, want ErrWrongPassword", err)
	}
	if err := server.Authenticate(ctx, "fier", "correct horse"); err != nil {
		t.Fatalf("new password after passwd: %v", err)
	}

	if err := admin.Delete("fier"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := server.Authenticate(ctx, "fier", "correct horse"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("after delete: %v, want ErrUnknownUser", err)
	}
	assertNoTempFiles(t, folder)
}

func TestUserManagementErrors(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{"fier.ini": "password=x\n"})
	h := cheapHash(t, "pw")
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"passwd of a missing user", func() error { return d.SetPasswordHash("nobody", h) }, fs.ErrNotExist},
		{"delete of a missing user", func() error { return d.Delete("nobody") }, fs.ErrNotExist},
		{"add of an existing user", func() error { return d.AddUserHash("fier", h) }, ErrUserExists},
		{"add with a path", func() error { return d.AddUserHash("../evil", h) }, protocol.ErrBadName},
		{"delete with a path", func() error { return d.Delete("../fier") }, protocol.ErrBadName},
		{"add with an empty name", func() error { return d.AddUserHash("", h) }, protocol.ErrBadName},
		{"add with an empty password", func() error { return d.AddUser("new", "") }, nil},
		{"passwd with an empty password", func() error { return d.SetPassword("fier", "") }, nil},
		{"add with a password bcrypt would cut", func() error { return d.AddUser("new", strings.Repeat("x", 73)) }, nil},
		{"add with a password as the hash", func() error { return d.AddUserHash("new", "hunter2") }, nil},
		{"add with a hash and a newline", func() error { return d.AddUserHash("new", h+"\npassword=x") }, nil},
		{"passwd with a password as the hash", func() error { return d.SetPasswordHash("fier", "hunter2") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Nothing was created or removed.
	users, err := d.Users()
	if err != nil || len(users) != 1 || users[0] != "fier" {
		t.Fatalf("Users() = %q, %v; want just fier", users, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(d.Path()), "evil.ini")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("AddUser wrote outside the folder")
	}
}

// TestReplaceHash checks how SetPassword rewrites an existing file: every
// password line of the default section goes, everything else stays.
func TestReplaceHash(t *testing.T) {
	const h = "$2a$04$abcdefghijklmnopqrstuuJQ3PzzQk3e5a9cY1bXl2H7qGkq0xYyW"
	tests := []struct {
		name, old, want string
	}{
		{
			name: "plaintext without header",
			old:  "password=secret\n",
			want: "password_hash = " + h + "\n",
		},
		{
			name: "comments and other keys kept",
			old:  "# fier, the camera\n[DEFAULT]\nPassword : secret\ncolour = blue\npassword_hash=old\n",
			want: "password_hash = " + h + "\n# fier, the camera\n[DEFAULT]\ncolour = blue\n",
		},
		{
			name: "other sections keep their password keys",
			old:  "password=a\n[extra]\npassword=b\n[ DEFAULT ]\npassword=c",
			want: "password_hash = " + h + "\n[extra]\npassword=b\n[ DEFAULT ]\n",
		},
		{
			name: "not a key",
			old:  "passwords are in the vault\n",
			want: "password_hash = " + h + "\npasswords are in the vault\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(replaceHash([]byte(tt.old), h)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestSetPasswordKeepsOtherLines replaces a plaintext password in a file
// with comments and then checks it the way the server does.
func TestSetPasswordKeepsOtherLines(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{
		"fier.ini": "# the camera on the roof\n[DEFAULT]\npassword = secret\n",
	})
	file := filepath.Join(d.Path(), "fier.ini")
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPasswordHash("fier", cheapHash(t, "n3w")); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(file)
	if !strings.Contains(string(content), "# the camera on the roof") || strings.Contains(string(content), "secret") {
		t.Errorf("rewritten file:\n%s", content)
	}
	if got := fileModeOf(t, file); got != fileMode {
		t.Errorf("mode after rewrite = %v, want %v", got, fs.FileMode(fileMode))
	}
	ctx := context.Background()
	if err := d.Authenticate(ctx, "fier", "n3w"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := d.Authenticate(ctx, "fier", "secret"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("old password: %v, want ErrWrongPassword", err)
	}
	assertNoTempFiles(t, d.Path())
}

// TestSetPasswordRefusesUnsafeEdit leaves alone a file whose rewrite would
// not be read back as intended.
func TestSetPasswordRefusesUnsafeEdit(t *testing.T) {
	for name, content := range map[string]string{
		// A quoted key is a password key that the line filter misses.
		"quoted key": "`password` = secret\n",
		"corrupt":    "[DEFAULT\npassword = secret\n",
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := newTestDir(t, map[string]string{"fier.ini": content})
			err := d.SetPasswordHash("fier", cheapHash(t, "n3w"))
			if !errors.Is(err, ErrUnsafeEdit) {
				t.Fatalf("err = %v, want ErrUnsafeEdit", err)
			}
			if got, _ := os.ReadFile(filepath.Join(d.Path(), "fier.ini")); string(got) != content {
				t.Errorf("file changed to\n%s", got)
			}
			assertNoTempFiles(t, d.Path())
		})
	}
}

func TestList(t *testing.T) {
	d, _ := newTestDir(t, map[string]string{
		"hashed.ini":  "password_hash = " + cheapHash(t, "x") + "\n",
		"plain.ini":   "password = x\n",
		"both.ini":    "password = x\npassword_hash = " + cheapHash(t, "x") + "\n",
		"empty.ini":   "password =\n",
		"nothing.ini": "",
		"corrupt.ini": "[DEFAULT\n",
		"notes.txt":   "not a user\n",
	})
	got, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name                  string
		plaintext, noPassword bool
		broken                bool
	}
	want := []row{
		{name: "both"},
		{name: "corrupt", broken: true},
		{name: "empty", plaintext: true, noPassword: true},
		{name: "hashed"},
		{name: "nothing", noPassword: true},
		{name: "plain", plaintext: true},
	}
	if len(got) != len(want) {
		t.Fatalf("List() = %+v, want %d entries", got, len(want))
	}
	for i, e := range got {
		r := row{e.Name, e.Plaintext, e.NoPassword, e.Err != nil}
		if r != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, r, want[i])
		}
		if e.File != filepath.Join(d.Path(), e.Name+".ini") {
			t.Errorf("entry %d File = %q", i, e.File)
		}
	}

	missing := NewDir(filepath.Join(t.TempDir(), "nope"))
	if _, err := missing.List(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List() of a missing folder: %v, want fs.ErrNotExist", err)
	}
}

// assertNoTempFiles checks that no temporary file was left in folder.
func assertNoTempFiles(t *testing.T, folder string) {
	t.Helper()
	entries, err := os.ReadDir(folder)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestAddUserHashes checks that AddUser stores a hash at the default cost,
// never the password. (One bcrypt hash at that cost: slow under -race.)
func TestAddUserHashes(t *testing.T) {
	d, _ := newTestDir(t, nil)
	if err := d.AddUser("fier", "hunter2"); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(filepath.Join(d.Path(), "fier.ini"))
	if err != nil {
		t.Fatal(err)
	}
	hash, ok := strings.CutPrefix(strings.TrimSpace(string(content)), "[DEFAULT]\npassword_hash = ")
	if !ok || strings.Contains(string(content), "hunter2") {
		t.Fatalf("file:\n%s", content)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("cost of %q = %d, %v; want %d", hash, cost, err, bcrypt.DefaultCost)
	}
}
