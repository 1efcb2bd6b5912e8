package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fstream/fstream/internal/protocol"
)

// Several addresses, waiting and reconnecting.
//
// Broadcast and Watch connect to the first address of Options.Addr that
// takes their handshake. With Options.Reconnect they carry on after a lost
// connection: they go round the addresses, starting after the one that was
// lost, with backoff between rounds, for at most Options.Reconnect. What is
// lost in between:
//
//   - A broadcaster's bytes in flight on the dead connection: those its
//     kernel had sent but the server never read, and the chunk whose write
//     failed. Its input is not read while it reconnects, so the source (a
//     pipe from ffmpeg) is held back, not dropped.
//   - A watcher's bytes broadcast while it was away. On the new server it
//     joins like any watcher, by default at the latest keyframe (join=gop),
//     so a player sees a clean cut rather than corruption. It asks the new
//     server to hold it (wait=1) until the broadcaster has failed over too.
//
// A refusal is not retried (a wrong password stays wrong), nor is a
// broadcast that was taken over or kicked; a server shutting down or busy
// is.

const (
	// backoffMin and backoffMax bound the sleep between rounds of attempts.
	backoffMin = 250 * time.Millisecond
	backoffMax = 5 * time.Second
)

// failover is the addresses of one Broadcast or Watch call and where it
// is among them.
type failover struct {
	opts  Options
	cmd   protocol.Command
	src   io.Reader // a broadcaster's input; nil for a watcher
	addrs []string
	next  int  // index of the address to try first
	told  bool // said that it waits for the channel
}

func newFailover(opts Options, cmd protocol.Command, src io.Reader) (*failover, error) {
	addrs, err := SplitAddrs(opts.Addr)
	if err != nil {
		return nil, err
	}
	return &failover{opts: opts, cmd: cmd, src: src, addrs: addrs}, nil
}

// SplitAddrs splits a comma-separated list of addresses and checks each
// with NormalizeAddr. It returns them as given.
func SplitAddrs(list string) ([]string, error) {
	parts := strings.Split(list, ",")
	for i, a := range parts {
		a = strings.TrimSpace(a)
		if _, _, err := NormalizeAddr(a); err != nil {
			return nil, err
		}
		parts[i] = a
	}
	return parts, nil
}

func (f *failover) notify(format string, args ...any) {
	if f.opts.Notify != nil {
		f.opts.Notify(fmt.Sprintf(format, args...))
	}
}

func (f *failover) channel() string {
	ch := f.opts.Request.Channel
	if ch == "" {
		ch = protocol.DefaultChannel
	}
	return f.opts.Request.User + "/" + ch
}

// broadcast runs Broadcast: stream, and on a lost connection reconnect and
// stream on, until the input ends.
func (f *failover) broadcast(ctx context.Context) error {
	s, err := f.dial(ctx, dialPlan{})
	if err != nil {
		return err
	}
	closeTimeout := orDefault(f.opts.CloseTimeout, DefaultCloseTimeout)
	for {
		err := s.broadcast(f.src, closeTimeout)
		s.close()
		if err == nil || f.opts.Reconnect <= 0 || s.inputEnded || ctx.Err() != nil || !retryable(err) {
			return err
		}
		if s, err = f.reconnect(ctx, s, err, false); err != nil {
			return err
		}
	}
}

// watch runs Watch: stream, and with Reconnect go on after a lost
// connection or the end of the stream, for as long as some server has the
// channel live again within Reconnect.
func (f *failover) watch(ctx context.Context, dst io.Writer) error {
	s, err := f.dial(ctx, dialPlan{wait: f.opts.Wait, timeout: f.opts.WaitTimeout})
	if err != nil {
		return err
	}
	for {
		err := s.watch(dst)
		s.close()
		if f.opts.Reconnect <= 0 || ctx.Err() != nil || (err != nil && !retryable(err)) {
			return err
		}
		ns, rerr := f.reconnect(ctx, s, err, true)
		if rerr != nil {
			if ctx.Err() == nil && errors.Is(rerr, ErrGaveUp) {
				// Nobody has the channel any more: the stream is over,
				// the way it ended says how.
				return err
			}
			return rerr
		}
		s = ns
	}
}

// reconnect reports the loss of s and dials again, starting after s's
// address.
func (f *failover) reconnect(ctx context.Context, s *session, lost error, wait bool) (*session, error) {
	why := "the stream ended"
	if lost != nil {
		why = lost.Error()
	}
	f.notify("lost %s (%s); reconnecting for up to %v", s.addr, why, f.opts.Reconnect)
	for i, a := range f.addrs {
		if a == s.addr {
			f.next = (i + 1) % len(f.addrs)
		}
	}
	ns, err := f.dial(ctx, dialPlan{wait: wait, timeout: f.opts.Reconnect, reconnect: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f.notify("no server took %s back within %v", f.channel(), f.opts.Reconnect)
		if lost != nil && errors.Is(err, ErrGaveUp) {
			return nil, fmt.Errorf("%w (%w)", err, lost)
		}
		return nil, err
	}
	f.notify("reconnected to %s", ns.addr)
	return ns, nil
}

// dialPlan says how hard dial tries.
type dialPlan struct {
	// wait asks a watcher's servers to hold it until the channel is live,
	// and asks again, with backoff, a server too old to do so.
	wait bool
	// timeout bounds the whole dial; zero means none (ctx only).
	timeout time.Duration
	// reconnect retries what a lost connection may have hit: servers that
	// cannot be reached, that are busy or shutting down.
	reconnect bool
}

// dial connects to the first address, from f.next on, that takes the
// handshake. Without anything to wait for it tries each address once;
// with it, it goes round them with backoff until one does, timeout passes
// or an error says that trying again is pointless.
func (f *failover) dial(ctx context.Context, plan dialPlan) (*session, error) {
	dctx := ctx
	if plan.timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, plan.timeout)
		defer cancel()
	}
	f.told = false
	backoff := backoffMin
	var last error
	for {
		again := false
		for i := range f.addrs {
			k := (f.next + i) % len(f.addrs)
			s, err := f.connectOne(ctx, dctx, f.addrs[k], plan.wait)
			if err == nil {
				f.next = k
				return s, nil
			}
			switch {
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case dctx.Err() != nil:
				return nil, f.gaveUp(plan, last)
			case plan.wait && isRefusal(err, protocol.ReasonNotFound):
				if !f.told {
					f.told = true
					f.notify("waiting for %s to go live…", f.channel())
				}
				again = true
			case plan.reconnect && retryable(err):
				again = true
			default:
				if len(f.addrs) == 1 || !retryable(err) {
					return nil, err
				}
			}
			last = err
		}
		if !again {
			return nil, last
		}
		select {
		case <-time.After(backoff):
		case <-dctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, f.gaveUp(plan, last)
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// gaveUp is dial's error when its timeout passed.
func (f *failover) gaveUp(plan dialPlan, last error) error {
	if plan.wait && !plan.reconnect && (last == nil || isRefusal(last, protocol.ReasonNotFound)) {
		return &protocol.RefusedError{Reason: protocol.ReasonNotFound,
			Message: fmt.Sprintf("%s did not go live within %v", f.channel(), plan.timeout)}
	}
	if last == nil {
		return fmt.Errorf("%w within %v", ErrGaveUp, plan.timeout)
	}
	return fmt.Errorf("%w within %v: %w", ErrGaveUp, plan.timeout, last)
}

// connectOne connects to addr, with the attempt bounded by dctx, and
// hands the session over to ctx.
func (f *failover) connectOne(ctx, dctx context.Context, addr string, wait bool) (*session, error) {
	opts := f.opts
	opts.Addr = addr
	var onWaiting func()
	if wait {
		onWaiting = func() {
			if !f.told {
				f.told = true
				f.notify("waiting for %s to go live…", f.channel())
			}
		}
	}
	s, _, err := connect(dctx, opts, f.cmd, f.src, onWaiting)
	if err != nil || dctx == ctx {
		return s, err
	}
	// The stream outlives the dial's bound.
	s.stopCancel()
	if err := dctx.Err(); err != nil {
		_ = s.conn.Close() // the bound ended just as the handshake did
		return nil, err
	}
	s.ctx = ctx
	s.stopCancel = closeOnCancel(ctx, s.raw, f.src)
	return s, nil
}

// retryable reports whether another attempt, on this server or another,
// may succeed where err failed.
func retryable(err error) bool {
	if cut, ok := errors.AsType[*CutError](err); ok {
		return cut.Reason == protocol.ReasonShutdown
	}
	if ref, ok := errors.AsType[*protocol.RefusedError](err); ok {
		return ref.Reason == protocol.ReasonBusy || ref.Reason == protocol.ReasonNotFound
	}
	for _, final := range []error{ErrBadAddr, ErrBadRequest, ErrReadInput, ErrWriteOutput, ErrCloseTimeout,
		ErrTLSVerify, ErrNotTLS, ErrHTTPPort, context.Canceled} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

func isRefusal(err error, reason protocol.Reason) bool {
	ref, ok := errors.AsType[*protocol.RefusedError](err)
	return ok && ref.Reason == reason
}
