package server

import (
	"context"
	"fmt"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/protocol"
)

// checkCredentials decides a broadcast or token request: a one-time token
// if the request gives one (and the token's user may still broadcast),
// else the user's password.
func (s *Server) checkCredentials(ctx context.Context, req protocol.Request) error {
	token, ok := req.Params[protocol.KeyToken]
	if !ok || req.Command != protocol.CommandBroadcast {
		return s.cfg.Auth.Authenticate(ctx, req.User, req.UserPassword)
	}
	if s.cfg.Tokens == nil {
		return fmt.Errorf("%w: tokens are not enabled", auth.ErrDenied)
	}
	if err := s.cfg.Tokens.Redeem(req.User, token); err != nil {
		return err
	}
	// A token outlives nothing: a user removed since it was issued is
	// refused. Authenticators that cannot tell (an auth URL) rely on the
	// token's short lifetime.
	if uc, ok := s.cfg.Auth.(auth.UserChecker); ok {
		if err := uc.CheckUser(ctx, req.User); err != nil {
			return fmt.Errorf("token of a user who may no longer broadcast: %w", err)
		}
	}
	return nil
}
