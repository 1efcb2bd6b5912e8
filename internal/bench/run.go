package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// phase names what the run is doing, for the progress line.
type phase int32

const (
	phaseStart phase = iota
	phaseConnect
	phaseWarmup
	phaseMeasure
	phaseHandshakes
	phaseStop
)

var phaseNames = [...]string{"starting", "connecting", "warming up", "measuring", "handshakes", "stopping"}

// runner is one Run. Goroutines and their owners:
//   - watchContext (auxWG): closes every connection when the run is
//     aborted or interrupted, so that nothing stays blocked;
//   - monitor (auxWG): progress line and RSS samples, until finished;
//   - one per source (srcWG) and one per sink (sinkWG), which end when
//     their connection is closed, or when told to stop;
//   - baseline only: acceptLoop (acceptWG), which adds to srcWG.
//
// close stops them in that reverse order and waits for each group.
type runner struct {
	o      Options
	parent context.Context
	ctx    context.Context // cancelled on failure or by parent
	cancel context.CancelCauseFunc

	failMu  sync.Mutex
	failErr error

	addr     string // the relay's address
	user     string
	pass     string
	tls      *tls.Config // the clients' TLS, or nil
	server   *procUsage  // the server's CPU and memory, or nil
	self     *procUsage  // the bench's own CPU, or nil
	selfErr  error       // why self is nil
	child    *child
	childErr error
	ln       net.Listener // baseline
	pool     *payloadPool
	bufSize  int

	sources []*source
	sinks   []*sink

	stopSendCh  chan struct{} // closed: writers stop after their current record
	stopSendOne sync.Once
	sendStopped atomic.Bool
	endWatchCh  chan struct{} // closed: the runner is about to close the sinks
	endWatchOne sync.Once
	ending      atomic.Bool // read errors from now on are not evictions
	finished    chan struct{}
	closeOnce   sync.Once

	measuring atomic.Bool
	connected atomic.Int64
	phase     atomic.Int32
	maxRSS    atomic.Int64
	startTime time.Time

	srcWG, sinkWG, acceptWG, auxWG sync.WaitGroup
}

// Run runs one benchmark and returns its result. It returns an error if
// the setup fails, a handshake is refused, a broadcaster is cut off, or ctx
// ends before the measured window; if ctx ends during the window, it
// returns what was measured so far with Interrupted set. Every goroutine
// and the child server are stopped before it returns.
func Run(ctx context.Context, opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := newRunner(ctx, o)
	res, err := r.run()
	if err != nil && r.child != nil && !errors.Is(err, ErrInterrupted) {
		err = fmt.Errorf("%w%s", err, r.child.proc.outputText())
	}
	if cerr := r.close(); cerr != nil && res != nil {
		res.Notes = append(res.Notes, cerr.Error())
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func newRunner(parent context.Context, o Options) *runner {
	ctx, cancel := context.WithCancelCause(parent)
	r := &runner{
		o: o, parent: parent, ctx: ctx, cancel: cancel,
		addr: o.Addr, user: o.User, pass: o.Password, tls: o.TLS,
		pool:       newPayloadPool(o.Size),
		bufSize:    readBufSize(o.Rate),
		stopSendCh: make(chan struct{}),
		endWatchCh: make(chan struct{}),
		finished:   make(chan struct{}),
		startTime:  time.Now(),
	}
	if u, err := selfUsage(); err == nil {
		r.self = &u
	} else {
		r.selfErr = err
	}
	if o.Baseline {
		n := o.Channels * o.Watchers
		for i := range n {
			r.sources = append(r.sources, &source{stream: uint32(i)})
			r.sinks = append(r.sinks, &sink{stream: uint32(i), kind: regular})
		}
	} else {
		for c := range o.Channels {
			r.sources = append(r.sources, &source{stream: uint32(c)})
			first := len(r.sinks)
			add := func(k kind, n int) {
				for range n {
					r.sinks = append(r.sinks, &sink{stream: uint32(c), kind: k, index: len(r.sinks) - first})
				}
			}
			add(regular, o.Watchers)
			add(slow, o.Slow)
			add(stalled, o.Stalled)
		}
	}
	for _, s := range r.sinks {
		var h *histogram
		if s.kind == regular {
			h = new(histogram)
		}
		s.v = *newVerifier(o.Size, s.stream, h)
	}
	return r
}

func (r *runner) run() (*Result, error) {
	o := &r.o
	res := r.newResult()
	r.auxWG.Add(1)
	go r.watchContext()

	var mem memories
	if err := r.setup(); err != nil {
		return nil, err
	}
	mem.start = r.sampleMem()
	r.auxWG.Add(1)
	go r.monitor()

	r.phase.Store(int32(phaseConnect))
	if !o.Baseline {
		if err := r.connectBroadcasters(); err != nil {
			return nil, err
		}
	}
	mem.idle = r.sampleMem()
	t0 := time.Now()
	if err := r.connectWatchers(); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(t0).Seconds()

	r.phase.Store(int32(phaseWarmup))
	if err := r.sleep(o.Warmup); err != nil {
		return nil, err
	}
	mem.warm = r.sampleMem()
	mem.watchers = int(r.connected.Load()) - r.evictedCount()

	if o.OnWindow != nil {
		o.OnWindow(false)
	}
	begin := r.snapshot(false)
	r.measuring.Store(true)
	r.phase.Store(int32(phaseMeasure))
	timer := time.NewTimer(o.Duration)
	select {
	case <-timer.C:
	case <-r.ctx.Done():
		timer.Stop()
		if err := r.failure(); err != nil {
			return nil, err
		}
		res.Interrupted = true
	}
	r.measuring.Store(false)
	end := r.snapshot(true)
	if o.OnWindow != nil {
		o.OnWindow(true)
	}
	mem.end = end.mem

	// Stop the load, then measure handshakes on the still live channels.
	r.phase.Store(int32(phaseStop))
	r.stopSending()
	r.endWatchers()
	r.sinkWG.Wait()
	if o.Handshakes > 0 && !res.Interrupted {
		r.phase.Store(int32(phaseHandshakes))
		res.Handshakes = r.measureHandshakes()
	}

	res.WindowSeconds = end.at.Sub(begin.at).Seconds()
	r.collect(res)
	if begin.selfErr == nil && end.selfErr == nil {
		res.BenchCPUSeconds = end.selfCPU - begin.selfCPU
	} else {
		res.Notes = append(res.Notes, fmt.Sprintf("bench CPU not measured: %v", errors.Join(begin.selfErr, end.selfErr)))
	}
	switch {
	case r.server != nil:
		if err := errors.Join(begin.serverErr, end.serverErr); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("server CPU not measured: %v", err))
		}
		res.Server = r.serverStats(end.serverCPU-begin.serverCPU, end.serverWrites-begin.serverWrites, res.WindowSeconds, res.Egress.Bytes, mem)
	case !o.Baseline:
		res.Notes = append(res.Notes, "server CPU and memory not measured: no server pid")
	}
	return res, nil
}

// setup prepares what the watchers connect to: the baseline's listener,
// or the child server.
func (r *runner) setup() error {
	o := &r.o
	switch {
	case o.Baseline:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		r.ln = ln
		r.addr = ln.Addr().String()
		r.acceptWG.Add(1)
		go r.acceptLoop()
	case o.Addr == "":
		c, err := startChild(r.ctx, *o)
		if err != nil {
			return err
		}
		r.child = c
		r.addr, r.pass, r.tls = c.proc.addr, c.pass, c.tls
		u, err := c.proc.usage()
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		r.server = &u
	case o.ServerPID > 0:
		u, err := usageOf(o.ServerPID)
		if err != nil {
			return fmt.Errorf("server pid: %w", err)
		}
		r.server = &u
	}
	if r.server != nil {
		if _, err := r.server.mem(); err != nil {
			return fmt.Errorf("server pid %d: %w", r.server.pid(), err)
		}
	}
	return nil
}

// memories are the server's memory readings at each step of a run, and
// the watchers connected at the end of the warmup.
type memories struct {
	start, idle, warm, end memInfo
	watchers               int
}

// snapshot is the state at one edge of the measured window.
type snapshot struct {
	at                 time.Time
	serverCPU, selfCPU float64
	serverWrites       int64 // write system calls
	serverErr, selfErr error
	mem                memInfo
}

// snapshot reads the CPU times and every byte counter, into winStart or,
// at the end, winEnd.
func (r *runner) snapshot(end bool) snapshot {
	var s snapshot
	s.at = time.Now()
	for _, src := range r.sources {
		if end {
			src.winEnd = src.bytes.Load()
		} else {
			src.winStart = src.bytes.Load()
		}
	}
	for _, sk := range r.sinks {
		if end {
			sk.winEnd = sk.bytes.Load()
		} else {
			sk.winStart = sk.bytes.Load()
		}
	}
	if r.self != nil {
		s.selfCPU, s.selfErr = r.self.cpu()
	} else {
		s.selfErr = r.selfErr
	}
	if r.server != nil {
		s.serverCPU, s.serverWrites, s.serverErr = r.server.cpuAndWrites()
		s.mem = r.sampleMem()
	}
	return s
}

func (r *runner) newResult() *Result {
	o := &r.o
	mode := "relay"
	switch {
	case o.Baseline:
		mode = "baseline"
	case o.Raw:
		mode = "raw"
	}
	res := &Result{
		Mode: mode, Addr: o.Addr, ChildServer: o.Addr == "" && !o.Baseline, TLS: o.TLS != nil,
		Channels: o.Channels, Watchers: o.Watchers, Stalled: o.Stalled, Slow: o.Slow,
		Size: o.Size, Batch: o.Batch, Rate: o.Rate,
		WarmupSeconds: o.Warmup.Seconds(),
	}
	if o.Slow > 0 {
		res.SlowRate = o.SlowRate
	}
	if o.Baseline {
		// A baseline is a set of streams; report them as one "channel" of
		// that many watchers so that the table reads the same.
		res.Watchers = o.Channels * o.Watchers
		res.Channels = 1
	}
	return res
}

// collect fills res from the sources and sinks, whose goroutines have
// ended (the sinks') or whose counts are final (the sources').
func (r *runner) collect(res *Result) {
	if res.ChildServer {
		res.Addr = r.addr
	}
	secs := res.WindowSeconds
	var in int64
	for _, s := range r.sources {
		in += s.winEnd - s.winStart
	}
	res.Ingest = throughput(in, secs)

	var all, reg int64
	var rates []float64
	var lat histogram
	byAddr := make([]histogram, len(r.o.WatchAddrs))
	var firstEvict error
	ev := &res.Evicted
	for _, s := range r.sinks {
		n := s.winEnd - s.winStart
		all += n
		v := &s.v
		res.Records += v.measured
		res.Gaps += v.gaps
		res.Lost += v.lost
		res.Corrupt += v.corrupt
		res.Resyncs += v.resyncs
		var k *EvictedKind
		switch s.kind {
		case regular:
			reg += n
			rates = append(rates, float64(n)/secs)
			if v.hist != nil {
				lat.merge(v.hist)
				if w := len(byAddr); w > 0 {
					byAddr[s.index%w].merge(v.hist)
				}
			}
			k = &ev.Regular
		case stalled:
			k = &ev.Stalled
		case slow:
			k = &ev.Slow
		}
		k.Of++
		if s.evicted.Load() && s.kind == regular && firstEvict == nil {
			firstEvict = s.evictErr
		}
		if s.evicted.Load() {
			after := s.evictedAfter.Seconds()
			if k.Count == 0 || after < k.MinSeconds {
				k.MinSeconds = after
			}
			k.MaxSeconds = max(k.MaxSeconds, after)
			k.Count++
		}
	}
	if firstEvict != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("regular watchers were evicted; first error: %v", firstEvict))
	}
	res.Egress = throughput(all, secs)
	res.RegularEgress = throughput(reg, secs)
	if len(rates) > 0 && secs > 0 {
		slices.Sort(rates)
		res.PerWatcher = Spread{Count: len(rates), Min: rates[0], Median: rates[len(rates)/2], Max: rates[len(rates)-1]}
	}
	res.Latency = lat.summary()
	if w := len(r.o.WatchAddrs); w > 1 {
		res.LatencyByAddr = make([]Latency, w)
		for i := range w {
			res.LatencyByAddr[i] = byAddr[i].summary()
		}
	}
}

// fail aborts the run with err; the first failure wins.
func (r *runner) fail(err error) {
	r.failMu.Lock()
	if r.failErr == nil {
		r.failErr = err
	}
	r.failMu.Unlock()
	r.cancel(err)
}

// failure returns the run's failure, or, if the parent context ended, an
// interruption.
func (r *runner) failure() error {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	return r.failErr
}

// ctxErr returns nil while the run goes on, and why it stopped otherwise.
func (r *runner) ctxErr() error {
	if r.ctx.Err() == nil {
		return nil
	}
	if err := r.failure(); err != nil {
		return err
	}
	return fmt.Errorf("%w (%w)", ErrInterrupted, r.parent.Err())
}

// sleep waits d, or returns why the run stopped.
func (r *runner) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctxErr()
	}
}

// watchContext closes every connection once the run is aborted or
// interrupted, which unblocks every goroutine.
func (r *runner) watchContext() {
	defer r.auxWG.Done()
	select {
	case <-r.ctx.Done():
		r.stopSending()
		r.endWatchers()
		for _, s := range r.sources {
			s.close()
		}
		if r.ln != nil {
			_ = r.ln.Close() // unblocks acceptLoop
		}
	case <-r.finished:
	}
}

func (r *runner) stopSending() {
	r.stopSendOne.Do(func() {
		r.sendStopped.Store(true)
		close(r.stopSendCh)
	})
}

// endWatchers closes the sinks without waiting for them.
func (r *runner) endWatchers() {
	r.endWatchOne.Do(func() {
		r.ending.Store(true)
		close(r.endWatchCh)
	})
	for _, s := range r.sinks {
		s.close()
	}
}

// close stops everything the run started and waits for it. It is
// idempotent and returns the child server's exit error, if any.
func (r *runner) close() error {
	r.closeOnce.Do(func() {
		r.stopSending()
		r.endWatchers()
		r.sinkWG.Wait()
		if r.ln != nil {
			_ = r.ln.Close() // may already be closed by watchContext
		}
		r.acceptWG.Wait() // no more srcWG.Add after this
		for _, s := range r.sources {
			s.close()
		}
		r.srcWG.Wait()
		close(r.finished)
		r.auxWG.Wait()
		r.cancel(nil)
		if r.child != nil {
			ctx, cancel := context.WithTimeout(context.Background(), subprocessStopTimeout)
			r.childErr = r.child.stop(ctx)
			cancel()
		}
	})
	return r.childErr
}

// sampleMem reads the server's memory and keeps the highest RSS seen.
func (r *runner) sampleMem() memInfo {
	if r.server == nil {
		return memInfo{}
	}
	m, err := r.server.mem()
	if err != nil {
		return memInfo{}
	}
	for {
		old := r.maxRSS.Load()
		if m.rss <= old || r.maxRSS.CompareAndSwap(old, m.rss) {
			return m
		}
	}
}

// evictedCount returns how many sinks were evicted so far.
func (r *runner) evictedCount() int {
	n := 0
	for _, s := range r.sinks {
		if s.evicted.Load() {
			n++
		}
	}
	return n
}

// totals sums what the sources wrote and the sinks read so far.
func (r *runner) totals() (in, out int64) {
	for _, s := range r.sources {
		in += s.bytes.Load()
	}
	for _, s := range r.sinks {
		out += s.bytes.Load()
	}
	return in, out
}
