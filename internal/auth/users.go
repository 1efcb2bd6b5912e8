package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// User management: the writing side of the users folder that Dir reads.
// Every change replaces a user file atomically (a temporary file in the same
// folder, then a rename), so a server reading the folder at the same time
// sees either the old file or the new one, never half of one.

const (
	// dirMode is the mode of a users folder this package creates: only its
	// owner may list it.
	dirMode = 0o700
	// fileMode is the mode of every user file this package writes.
	fileMode = 0o600
	// defaultSectionHeader is written at the top of a new user file.
	defaultSectionHeader = "[DEFAULT]"
)

// Sentinel errors of user management.
var (
	// ErrUserExists means AddUser found a file for the user already.
	ErrUserExists = errors.New("auth: user already exists")
	// ErrUnsafeEdit means a user file is written in a way this package
	// cannot rewrite with certainty (the result would not hold exactly
	// the new hash), so it leaves the file alone.
	ErrUnsafeEdit = errors.New("auth: cannot update user file safely")
)

// UserEntry describes one user file, as List reports it.
type UserEntry struct {
	// Name is the user name, the file's name without ".ini".
	Name string
	// File is the path of the user file.
	File string
	// Plaintext reports that the file stores the password itself
	// (password=) and no password_hash: it works, but anyone who can read
	// the file learns the password. "fstream user passwd" replaces it.
	Plaintext bool
	// NoPassword reports that the file has no usable password, so nobody
	// can broadcast as this user.
	NoPassword bool
	// Err is set when the file cannot be read or parsed; the server
	// refuses the user and logs the same problem.
	Err error
	// Cost is the bcrypt cost of the password_hash, 0 when there is none
	// (or it is not a bcrypt hash). Below WeakCost a hash is quick to
	// crack if the file leaks.
	Cost int
}

// WeakCost is the bcrypt cost below which a stored hash is reported as
// weak: bcrypt.DefaultCost, what HashPassword uses. "htpasswd -nB" makes
// cost 5 unless given -C.
const WeakCost = bcrypt.DefaultCost

// List describes every user of d, sorted by name. It reads each file, so it
// can point out plaintext passwords and broken files. An error wraps
// fs.ErrNotExist when the folder does not exist.
func (d *Dir) List() ([]UserEntry, error) {
	names, err := d.Users()
	if err != nil {
		return nil, err
	}
	entries := make([]UserEntry, 0, len(names))
	for _, name := range names {
		file, err := d.userFile(name)
		if err != nil {
			continue // Users only returns valid names; this is a reserved one
		}
		e := UserEntry{Name: name, File: file}
		cred, err := readUserFile(file)
		switch {
		case err != nil:
			e.Err = err
		case cred.hasHash:
			e.NoPassword = cred.hash == ""
			e.Cost, _ = bcrypt.Cost([]byte(cred.hash))
		case cred.hasPassword:
			e.Plaintext = true
			e.NoPassword = cred.password == ""
		default:
			e.NoPassword = true
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Exists reports whether user name has a file in d. An error means the
// name is not a valid user name or the folder cannot be read.
func (d *Dir) Exists(name string) (bool, error) {
	file, err := d.userFile(name)
	if err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	_, err = os.Lstat(file)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("auth: %w", err)
	}
}

// AddUser creates the file of a new user with a bcrypt hash of password
// (see HashPassword), creating the folder (mode 0700) if needed. It fails
// with ErrUserExists if the user has a file already.
func (d *Dir) AddUser(name, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return d.AddUserHash(name, hash)
}

// AddUserHash is AddUser with a bcrypt hash made by the caller, such as
// one from "htpasswd -nB" or HashPassword.
func (d *Dir) AddUserHash(name, hash string) error {
	if err := checkBcrypt(hash); err != nil {
		return err
	}
	return d.writeHash(name, hash, mustNotExist)
}

// SetPassword replaces the password of an existing user with a bcrypt hash
// of password. Any plaintext password= line goes; other lines of the file,
// comments included, are kept. An error wraps fs.ErrNotExist when the user
// has no file.
func (d *Dir) SetPassword(name, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return d.SetPasswordHash(name, hash)
}

// SetPasswordHash is SetPassword with a bcrypt hash made by the caller.
func (d *Dir) SetPasswordHash(name, hash string) error {
	if err := checkBcrypt(hash); err != nil {
		return err
	}
	return d.writeHash(name, hash, mustExist)
}

// checkBcrypt refuses anything but one bcrypt hash, so that a mistake (a
// password passed as a hash) cannot lock a user out or end up in a file.
func checkBcrypt(hash string) error {
	if _, err := bcrypt.Cost([]byte(hash)); err != nil || strings.ContainsFunc(hash, unicode.IsSpace) {
		return errors.New("auth: password_hash: not a bcrypt hash")
	}
	return nil
}

// Delete removes the file of a user. An error wraps fs.ErrNotExist when the
// user has no file.
func (d *Dir) Delete(name string) error {
	file, err := d.userFile(name)
	if err != nil {
		return fmt.Errorf("auth: delete user: %w", err)
	}
	if err := os.Remove(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("auth: delete user %q: %w (no file %s)", name, fs.ErrNotExist, file)
		}
		return fmt.Errorf("auth: delete user %q: %w", name, err)
	}
	return nil
}

// existence is what writeHash requires of the user's file.
type existence int

const (
	mustNotExist existence = iota
	mustExist
)

// writeHash stores hash as the password_hash of user name, creating or
// rewriting the file as want says.
func (d *Dir) writeHash(name, hash string, want existence) error {
	file, err := d.userFile(name)
	if err != nil {
		return fmt.Errorf("auth: write user: %w", err)
	}
	old, err := os.ReadFile(file)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("auth: write user %q: %w", name, err)
	case want == mustNotExist && exists:
		return fmt.Errorf("%w: %q (%s)", ErrUserExists, name, file)
	case want == mustExist && !exists:
		return fmt.Errorf("auth: user %q: %w (no file %s)", name, fs.ErrNotExist, file)
	}

	var content []byte
	owner := d.path // whose user and group the file gets, when run as root
	if exists {
		content = replaceHash(old, hash)
		owner = file
	} else {
		content = []byte(defaultSectionHeader + "\n" + keyPasswordHash + " = " + hash + "\n")
	}
	if err := os.MkdirAll(d.path, dirMode); err != nil {
		return fmt.Errorf("auth: create users folder: %w", err)
	}
	// Read the new file back the way the server will before it replaces
	// anything: an odd file (quoted keys, multi-line values) could
	// otherwise end up with the old password still in force.
	verify := func(tmp string) error {
		if err := checkHash(tmp, hash); err != nil {
			return fmt.Errorf("%w %s: %w; edit it by hand, or delete the user and add it again", ErrUnsafeEdit, file, err)
		}
		return nil
	}
	if err := writeFileAtomic(file, content, owner, verify); err != nil {
		return fmt.Errorf("auth: write user %q: %w", name, err)
	}
	return nil
}

// checkHash reports whether file, read as Dir reads a user file, holds
// exactly hash as its password_hash and no plaintext password.
func checkHash(file, hash string) error {
	cred, err := readUserFile(file)
	switch {
	case err != nil:
		return errors.New("the result would not parse")
	case !cred.hasHash || cred.hash != hash:
		return errors.New("the new password_hash would not be read back")
	case cred.hasPassword:
		return errors.New("a plaintext password would remain")
	}
	return nil
}

// replaceHash returns a user file's content with every password and
// password_hash key of the default section removed and one password_hash
// line for hash added: at the top, where keys belong to the default section
// whatever headers follow. Other lines stay as they are.
func replaceHash(old []byte, hash string) []byte {
	var out bytes.Buffer
	out.WriteString(keyPasswordHash + " = " + hash + "\n")
	inDefault := true // keys before any header are in the default section
	for line := range bytes.Lines(old) {
		trimmed := strings.TrimSpace(string(line))
		if strings.HasPrefix(trimmed, "[") {
			section, _, _ := strings.Cut(strings.TrimPrefix(trimmed, "["), "]")
			inDefault = strings.TrimSpace(section) == defaultSectionName
		} else if inDefault && isPasswordKey(trimmed) {
			continue
		}
		out.Write(line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

// defaultSectionName is the name of the section Dir reads.
const defaultSectionName = "DEFAULT"

// isPasswordKey reports whether a trimmed line sets password or
// password_hash (key names are case-insensitive; '=' and ':' both separate
// a key from its value).
func isPasswordKey(line string) bool {
	i := strings.IndexAny(line, "=:")
	if i < 0 {
		return false
	}
	key := strings.ToLower(strings.TrimSpace(line[:i]))
	return key == keyPassword || key == keyPasswordHash
}

// writeFileAtomic replaces file with content, mode 0600: it writes a
// temporary file in the same folder, syncs it, passes its name to verify
// and, if verify accepts it, renames it over file. Run as root, it gives
// the file the user and group of owner. The temporary name does not end in
// ".ini", so Users never lists it.
func writeFileAtomic(file string, content []byte, owner string, verify func(tmp string) error) (err error) {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // may already be closed
			_ = os.Remove(tmp.Name()) // best effort; the error says what failed
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := verify(tmp.Name()); err != nil {
		return err
	}
	// "sudo fstream user add" would otherwise leave a file that belongs to
	// root, which a server running as its own user cannot read.
	if err := chownLike(tmp.Name(), owner); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. Failing is not an error: some
// systems cannot sync a folder, and the rename itself is done.
func syncDir(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = f.Sync()
	_ = f.Close()
}
