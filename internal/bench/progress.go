package bench

import (
	"fmt"
	"io"
	"os"
	"time"
)

// monitor samples the server's memory and prints a progress line once a
// second until the run finishes.
func (r *runner) monitor() {
	defer r.auxWG.Done()
	pr := newProgress(r.o.Progress)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	lastIn, lastOut := r.totals()
	for {
		select {
		case <-r.finished:
			pr.end()
			return
		case now := <-t.C:
			r.sampleMem()
			in, out := r.totals()
			dt := now.Sub(last).Seconds()
			if pr.w != nil && dt > 0 {
				pr.line(r.progressLine(now, float64(in-lastIn)/dt, float64(out-lastOut)/dt))
			}
			last, lastIn, lastOut = now, in, out
		}
	}
}

func (r *runner) progressLine(now time.Time, in, out float64) string {
	var gaps, corrupt int64
	for _, s := range r.sinks {
		gaps += s.gaps.Load()
		corrupt += s.corrupt.Load()
	}
	return fmt.Sprintf("%6.1fs %-10s  watchers %d/%d  ingest %.3f Gbit/s  egress %.3f Gbit/s  gaps %d  corrupt %d  evicted %d",
		now.Sub(r.startTime).Seconds(), phaseNames[r.phase.Load()], r.connected.Load(), len(r.sinks),
		in*8/1e9, out*8/1e9, gaps, corrupt, r.evictedCount())
}

// progress writes progress lines: rewritten in place on a terminal, one
// per line otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	wrote bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Progress output is best effort: a failing terminal must not fail the run.

func (p *progress) line(s string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", s)
	} else {
		fmt.Fprintln(p.w, s)
	}
	p.wrote = true
}

// end moves a terminal past the progress line.
func (p *progress) end() {
	if p.tty && p.wrote {
		fmt.Fprintln(p.w)
	}
}
