package bench

import (
	"fmt"

	"github.com/prometheus/procfs"
)

// procUsage reads one process's CPU time and memory from /proc.
type procUsage struct {
	proc procfs.Proc
}

// usageOf returns a reader for process pid; it fails where there is no
// /proc or no such process.
func usageOf(pid int) (procUsage, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procUsage{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return procUsage{proc: p}, nil
}

// selfUsage returns a reader for the bench's own process.
func selfUsage() (procUsage, error) {
	p, err := procfs.Self()
	if err != nil {
		return procUsage{}, fmt.Errorf("own process: %w", err)
	}
	return procUsage{proc: p}, nil
}

// pid is the process id read.
func (u procUsage) pid() int { return u.proc.PID }

// cpu returns the process's user plus system CPU time, in seconds.
func (u procUsage) cpu() (float64, error) {
	st, err := u.proc.Stat()
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return st.CPUTime(), nil
}

// cpuAndWrites returns the process's CPU time, as cpu does, and the
// write system calls it made (write and writev, as /proc/PID/io counts
// them; send and sendmsg are not counted). Another user's process may hide
// its /proc/PID/io: its writes are then 0, which is no reason to lose its
// CPU time.
func (u procUsage) cpuAndWrites() (float64, int64, error) {
	cpu, err := u.cpu()
	if err != nil {
		return 0, 0, err
	}
	io, ioErr := u.proc.IO()
	if ioErr != nil {
		return cpu, 0, nil //nolint:nilerr // a hidden /proc/PID/io costs the write count only (see above)
	}
	return cpu, int64(io.SyscW), nil
}

// memInfo is the memory of a process, in bytes.
type memInfo struct {
	rss int64 // VmRSS: resident now
	hwm int64 // VmHWM: highest resident so far
}

// mem returns the process's resident memory now and at its highest.
func (u procUsage) mem() (memInfo, error) {
	st, err := u.proc.NewStatus()
	if err != nil {
		return memInfo{}, fmt.Errorf("read memory: %w", err)
	}
	return memInfo{rss: int64(st.VmRSS), hwm: int64(st.VmHWM)}, nil
}

// serverStats is the server's cost over a window of window seconds in
// which it spent cpu seconds and made writes write system calls to
// deliver egress bytes.
func (r *runner) serverStats(cpu float64, writes int64, window float64, egress int64, m memories) *ServerStats {
	s := &ServerStats{
		PID:        r.server.pid(),
		CPUSeconds: cpu,
		WriteCalls: writes,
		PeakRSS:    max(m.end.hwm, r.maxRSS.Load()),
		StartRSS:   m.start.rss,
		IdleRSS:    m.idle.rss,
		WarmRSS:    m.warm.rss,
	}
	if window > 0 {
		s.Cores = cpu / window
	}
	if egress > 0 {
		s.CPUPerGB = cpu / (float64(egress) / 1e9)
		s.WritesPerMB = float64(writes) / (float64(egress) / 1e6)
	}
	if m.watchers > 0 {
		s.RSSPerWatcher = float64(m.warm.rss-m.idle.rss) / float64(m.watchers)
	}
	if r.o.Channels > 0 {
		s.RSSPerChannel = float64(m.idle.rss-m.start.rss) / float64(r.o.Channels)
	}
	return s
}
