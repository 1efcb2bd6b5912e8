package hls

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// sigLen is the length of a signature in hex: 128 bits of HMAC-SHA256.
const sigLen = 32

// Signer signs segment URLs of protected channels with a key made at
// start: whoever could read the playlist (with the channel password) may
// fetch its segments until the signature expires, and the password never
// appears in a segment URL, so caches do not keep it in their keys.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer with a fresh random key.
func NewSigner() *Signer {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return &Signer{key: k}
}

func (s *Signer) mac(path string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(m.Sum(nil))[:sigLen]
}

// Sign returns the query (without "?") that lets path be fetched until exp.
// The same path and exp give the same query, so every viewer and every
// playlist reload hands out the same URL and caches keep one copy.
func (s *Signer) Sign(path string, exp time.Time) string {
	e := exp.Unix()
	return "exp=" + strconv.FormatInt(e, 10) + "&sig=" + s.mac(path, e)
}

// Verify checks the exp and sig query values for path at now. It fails
// with ErrBadSignature.
func (s *Signer) Verify(path, exp, sig string, now time.Time) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || len(sig) != sigLen {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(path, e))) || now.Unix() > e {
		return ErrBadSignature
	}
	return nil
}
