package record

import (
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// realClock is the hub.Clock of real time (hub keeps its own unexported).
type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) Since(t time.Time) time.Duration { return time.Since(t) }
func (realClock) AfterFunc(d time.Duration, f func()) hub.Timer {
	return time.AfterFunc(d, f)
}
