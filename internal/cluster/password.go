package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Channel passwords travel through the directory only as argon2id hashes in
// the PHC string format ("$argon2id$v=19$m=4096,t=1,p=1$SALT$HASH"), with a
// random salt per entry. argon2id, not a plain salted HMAC, because the
// directory is readable by every holder of the cluster's NATS credentials
// and by anyone who gets a copy of its store, and channel passwords are
// often short PINs: a fast hash would give them up to a GPU in seconds. The
// parameters are light (4 MiB, one pass: a few milliseconds) because every
// remote watcher join checks one; results are cached per entry and
// password, and concurrent checks are bounded, so a flood of joins costs at
// most GOMAXPROCS checks at a time and 4 MiB each.
const (
	argonTime    = 1
	argonMemory  = 4 << 10 // KiB
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	// Bounds on the parameters a stored hash may ask for, so that a
	// foreign entry cannot make every join burn memory or time.
	maxArgonMemory  = 64 << 10 // KiB
	maxArgonTime    = 4
	maxArgonThreads = 4

	// maxCachedChecks bounds the check cache; it is cleared when full.
	maxCachedChecks = 4096
)

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of an argon2id hash of pw with a new
// random salt.
func hashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // never fails; it crashes the program instead
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// argonHash is a parsed PHC string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parsePasswordHash parses and bounds a PHC argon2id string.
func parsePasswordHash(s string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return h, fmt.Errorf("%w: password hash is not argon2id v=%d", ErrMalformed, argon2.Version)
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &threads); err != nil ||
		fmt.Sprintf("m=%d,t=%d,p=%d", h.memory, h.time, threads) != parts[3] {
		return h, fmt.Errorf("%w: password hash parameters %.40q", ErrMalformed, parts[3])
	}
	if h.memory < 8 || h.memory > maxArgonMemory || h.time < 1 || h.time > maxArgonTime || threads < 1 || threads > maxArgonThreads {
		return h, fmt.Errorf("%w: password hash parameters %s out of bounds", ErrMalformed, parts[3])
	}
	h.threads = uint8(threads)
	var err error
	if h.salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return h, fmt.Errorf("%w: password hash salt", ErrMalformed)
	}
	if h.key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, fmt.Errorf("%w: password hash key", ErrMalformed)
	}
	return h, nil
}

// passwordChecker checks passwords against stored hashes, caching results
// and bounding concurrent argon2 runs. It is safe for concurrent use.
type passwordChecker struct {
	sem chan struct{}

	mu    sync.Mutex
	cache map[[sha256.Size]byte]bool // guarded by mu
}

func newPasswordChecker() *passwordChecker {
	return &passwordChecker{
		sem:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		cache: make(map[[sha256.Size]byte]bool),
	}
}

// check reports whether pw matches the PHC string stored. A malformed hash
// matches nothing.
func (c *passwordChecker) check(stored, pw string) bool {
	// The cache key binds the password to this very hash (its salt is
	// new at every claim), so a result never carries over to another
	// entry.
	ck := sha256.Sum256([]byte(stored + "\x00" + pw))
	c.mu.Lock()
	ok, hit := c.cache[ck]
	c.mu.Unlock()
	if hit {
		return ok
	}
	h, err := parsePasswordHash(stored)
	if err != nil {
		return false
	}
	c.sem <- struct{}{}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	<-c.sem
	ok = subtle.ConstantTimeCompare(key, h.key) == 1
	c.mu.Lock()
	if len(c.cache) >= maxCachedChecks {
		clear(c.cache)
	}
	c.cache[ck] = ok
	c.mu.Unlock()
	return ok
}
