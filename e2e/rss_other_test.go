//go:build !linux

package e2e

import "errors"

// rssKiB is only implemented on Linux.
func rssKiB(int) (int, error) { return 0, errors.New("RSS is only read on Linux") }
