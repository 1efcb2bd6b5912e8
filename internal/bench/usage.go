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
