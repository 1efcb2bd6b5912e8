//go:build unix

package auth

import (
	"fmt"
	"os"
	"syscall"
)

// chownLike gives path the user and group of ref when the process runs as
// root; otherwise a file already belongs to whoever runs the command, and
// only root could change that.
func chownLike(path, ref string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(ref)
	if err != nil {
		return fmt.Errorf("owner of %s: %w", ref, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give %s the owner of %s: %w", path, ref, err)
	}
	return nil
}
