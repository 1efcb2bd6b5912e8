package client

import (
	"io"
	"testing"
)

// Helpers of the in-package tests, for the tests in package client_test:
// those run a real server, and the server imports this package (to pull
// channels from other nodes), so they cannot live inside it.
var (
	Opts          = opts
	StreamData    = streamData
	SendStatus    = sendStatus
	StartFake     = startFake
	ReadHandshake = readHandshake
	WatchReq      = watchReq
)

// FailReader is an input that fails the test if it is read.
func FailReader(t *testing.T) io.Reader { return failReader{t} }

// SyncBuffer is the in-package test type, for package client_test.
type SyncBuffer = syncBuffer
