package server

import "errors"

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("server: closed")

// ErrThrottled means a watcher's address, or the channel it asked for, has
// made too many failed channel-password attempts lately; the watcher is
// refused without its password being checked.
var ErrThrottled = errors.New("server: too many failed channel passwords")
