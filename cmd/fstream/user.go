package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/protocol"
)

// envUsers names the users folder, as for "fstream serve", so that the user
// commands manage the folder the server reads.
const envUsers = "FSTREAM_USERS"

// defaultUsers is the users folder when neither --users nor $FSTREAM_USERS
// names one; it is serve's default too.
const defaultUsers = "./users"

// maxPasswordInput bounds a password read from stdin.
const maxPasswordInput = 4 << 10

// errNoTerminal means a password had to be typed but stdin is no terminal.
var errNoTerminal = errors.New("stdin is not a terminal")

// passwordReader reads a password typed on the terminal in, without echo,
// after writing prompt to out. Tests replace it.
type passwordReader func(ctx context.Context, in io.Reader, out io.Writer, prompt string) (string, error)

// userOptions is a parsed "fstream user ...".
type userOptions struct {
	Users string
	Name  string
	// PasswordStdin reads the password from stdin instead of asking.
	PasswordStdin bool
	In            io.Reader
	Out, Err      io.Writer
	ReadPassword  passwordReader
	// Hash makes the bcrypt hash of a new password.
	Hash func(password string) (string, error)
}

func newUserCmd(s *streams, readPassword passwordReader) *cobra.Command {
	return newUserCmdWith(s, readPassword, auth.HashPassword)
}

// newUserCmdWith is newUserCmd with the hash function chosen, so that tests
// can hash cheaply.
func newUserCmdWith(s *streams, readPassword passwordReader, hash func(string) (string, error)) *cobra.Command {
	opts := &userOptions{In: s.In, Out: s.Out, Err: s.Err, ReadPassword: readPassword, Hash: hash}
	users := defaultUsers
	if v := s.Getenv(envUsers); v != "" {
		users = v
	}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the users who may broadcast",
		Long: `Add, change, delete and list the users who may broadcast, in the users folder
that "fstream serve --users" reads (one NAME.ini file per user). Passwords are
stored as bcrypt hashes; files are written atomically with mode 0600, and a
running server sees every change at the next handshake, without a restart.

The folder is --users, or $` + envUsers + `, or ` + defaultUsers + `. When run as root,
new files get the folder's owner, so that a server running as its own user
can read them.`,
		Example: `  fstream user add fier --users /etc/fstream/users
  printf '%s\n' "$PASSWORD" | fstream user add fier --password-stdin
  fstream user list`,
		Args: withUsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&opts.Users, "users", users, "`FOLDER` of the users' NAME.ini files")

	nameCmd := func(use, short, long string, run func(context.Context, *userOptions) error) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Long:  long,
			Args:  withUsageArgs(cobra.ExactArgs(1)),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := protocol.ValidateName(args[0]); err != nil {
					return usageErrorf("user name %q: %w", args[0], err)
				}
				opts.Name = args[0]
				return run(cmd.Context(), opts)
			},
		}
		return c
	}
	add := nameCmd("add", "Add a user", `Add a user who may broadcast. The password is asked twice, without echo; with
--password-stdin it is read from stdin instead (one line), for scripts.`, runUserAdd)
	passwd := nameCmd("passwd", "Change a user's password", `Change a user's password. The password is asked twice, without echo; with
--password-stdin it is read from stdin instead (one line). A plaintext
password= line is replaced by a bcrypt password_hash; other lines are kept.`, runUserPasswd)
	for _, c := range []*cobra.Command{add, passwd} {
		c.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin (one line) instead of asking")
	}
	del := nameCmd("del", "Delete a user", "Delete a user: their file goes, and they can no longer broadcast.", runUserDel)
	del.Aliases = []string{"delete", "rm"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users",
		Long: `List the users and how their passwords are stored. Users whose file still holds
a plaintext password= are flagged: "fstream user passwd NAME" replaces it with a
hash.`,
		Aliases: []string{"ls"},
		Args:    withUsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUserList(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(add, passwd, del, list)
	return cmd
}

func runUserAdd(ctx context.Context, opts *userOptions) error {
	d := auth.NewDir(opts.Users)
	// Say so before asking for a password that would be thrown away.
	if exists, err := d.Exists(opts.Name); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("user %q already exists in %s; change the password with \"fstream user passwd %s\"", opts.Name, opts.Users, opts.Name)
	}
	hash, err := newPasswordHash(ctx, opts)
	if err != nil {
		return err
	}
	if err := d.AddUserHash(opts.Name, hash); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "added user %s in %s\n", opts.Name, opts.Users)
	return nil
}

func runUserPasswd(ctx context.Context, opts *userOptions) error {
	d := auth.NewDir(opts.Users)
	if exists, err := d.Exists(opts.Name); err != nil {
		return err
	} else if !exists {
		return fmt.Errorf("no user %q in %s; add it with \"fstream user add %s\"", opts.Name, opts.Users, opts.Name)
	}
	hash, err := newPasswordHash(ctx, opts)
	if err != nil {
		return err
	}
	if err := d.SetPasswordHash(opts.Name, hash); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "changed the password of user %s in %s\n", opts.Name, opts.Users)
	return nil
}

func runUserDel(_ context.Context, opts *userOptions) error {
	if err := auth.NewDir(opts.Users).Delete(opts.Name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no user %q in %s", opts.Name, opts.Users)
		}
		return err
	}
	fmt.Fprintf(opts.Out, "deleted user %s from %s\n", opts.Name, opts.Users)
	return nil
}

func runUserList(_ context.Context, opts *userOptions) error {
	entries, err := auth.NewDir(opts.Users).List()
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("users folder %s does not exist; \"fstream user add NAME\" creates it", opts.Users)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		fmt.Fprintf(opts.Err, "no users in %s\n", opts.Users)
		return nil
	}
	w := tabwriter.NewWriter(opts.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tPASSWORD")
	for _, e := range entries {
		var state string
		switch {
		case e.Err != nil:
			state = "ERROR: " + oneLine(e.Err.Error())
		case e.NoPassword:
			state = "none: nobody can broadcast as " + e.Name
		case e.Plaintext:
			state = fmt.Sprintf("PLAINTEXT: run \"fstream user passwd %s\" to store a hash", e.Name)
		default:
			state = "bcrypt hash"
		}
		fmt.Fprintf(w, "%s\t%s\n", e.Name, state)
	}
	return w.Flush()
}

// newPasswordHash gets a new password, from stdin or asked twice, and
// hashes it.
func newPasswordHash(ctx context.Context, opts *userOptions) (string, error) {
	var password string
	if opts.PasswordStdin {
		pw, err := readPasswordLine(opts.In)
		if err != nil {
			return "", err
		}
		password = pw
	} else {
		first, err := askPassword(ctx, opts.ReadPassword, opts.In, opts.Err, "New password for "+opts.Name+": ")
		if err != nil {
			return "", err
		}
		if first == "" {
			return "", errors.New("empty password")
		}
		again, err := askPassword(ctx, opts.ReadPassword, opts.In, opts.Err, "Retype the password: ")
		if err != nil {
			return "", err
		}
		if again != first {
			return "", errors.New("the passwords do not match; nothing changed")
		}
		password = first
	}
	hash, err := opts.Hash(password)
	if err != nil {
		return "", err
	}
	return hash, nil
}

// askPassword asks for a password on the terminal. Without one, it says how
// to give the password instead.
func askPassword(ctx context.Context, read passwordReader, in io.Reader, out io.Writer, prompt string) (string, error) {
	pw, err := read(ctx, in, out, prompt)
	if errors.Is(err, errNoTerminal) {
		return "", usageErrorf("%w to type a password on: give it with --password-stdin", err)
	}
	return pw, err
}

// readPasswordLine reads a password from in: its one line, without the line
// ending.
func readPasswordLine(in io.Reader) (string, error) {
	if in == nil {
		return "", usageErrorf("--password-stdin: no stdin")
	}
	data, err := io.ReadAll(io.LimitReader(in, maxPasswordInput+1))
	if err != nil {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if len(data) > maxPasswordInput {
		return "", usageErrorf("--password-stdin: stdin holds more than %d bytes; want one line with the password", maxPasswordInput)
	}
	line, ok := bytes.CutSuffix(data, []byte("\n"))
	if ok {
		line, _ = bytes.CutSuffix(line, []byte("\r"))
	}
	switch {
	case len(line) == 0:
		return "", usageErrorf("--password-stdin: stdin holds no password")
	case bytes.ContainsAny(line, "\r\n"):
		return "", usageErrorf("--password-stdin: stdin holds more than one line; want one line with the password")
	}
	return string(line), nil
}

// terminalPassword is the passwordReader of the real command line. It
// reads from in when in is a terminal, and fails with errNoTerminal
// otherwise.
//
// A signal ends ctx while the read is blocked, and a read from a terminal
// cannot be interrupted: it then puts the terminal back the way it was
// (echo on) and returns ctx's error, leaving the read to end with the
// process, which exits at once.
func terminalPassword(ctx context.Context, in io.Reader, out io.Writer, prompt string) (string, error) {
	f, ok := in.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errNoTerminal
	}
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(out, prompt)
	type result struct {
		pw  []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		pw, err := term.ReadPassword(fd)
		done <- result{pw, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(out) // the newline the user typed was not echoed
		if r.err != nil {
			return "", fmt.Errorf("read password: %w", r.err)
		}
		return strings.TrimSuffix(string(r.pw), "\r"), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state) // best effort: the process is ending
		fmt.Fprintln(out)
		return "", ctx.Err()
	}
}
