package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// UserChecker is implemented by Authenticators that can tell, without a
// password, whether a user may still broadcast. The server asks it when a
// one-time token is redeemed, so that a token issued before its user was
// removed (or lost its password) is refused.
type UserChecker interface {
	// CheckUser returns nil if user exists and has a usable password, an
	// error wrapping ErrDenied if not, and any other error when it could
	// not tell.
	CheckUser(ctx context.Context, user string) error
}

// CheckUser implements UserChecker: user must have a file with a non-empty
// password_hash or password.
func (d *Dir) CheckUser(ctx context.Context, user string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	file, err := d.userFile(user)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnknownUser, err)
	}
	cred, err := readUserFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w %q: %s does not exist", ErrUnknownUser, user, file)
	case err != nil:
		return err
	case cred.hasHash && cred.hash != "", !cred.hasHash && cred.password != "":
		return nil
	}
	return fmt.Errorf("%w for user %q: %s has no usable password", ErrNoPassword, user, file)
}

// Interface check.
var _ UserChecker = (*Dir)(nil)
