package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/fstream/fstream/internal/auth"
)

// cheapHash hashes at bcrypt's lowest cost so that the tests stay fast.
func cheapHash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	return string(h), err
}

// userRun is what one "fstream user" command line did.
type userRun struct {
	err            error
	stdout, stderr string
	prompts        []string
}

// runUser runs "fstream user" args with typed answers on a fake terminal
// and a cheap hash.
func runUser(t *testing.T, args []string, stdin string, answers ...string) userRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	s := &streams{In: strings.NewReader(stdin), Out: &stdout, Err: &stderr, Getenv: func(string) string { return "" }}
	term := &fakeTerminal{answers: answers}
	cmd := newUserCmdWith(s, term.read, cheapHash)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	err := cmd.ExecuteContext(t.Context())
	return userRun{err: err, stdout: stdout.String(), stderr: stderr.String(), prompts: term.prompts}
}

func modeOf(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestUserAddServerSeesIt adds a user with the real command line (and the
// real hash) while a server's auth.Dir, made before, keeps running.
func TestUserAddServerSeesIt(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users") // created by the command
	server := auth.NewDir(users)                 // as a running server's, made before the folder exists
	ctx := context.Background()

	code, stdout, stderr := runIn(t.Context(), []string{"user", "add", "fier", "--users", users, "--password-stdin"}, strings.NewReader("hunter2\n"), nil)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if want := "added user fier in " + users + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if got := modeOf(t, users); got != 0o700 {
		t.Errorf("folder mode %v, want 0700", got)
	}
	file := filepath.Join(users, "fier.ini")
	if got := modeOf(t, file); got != 0o600 {
		t.Errorf("file mode %v, want 0600", got)
	}
	if err := server.Authenticate(ctx, "fier", "hunter2"); err != nil {
		t.Fatalf("the server does not accept the new user: %v", err)
	}
	if err := server.Authenticate(ctx, "fier", "hunter2\n"); !errors.Is(err, auth.ErrWrongPassword) {
		t.Fatalf("the newline of stdin is part of the password: %v", err)
	}
}

func TestUserAddPrompts(t *testing.T) {
	users := t.TempDir()
	r := runUser(t, []string{"add", "fier", "--users", users}, "", "s3cret", "s3cret")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := []string{"New password for fier: ", "Retype the password: "}; strings.Join(r.prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts %q, want %q", r.prompts, want)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Error("the password was echoed")
	}
	d := auth.NewDir(users)
	if err := d.Authenticate(context.Background(), "fier", "s3cret"); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
}

func TestUserAddErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		stdin   string
		answers []string
		want    string
		usage   bool
		prompts int // how many prompts were shown
	}{
		{name: "mismatch", args: []string{"add", "new"}, answers: []string{"one", "two"}, want: "do not match", prompts: 2},
		{name: "empty", args: []string{"add", "new"}, answers: []string{""}, want: "empty password", prompts: 1},
		{name: "no terminal", args: []string{"add", "new"}, want: "--password-stdin", usage: true, prompts: 1},
		{name: "existing user, before asking", args: []string{"add", "fier"}, answers: []string{"x", "x"}, want: `"fstream user passwd fier"`},
		{name: "bad name", args: []string{"add", "../evil"}, answers: []string{"x", "x"}, want: "bad name", usage: true},
		{name: "no name", args: []string{"add"}, want: "accepts 1 arg", usage: true},
		{name: "too long", args: []string{"add", "new", "--password-stdin"}, stdin: strings.Repeat("x", 73), want: "password"},
		{name: "stdin two lines", args: []string{"add", "new", "--password-stdin"}, stdin: "a\nb", want: "more than one line", usage: true},
		{name: "stdin empty", args: []string{"add", "new", "--password-stdin"}, want: "no password", usage: true},
		{name: "passwd of a missing user", args: []string{"passwd", "nobody"}, answers: []string{"x", "x"}, want: `"fstream user add nobody"`},
		{name: "del of a missing user", args: []string{"del", "nobody"}, want: `no user "nobody"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := t.TempDir()
			orig := "password = old\n"
			if err := os.WriteFile(filepath.Join(users, "fier.ini"), []byte(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runUser(t, append(tt.args, "--users", users), tt.stdin, tt.answers...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", r.err, tt.want)
			}
			if got := isA[*usageError](r.err); got != tt.usage {
				t.Errorf("usage error: %v, want %v", got, tt.usage)
			}
			if len(r.prompts) != tt.prompts {
				t.Errorf("prompts %q, want %d", r.prompts, tt.prompts)
			}
			// Nothing changed.
			entries, _ := os.ReadDir(users)
			if len(entries) != 1 {
				t.Errorf("folder holds %d entries, want just fier.ini", len(entries))
			}
			if got, _ := os.ReadFile(filepath.Join(users, "fier.ini")); string(got) != orig {
				t.Errorf("fier.ini changed to %q", got)
			}
		})
	}
}

func TestUserPasswdAndDel(t *testing.T) {
	users := t.TempDir()
	file := filepath.Join(users, "fier.ini")
	if err := os.WriteFile(file, []byte("# roof camera\npassword = old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := auth.NewDir(users)
	ctx := context.Background()

	r := runUser(t, []string{"passwd", "fier", "--users", users}, "", "n3w", "n3w")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := d.Authenticate(ctx, "fier", "n3w"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := d.Authenticate(ctx, "fier", "old"); !errors.Is(err, auth.ErrWrongPassword) {
		t.Fatalf("old password: %v", err)
	}
	if got := modeOf(t, file); got != 0o600 {
		t.Errorf("mode after passwd %v, want 0600", got)
	}
	content, _ := os.ReadFile(file)
	if !strings.Contains(string(content), "# roof camera") || strings.Contains(string(content), "old") {
		t.Errorf("file after passwd:\n%s", content)
	}

	r = runUser(t, []string{"passwd", "fier", "--users", users, "--password-stdin"}, "from-stdin\n")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := d.Authenticate(ctx, "fier", "from-stdin"); err != nil {
		t.Fatalf("password from stdin: %v", err)
	}

	r = runUser(t, []string{"del", "fier", "--users", users}, "")
	if r.err != nil || r.stdout != "deleted user fier from "+users+"\n" {
		t.Fatalf("del: %v, stdout %q", r.err, r.stdout)
	}
	if err := d.Authenticate(ctx, "fier", "from-stdin"); !errors.Is(err, auth.ErrUnknownUser) {
		t.Fatalf("after del: %v", err)
	}
}

func TestUserList(t *testing.T) {
	users := t.TempDir()
	hash, _ := cheapHash("x")
	for name, content := range map[string]string{
		"alice.ini":  "password_hash = " + hash + "\n",
		"bob.ini":    "password = x\n",
		"carol.ini":  "",
		"dave.ini":   "[DEFAULT\n",
		"readme.txt": "not a user",
	} {
		if err := os.WriteFile(filepath.Join(users, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := runUser(t, []string{"list", "--users", users}, "")
	if r.err != nil {
		t.Fatal(r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		"USER   PASSWORD",
		"alice  bcrypt hash",
		`bob    PLAINTEXT: run "fstream user passwd bob" to store a hash`,
		"carol  none: nobody can broadcast as carol",
		"dave   ERROR: auth: parse user file " + filepath.Join(users, "dave.ini"),
	}
	if len(lines) != len(want) {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}

	empty := runUser(t, []string{"list", "--users", t.TempDir()}, "")
	if empty.err != nil || empty.stdout != "" || !strings.HasPrefix(empty.stderr, "no users in ") {
		t.Errorf("empty folder: %v, stdout %q, stderr %q", empty.err, empty.stdout, empty.stderr)
	}
	missing := runUser(t, []string{"list", "--users", filepath.Join(users, "nope")}, "")
	if missing.err == nil || !strings.Contains(missing.err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", missing.err)
	}
}

// TestUserFolderDefault checks where the user commands look: --users, then
// $FSTREAM_USERS, then ./users, as serve does.
func TestUserFolderDefault(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"user", "list"}, nil, defaultUsers},
		{[]string{"user", "list"}, map[string]string{envUsers: "/srv/users"}, "/srv/users"},
		{[]string{"user", "list", "--users", "/x"}, map[string]string{envUsers: "/srv/users"}, "/x"},
	}
	for _, tt := range tests {
		var stdout bytes.Buffer
		s := &streams{Out: &stdout, Err: &stdout, Getenv: func(k string) string { return tt.env[k] }}
		var got string
		cmd := newUserCmdWith(s, (&fakeTerminal{}).read, cheapHash)
		cmd.SetArgs(tt.args[1:])
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		for _, c := range cmd.Commands() {
			if c.Name() == "list" {
				c.RunE = func(c *cobra.Command, _ []string) error {
					got, _ = c.Flags().GetString("users")
					return nil
				}
			}
		}
		if err := cmd.ExecuteContext(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%v with %v: users folder %q, want %q", tt.args, tt.env, got, tt.want)
		}
	}
}

func TestUserHelp(t *testing.T) {
	for _, args := range [][]string{{"user"}, {"user", "--help"}, {"user", "add", "--help"}, {"help", "user", "list"}} {
		r := parse(t, args, nil)
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	r := parse(t, []string{"user", "bogus"}, nil)
	if r.code != exitUsage {
		t.Errorf("user bogus: exit %d, stderr %q", r.code, r.stderr)
	}
}
