package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/auth"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

// gatedAuth is an Authenticator that holds every check until release is
// closed and counts the checks that started: it stretches the window in
// which a bcrypt comparison runs, so that parallel attempts all overlap.
type gatedAuth struct {
	checks  atomic.Int64
	release chan struct{}
}

func (g *gatedAuth) Authenticate(ctx context.Context, user, password string) error {
	g.checks.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return servertest.Auth.Authenticate(ctx, user, password)
}

// statusCounts tallies the reasons of status frames.
type statusCounts struct {
	mu sync.Mutex
	by map[string]int
}

func (s *statusCounts) add(st string) {
	reason := st
	if r, ok := strings.CutPrefix(st, "error,reason="); ok {
		reason, _, _ = strings.Cut(r, ",")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string]int{}
	}
	s.by[reason]++
}

func (s *statusCounts) get(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by[reason]
}

func (s *statusCounts) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.by {
		n += v
	}
	return n
}

// TestParallelLoginsThrottled: 40 wrong passwords sent at once from one
// address must not all reach the password check when 10 failures a minute
// are allowed. The checks are held open until every attempt is either in a
// check or answered, so all 40 overlap whatever the scheduling.
func TestParallelLoginsThrottled(t *testing.T) {
	const attempts, limit = 40, 10
	ga := &gatedAuth{release: make(chan struct{})}
	ts := servertest.Start(t, func(c *server.Config) {
		c.Auth = ga
		c.AuthFailuresPerMinute = limit
	})
	var got statusCounts
	var wg sync.WaitGroup
	for range attempts {
		wg.Go(func() {
			c, err := dialErr(ts.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Write(servertest.Frame("broadcast,ack=1,user=fier,user-password=guess"))
			st, err := servertest.ReadStatus(c)
			if err != nil {
				t.Errorf("read status: %v", err)
				return
			}
			got.add(st)
		})
	}
	servertest.WaitFor(t, "every attempt checked or answered", func() bool {
		return int(ga.checks.Load())+got.total() >= attempts
	})
	close(ga.release)
	wg.Wait()
	checked := ga.checks.Load()
	t.Logf("%d attempts: %d reached the password check, %d unauthorized, %d busy",
		attempts, checked, got.get("unauthorized"), got.get("busy"))
	if checked > limit || got.get("unauthorized") > limit {
		t.Fatalf("%d of %d parallel attempts reached the password check, want at most %d", checked, attempts, limit)
	}
	if got.get("unauthorized")+got.get("busy") != attempts {
		t.Fatalf("answers %v, want only unauthorized and busy", got.by)
	}
	// A right password from the same address now waits too.
	if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123"); !strings.HasPrefix(st, "error,reason=busy,") {
		t.Fatalf("right password after the burst: %q, want busy", st)
	}
}

// Interface check: the gate is a real Authenticator.
var _ auth.Authenticator = (*gatedAuth)(nil)

// dialErr connects to addr; safe off the test goroutine.
func dialErr(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// TestChannelPasswordThrottled: wrong channel passwords are answered
// "forbidden" only as often as the failure budget allows, then "busy";
// watchers of open channels, who give no password, are never throttled.
func TestChannelPasswordThrottled(t *testing.T) {
	// Three a minute: one refills every 20 s, far longer than the test.
	const attempts, limit = 300, 3
	ts := servertest.Start(t, func(c *server.Config) { c.AuthFailuresPerMinute = limit })
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=vip,channel-password=right")
	servertest.MustHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel=open")
	var got statusCounts
	for i := range attempts {
		c, st := servertest.DialHandshake(t, ts.Addr, fmt.Sprintf("watch,user=fier,channel=vip,channel-password=guess%d", i))
		c.Close()
		got.add(st)
	}
	t.Logf("%d wrong channel passwords: %d forbidden, %d busy", attempts, got.get("forbidden"), got.get("busy"))
	if got.get("forbidden") > limit || got.get("forbidden")+got.get("busy") != attempts {
		t.Fatalf("answers %v, want at most %d forbidden and the rest busy", got.by, limit)
	}
	// Even the right password waits now: an answer must not tell it apart.
	if _, st := servertest.DialHandshake(t, ts.Addr, "watch,user=fier,channel=vip,channel-password=right"); !strings.HasPrefix(st, "error,reason=busy,") {
		t.Fatalf("right channel password after the guesses: %q, want busy", st)
	}
	servertest.MustHandshake(t, ts.Addr, "watch,user=fier,channel=open")
	if n := ts.Counters().Handshakes["busy"]; n < attempts-limit {
		t.Fatalf("busy counted %d times, want at least %d", n, attempts-limit)
	}
}

// TestTooLargeAnsweredAtOnce: a frame announcing 4 GiB whose text asks for
// an ack is answered "too-large" as soon as the ack is read, not after the
// handshake timeout (an hour here: a late answer fails the read deadline).
func TestTooLargeAnsweredAtOnce(t *testing.T) {
	ts := servertest.Start(t, func(c *server.Config) { c.HandshakeTimeout = time.Hour })
	for _, text := range []string{"watch,ack=1,user=fier", "watch,user=fier,ack=1"} {
		c := servertest.Dial(t, ts.Addr)
		frame := binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF)
		c.Write(append(append(frame, 0), text...))
		st, err := servertest.ReadStatus(c) // 10 s read deadline
		if err != nil || !strings.HasPrefix(st, "error,reason=too-large,") {
			t.Fatalf("%q with length 0xFFFFFFFF: %q, %v; want too-large at once", text, st, err)
		}
	}
}

// TestDisguisedNamesRefused: a channel name with a bidi override or a
// zero-width space, which would pass for another name on the status page,
// is a bad request.
func TestDisguisedNamesRefused(t *testing.T) {
	ts := servertest.Start(t, nil)
	for _, name := range []string{"cam\u202egnp.exe", "c\u200bam"} {
		if _, st := servertest.DialHandshake(t, ts.Addr, "broadcast,user=fier,user-password=123,channel="+name); !strings.HasPrefix(st, "error,reason=bad-request,") {
			t.Errorf("channel %q: %q, want bad-request", name, st)
		}
	}
}
