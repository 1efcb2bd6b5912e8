//go:build !linux

package bench

import "syscall"

// childAttr returns no special attributes on this system.
func childAttr() *syscall.SysProcAttr { return nil }
