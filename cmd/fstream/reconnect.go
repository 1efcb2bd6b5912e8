package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/fstream/fstream/internal/client"
)

// defaultReconnectTimeout bounds a reconnect when --reconnect-timeout is
// not given.
const defaultReconnectTimeout = 30 * time.Second

// reconnectFlags are --reconnect and --reconnect-timeout, shared by watch
// and broadcast.
type reconnectFlags struct {
	enable  bool
	timeout time.Duration
}

func (f *reconnectFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.enable, "reconnect", false, "on a lost connection, try ADDR's addresses again (h1:61920,h2:61920) and carry on")
	fs.DurationVar(&f.timeout, "reconnect-timeout", defaultReconnectTimeout, "how long to try to reconnect before giving up")
}

// apply sets the client's reconnect bound; every error is a usage error.
func (f *reconnectFlags) apply(fs *pflag.FlagSet, c *client.Options) error {
	if f.timeout <= 0 {
		return usageErrorf("--reconnect-timeout %v must be positive", f.timeout)
	}
	if fs.Changed("reconnect-timeout") && !f.enable {
		return usageErrorf("--reconnect-timeout needs --reconnect")
	}
	if f.enable {
		c.Reconnect = f.timeout
	}
	return nil
}

// notifier writes the client's notes as "fstream: ..." lines.
func notifier(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintln(w, "fstream: "+msg) }
}
