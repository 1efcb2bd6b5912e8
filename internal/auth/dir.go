package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/ini.v1"

	"github.com/fstream/fstream/internal/protocol"
)

const (
	// userFileExt ends every user file's name: NAME.ini.
	userFileExt = ".ini"
	// keyPassword holds a plaintext password.
	keyPassword = "password"
	// keyPasswordHash holds a bcrypt hash; it wins over keyPassword.
	keyPasswordHash = "password_hash"
	// bcryptMaxPassword is the number of password bytes bcrypt reads; it
	// ignores the rest, so a longer password is refused rather than
	// accepted on its first 72 bytes.
	bcryptMaxPassword = 72
)

// iniOptions make values literal, as Python's configparser reads them:
// passwords may contain '#', ';', quotes or end in '\'.
var iniOptions = ini.LoadOptions{
	InsensitiveKeys:         true,
	IgnoreInlineComment:     true,
	IgnoreContinuation:      true,
	PreserveSurroundedQuote: true,
}

// Dir is an Authenticator backed by a folder holding one NAME.ini file per
// user (see the package documentation for the format). It reads the file at
// every call and keeps no state, so it is safe for concurrent use and sees
// new users without a restart.
type Dir struct {
	path string
	// dummyHash returns a bcrypt hash at the given cost (MinCost to
	// DefaultCost) of a password nobody knows, or nil. Comparisons
	// against it give every decision the same bcrypt work (see
	// spendWork). Tests replace it with cheap ones.
	dummyHash func(cost int) []byte
	// compare is bcrypt.CompareHashAndPassword; tests record the cost of
	// every hash compared.
	compare func(hash, password []byte) error
}

// NewDir returns a Dir reading user files from the folder at path. The
// folder need not exist yet: until it does, every user is unknown.
func NewDir(path string) *Dir {
	return &Dir{path: path, dummyHash: processDummyHash, compare: bcrypt.CompareHashAndPassword}
}

// Path returns the folder d reads.
func (d *Dir) Path() string { return d.path }

// processDummies are bcrypt hashes of a random password nobody knows, one
// per cost from MinCost to DefaultCost, each made on first use (all of them
// together cost about two comparisons at DefaultCost). An entry is nil if
// making it failed; the timing equalisation is then skipped.
var processDummies = func() (hashes [bcrypt.DefaultCost + 1]func() []byte) {
	for cost := bcrypt.MinCost; cost <= bcrypt.DefaultCost; cost++ {
		hashes[cost] = sync.OnceValue(func() []byte {
			h, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
			if err != nil {
				return nil
			}
			return h
		})
	}
	return hashes
}()

// processDummyHash returns the process's dummy hash at cost, nil for a cost
// out of range.
func processDummyHash(cost int) []byte {
	if cost < bcrypt.MinCost || cost > bcrypt.DefaultCost {
		return nil
	}
	return processDummies[cost]()
}

// Authenticate implements Authenticator. Errors wrap ErrUnknownUser,
// ErrWrongPassword or ErrNoPassword (all ErrDenied) for wrong credentials;
// any other error is a problem on the server side, such as a user file that
// cannot be read or parsed, and names the file.
func (d *Dir) Authenticate(ctx context.Context, user, password string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	file, err := d.userFile(user)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnknownUser, err)
	}
	cred, err := readUserFile(file)
	if err != nil {
		// A broken file answers no sooner than a wrong password.
		d.spendWork(0, password)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w %q: %s does not exist", ErrUnknownUser, user, file)
		}
		return err
	}

	switch {
	case cred.hasHash:
		return d.checkHash(file, user, cred.hash, password)
	case cred.hasPassword && cred.password != "":
		d.spendWork(0, password)
		// Digests have one length, so the comparison time does not
		// depend on the stored password's length either.
		want, got := sha256.Sum256([]byte(cred.password)), sha256.Sum256([]byte(password))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			return fmt.Errorf("%w for user %q", ErrWrongPassword, user)
		}
		return nil
	case cred.hasPassword:
		d.spendWork(0, password)
		return fmt.Errorf("%w for user %q: %s has an empty %s", ErrNoPassword, user, file, keyPassword)
	default:
		d.spendWork(0, password)
		return fmt.Errorf("%w for user %q: %s has no %s or %s in [%s]",
			ErrNoPassword, user, file, keyPasswordHash, keyPassword, ini.DefaultSection)
	}
}

// checkHash compares password with a bcrypt hash from file.
func (d *Dir) checkHash(file, user, hash, password string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if hash == "" || err != nil {
		d.spendWork(0, password)
		if hash == "" {
			return fmt.Errorf("%w for user %q: %s has an empty %s", ErrNoPassword, user, file, keyPasswordHash)
		}
		return fmt.Errorf("auth: %s: %s is not a valid bcrypt hash: %w", file, keyPasswordHash, err)
	}
	err = d.compare([]byte(hash), []byte(password))
	d.spendWork(cost, password)
	switch {
	case err == nil && password != "" && len(password) <= bcryptMaxPassword:
		return nil
	case err == nil, errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return fmt.Errorf("%w for user %q", ErrWrongPassword, user)
	default:
		return fmt.Errorf("auth: %s: %s is not a valid bcrypt hash: %w", file, keyPasswordHash, err)
	}
}

// spendWork brings a decision's bcrypt work up to one comparison at
// DefaultCost, so that its time does not tell which users exist or how
// their passwords are stored. done is the cost of the real comparison
// already made, 0 for none. Work doubles with each cost step, so after a
// real comparison at cost c, dummies at c, c+1, ..., DefaultCost-1 add
// exactly what is missing (2^c + 2^c + 2^(c+1) + ... + 2^(D-1) = 2^D).
// Above DefaultCost nothing is added: such a user answers more slowly than
// an unknown one.
func (d *Dir) spendWork(done int, password string) {
	if done == 0 {
		d.spendDummy(bcrypt.DefaultCost, password)
		return
	}
	for cost := max(done, bcrypt.MinCost); cost < bcrypt.DefaultCost; cost++ {
		d.spendDummy(cost, password)
	}
}

// spendDummy compares password with the dummy hash at cost.
func (d *Dir) spendDummy(cost int, password string) {
	if h := d.dummyHash(cost); h != nil {
		_ = d.compare(h, []byte(password))
	}
}

// userFile returns the path of user's file. It refuses any name that is not
// a plain name, so the path never leaves the folder.
func (d *Dir) userFile(user string) (string, error) {
	if err := protocol.ValidateName(user); err != nil {
		return "", fmt.Errorf("user %q: %w", user, err)
	}
	base := user + userFileExt
	if !filepath.IsLocal(base) { // reserved names on Windows, such as "NUL"
		return "", fmt.Errorf("user %q: %w: not a local file name", user, protocol.ErrBadName)
	}
	return filepath.Join(d.path, base), nil
}

// credentials are the keys of a user file's [DEFAULT] section.
type credentials struct {
	hash, password       string
	hasHash, hasPassword bool
}

// readUserFile reads and parses one user file. An error wraps
// fs.ErrNotExist only when the file does not exist.
func readUserFile(file string) (credentials, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return credentials{}, err
	}
	if err != nil {
		return credentials{}, fmt.Errorf("auth: read user file: %w", err) // the os error names the file
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return credentials{}, fmt.Errorf("auth: parse user file %s: %s", file, describeParseError(err))
	}
	sec := f.Section(ini.DefaultSection)
	var c credentials
	if k, err := sec.GetKey(keyPasswordHash); err == nil {
		c.hash, c.hasHash = k.String(), true
	}
	if k, err := sec.GetKey(keyPassword); err == nil {
		c.password, c.hasPassword = k.String(), true
	}
	return c, nil
}

// describeParseError says what is wrong with a user file without quoting
// the offending line, as ini's errors do: in a user file that line may well
// be a password, and the message goes to the server's log.
func describeParseError(err error) string {
	switch {
	case ini.IsErrDelimiterNotFound(err):
		return "a line is neither a [section] header nor key = value"
	case ini.IsErrEmptyKeyName(err):
		return "a line has no key before its '='"
	default:
		return "not a valid INI file (is a [section] header unclosed?)"
	}
}

// Users lists the users of d: the NAME of every NAME.ini file whose NAME is
// a valid user name, sorted. It does not check the files' content. The
// server uses it at start-up to point out an empty folder.
func (d *Dir) Users() ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("auth: list users: %w", err)
	}
	var users []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), userFileExt)
		if !ok || e.IsDir() || protocol.ValidateName(name) != nil {
			continue
		}
		users = append(users, name)
	}
	slices.Sort(users)
	return users, nil
}

// HashPassword returns a bcrypt hash of password at bcrypt.DefaultCost, for
// the password_hash key of a user file. It refuses an empty password and one
// longer than the 72 bytes bcrypt reads.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("auth: hash password: empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// Interface check.
var _ Authenticator = (*Dir)(nil)
