package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/protocol"
	"github.com/fstream/fstream/internal/server"
)

const (
	// passwordOKFor is how long a channel password that opened a playlist
	// is believed without asking the hub again: players reload the
	// playlist every few seconds. After a broadcaster changes the password,
	// the old one opens playlists this much longer.
	passwordOKFor = 30 * time.Second
	// maxPasswordOKs bounds the passwords remembered.
	maxPasswordOKs = 10_000
)

// errPasswordChecked ends the watcher path once the password was accepted.
var errPasswordChecked = errors.New("httpapi: hls password checked")

// passwordCache remembers channel passwords that opened a playlist.
type passwordCache struct {
	mu sync.Mutex
	ok map[[sha256.Size]byte]time.Time // until when
}

func cacheKey(key hub.Key, password string) [sha256.Size]byte {
	return sha256.Sum256([]byte(key.User + "\x00" + key.Channel + "\x00" + password))
}

func (c *passwordCache) valid(k [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Before(c.ok[k])
}

func (c *passwordCache) add(k [sha256.Size]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok == nil {
		c.ok = make(map[[sha256.Size]byte]time.Time)
	}
	if len(c.ok) >= maxPasswordOKs {
		for x, until := range c.ok {
			if !now.Before(until) {
				delete(c.ok, x)
			}
		}
		if len(c.ok) >= maxPasswordOKs {
			return
		}
	}
	c.ok[k] = now.Add(passwordOKFor)
}

// checkChannelPassword checks a playlist request's channel password through
// the watcher path (server.ServeWatcher), leaving as soon as it joined: the
// same refusals, counters and throttle of wrong passwords as /watch. A
// password that passed is believed for passwordOKFor.
func (a *API) checkChannelPassword(ctx context.Context, key hub.Key, password, remote string) error {
	ck := cacheKey(key, password)
	if a.hlsPasswords.valid(ck, a.now()) {
		return nil
	}
	err := a.srv.ServeWatcher(ctx, server.WatchRequest{
		User: key.User, Channel: key.Channel, Password: password,
		Params: map[string]string{protocol.KeyJoin: string(hub.JoinLive)},
		Remote: remote, Via: "hls",
	}, discardSink{}, func() error { return errPasswordChecked })
	if !errors.Is(err, errPasswordChecked) {
		return err
	}
	a.hlsPasswords.add(ck, a.now())
	return nil
}

// discardSink is the sink of a watcher that leaves before any byte.
type discardSink struct{}

func (discardSink) Write(p []byte) (int, error)      { return len(p), nil }
func (discardSink) SetWriteDeadline(time.Time) error { return nil }
