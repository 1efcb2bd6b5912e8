package main

import (
	"log/slog"
	"strings"

	"github.com/fstream/fstream/internal/auth"
)

// warnWeakHashes names the users whose bcrypt hashes are cheaper than the
// default cost: quick to crack if the users folder leaks. Their logins are
// padded to the default cost, so timing does not single them out.
func warnWeakHashes(logger *slog.Logger, users *auth.Dir) {
	entries, err := users.List()
	if err != nil {
		return // logUsers has reported the folder already
	}
	var weak []string
	for _, e := range entries {
		if e.Cost > 0 && e.Cost < auth.WeakCost {
			weak = append(weak, e.Name)
		}
	}
	if len(weak) > 0 {
		logger.Warn("weak password hashes: bcrypt cost below the default; run `fstream user passwd NAME` for each",
			"users", strings.Join(weak, ","), "min_cost", auth.WeakCost)
	}
}
