package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The servers, the test users and the raw-protocol helpers come from
// package servertest; what is here only these tests need.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
