//go:build !unix

package httpapi

import (
	"errors"
	"os"
)

// pauseProcess cannot stop a process here; the test that needs it skips.
func pauseProcess(*os.Process) error { return errors.ErrUnsupported }

func resumeProcess(*os.Process) error { return errors.ErrUnsupported }
