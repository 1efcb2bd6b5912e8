package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is Linux's USER_HZ, the unit of the times in /proc/PID/stat.
// It is 100 on every architecture Go supports (sysconf needs cgo).
const clockTicks = 100

// procCPU returns the user plus system CPU time of process pid ("self"
// for the bench), in seconds, from /proc/PID/stat.
func procCPU(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	// The command name, in parentheses, may hold spaces; fields counted
	// from the state (field 3) follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read cpu time: /proc/%s/stat: no ')'", pid)
	}
	f := bytes.Fields(b[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("read cpu time: /proc/%s/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("read cpu time: /proc/%s/stat: bad utime/stime", pid)
	}
	return float64(u+s) / clockTicks, nil
}

// memInfo is the memory of a process, in bytes.
type memInfo struct {
	rss int64 // VmRSS: resident now
	hwm int64 // VmHWM: highest resident so far
}

// procMem reads VmRSS and VmHWM from /proc/PID/status.
func procMem(pid string) (memInfo, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return memInfo{}, fmt.Errorf("read memory: %w", err)
	}
	var m memInfo
	var found int
	for line := range bytes.Lines(b) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.rss
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.hwm
		default:
			continue
		}
		f := bytes.Fields(line) // "VmRSS:", "1234", "kB"
		if len(f) < 2 {
			return memInfo{}, fmt.Errorf("read memory: /proc/%s/status: bad line %q", pid, line)
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return memInfo{}, fmt.Errorf("read memory: /proc/%s/status: bad line %q", pid, line)
		}
		*dst = kb << 10
		found++
	}
	if found < 2 {
		return memInfo{}, fmt.Errorf("read memory: /proc/%s/status: no VmRSS/VmHWM", pid)
	}
	return m, nil
}
