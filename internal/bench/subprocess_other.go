//go:build !linux

package bench

import "syscall"

// subprocessAttr returns no special attributes on this system.
func subprocessAttr() *syscall.SysProcAttr { return nil }
