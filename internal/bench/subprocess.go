package bench

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// subprocessStopTimeout is how long a subprocess has to exit after
	// SIGTERM before it is killed; the server itself gives up on a
	// graceful shutdown after 5 s.
	subprocessStopTimeout = 10 * time.Second
	// readyPoll is how often a starting subprocess is probed.
	readyPoll = 20 * time.Millisecond
	// outputTail is how much of a subprocess's output is kept to explain
	// a failure.
	outputTail = 4 << 10
)

// subprocess is a program the bench runs beside itself on a loopback port:
// the child server or ncat. It runs in its own process group, so that a
// Ctrl-C meant for the bench does not stop it mid-run (on Linux it gets
// SIGTERM if the bench dies); it counts as ready once it accepts a
// connection; its CPU time and memory come from /proc (usage); stop ends
// it with SIGTERM, kills it if it outlives the stop's context, and reaps
// it. The goroutine that waits for it belongs to it: stop returns only
// once that goroutine has.
type subprocess struct {
	name     string // for messages: "server", "ncat"
	addr     string // where it listens
	cmd      *exec.Cmd
	out      *tailBuffer   // the end of its stdout and stderr
	exited   chan struct{} // closed once Wait returned
	waitErr  error         // Wait's result, valid once exited is closed
	stopOnce sync.Once
	stopErr  error
}

// startSubprocess starts argv, which is to listen on addr, and waits until
// it does or ctx ends. ctx bounds only that wait: the subprocess lives
// until stop, so that an interrupted bench can still measure and tear down
// what runs under it.
func startSubprocess(ctx context.Context, name, addr string, argv []string) (*subprocess, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	out := &tailBuffer{max: outputTail}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = subprocessAttr()
	// Wait returns this long after the exit even if a grandchild still
	// holds the output pipe.
	cmd.WaitDelay = subprocessStopTimeout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &subprocess{name: name, addr: addr, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { // owned by p: stop waits for exited
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, ioTimeout); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), subprocessStopTimeout)
		_ = p.stop(ctx) // the start error says what matters
		cancel()
		return nil, err
	}
	return p, nil
}

// pid is the subprocess's process id.
func (p *subprocess) pid() int { return p.cmd.Process.Pid }

// waitReady polls until the subprocess accepts a connection. The probe
// sends nothing: a server logs one failed handshake, a broker sees a
// client come and go.
func (p *subprocess) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	for {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		conn, err := d.DialContext(dctx, "tcp", p.addr)
		cancel()
		if err == nil {
			_ = conn.Close() // a probe
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %s %v exited (%w)%s", ErrServerStart, p.name, p.cmd.Args, p.waitErr, p.outputText())
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ErrInterrupted, ctx.Err())
		case <-t.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s not listening on %s after %v%s", ErrServerStart, p.name, p.addr, timeout, p.outputText())
		}
	}
}

// usage returns a reader of the subprocess's CPU time and memory.
func (p *subprocess) usage() (procUsage, error) { return usageOf(p.pid()) }

// stop sends SIGTERM, waits for the exit until ctx ends, then kills, and
// reaps the process. It returns an error unless the process exited cleanly
// or by that SIGTERM. It may be called more than once.
func (p *subprocess) stop(ctx context.Context) error {
	p.stopOnce.Do(func() {
		start := time.Now()
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it is gone
		select {
		case <-p.exited:
		case <-ctx.Done():
			_ = p.cmd.Process.Kill() // fails only if it is gone
			<-p.exited
			p.stopErr = fmt.Errorf("%s killed: still running %v after SIGTERM%s",
				p.name, time.Since(start).Round(time.Millisecond), p.outputText())
			return
		}
		if ps := p.cmd.ProcessState; ps != nil {
			ws, ok := ps.Sys().(syscall.WaitStatus)
			if ps.Success() || ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
				return
			}
		}
		p.stopErr = fmt.Errorf("%s exit: %w%s", p.name, p.waitErr, p.outputText())
	})
	return p.stopErr
}

// outputText returns the end of the subprocess's output, formatted to
// follow an error message, or "" if it printed nothing.
func (p *subprocess) outputText() string {
	s := strings.TrimSpace(p.out.String())
	if s == "" {
		return ""
	}
	return "\n" + p.name + " output:\n" + s
}

// tailBuffer keeps the last max bytes written to it: enough of a
// program's output to explain a failure, and bounded whatever it prints.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
	cut bool // bytes were dropped from the front
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return "…" + string(t.b)
	}
	return string(t.b)
}
