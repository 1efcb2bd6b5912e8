package record

import (
	"sync"
	"sync/atomic"

	"github.com/fstream/fstream/internal/hub"
)

// State is what a channel's recording is doing.
type State int32

// States of a recording.
const (
	// StateIdle: the channel is not live (or its recording has not
	// started a file yet).
	StateIdle State = iota
	// StateRecording: a file is being written.
	StateRecording
	// StateStopped: a disk error stopped the recording; it retries with a
	// new file after a backoff.
	StateStopped
)

// States lists the states, for metrics that report each.
var States = []State{StateIdle, StateRecording, StateStopped}

func (s State) String() string {
	switch s {
	case StateRecording:
		return "recording"
	case StateStopped:
		return "stopped"
	}
	return "idle"
}

// chanStats are one channel's counters. They outlive its recordings, so
// that the counters only grow.
type chanStats struct {
	state              atomic.Int32
	bytes, files, gaps atomic.Int64
	received           atomic.Int64 // bytes taken from the hub (tests wait for it)
	errors             [numKinds]atomic.Int64
	mu                 sync.Mutex
	file               string // path of the file being written, or ""
}

func (c *chanStats) setFile(p string) {
	c.mu.Lock()
	c.file = p
	c.mu.Unlock()
}

func (c *chanStats) current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.file
}

// ChannelStats is a snapshot of one recorded channel's counters.
type ChannelStats struct {
	Key   hub.Key
	State State
	// Bytes written to files, files started, gaps (bytes dropped because
	// the disk writer fell Config.Buffer behind), and errors by kind (see
	// ErrorKindNames) since the server started.
	Bytes, Files, Gaps int64
	Errors             [numKinds]int64
}

func (c *chanStats) snapshot(k hub.Key) ChannelStats {
	s := ChannelStats{Key: k, State: State(c.state.Load()), Bytes: c.bytes.Load(),
		Files: c.files.Load(), Gaps: c.gaps.Load()}
	for i := range c.errors {
		s.Errors[i] = c.errors[i].Load()
	}
	return s
}
