//go:build !unix

package main

import "os"

// pollableStdin returns stdin as it is: outside Unix a read of an idle
// stdin cannot be interrupted, and a broadcast the server ended notices it
// at its next input.
func pollableStdin() (f *os.File, restore func()) { return os.Stdin, func() {} }
