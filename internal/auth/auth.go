package auth

import (
	"context"
	"errors"
	"fmt"
)

// Authenticator decides who may broadcast. Implementations must be safe for
// concurrent use. Authenticate returns nil when password is user's password,
// an error wrapping ErrDenied when the credentials are wrong, and any other
// error when it could not decide (the server refuses in both cases, but logs
// the second kind as a server-side failure).
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string) error
}

// Sentinel errors. ErrUnknownUser, ErrWrongPassword and ErrNoPassword all
// wrap ErrDenied so that callers who only need allow/deny check ErrDenied;
// the server logs the detail and gives the peer one generic answer.
var (
	ErrDenied        = errors.New("auth: denied")
	ErrUnknownUser   = fmt.Errorf("%w: unknown user", ErrDenied)
	ErrWrongPassword = fmt.Errorf("%w: wrong password", ErrDenied)
	// ErrNoPassword means the user exists but has no usable password
	// configured (none, or an empty one), so nobody may log in as it.
	ErrNoPassword = fmt.Errorf("%w: no password set", ErrDenied)
)

// Func adapts a function to the Authenticator interface.
type Func func(ctx context.Context, user, password string) error

// Authenticate calls f.
func (f Func) Authenticate(ctx context.Context, user, password string) error {
	return f(ctx, user, password)
}
