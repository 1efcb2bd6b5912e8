package record

import (
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// Defaults.
const (
	// DefaultSegment is how long a file grows before the recording rolls
	// over to a new one at the next keyframe.
	DefaultSegment = 10 * time.Minute
	// DefaultBuffer bounds the bytes a recording holds between the hub and
	// its disk writer: a disk that stalls longer than this many bytes of
	// stream take to arrive makes a gap rather than holding anyone back.
	DefaultBuffer = 32 << 20
	// DefaultScanInterval is how often the recorder looks for channels
	// that went live and match Config.Channels.
	DefaultScanInterval = 500 * time.Millisecond
	// DefaultRetryMin and DefaultRetryMax bound the backoff between
	// attempts to resume a recording stopped by a disk error.
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
	// DefaultPruneInterval is how often retention runs besides after each
	// finished file.
	DefaultPruneInterval = time.Minute
	// minSegment keeps a typo (--record-segment 10ms) from making
	// thousands of files.
	minSegment = time.Second
	// minBuffer is enough for a few large reads.
	minBuffer = 1 << 20
)

// Config configures a Recorder.
type Config struct {
	// Dir is where recordings go: Dir/USER/CHANNEL/START.ts.
	Dir string
	// Channels are path.Match patterns of "user/channel" to record, such
	// as "alice/*" or "*/cam"; a channel matching none is not recorded.
	Channels []string
	// Segment is the age of a file after which the recording rolls over
	// at the next keyframe (generic streams: at once).
	Segment time.Duration
	// Keep is what retention keeps; zero keeps everything.
	Keep Keep
	// Buffer bounds the bytes queued per recording for its disk writer.
	Buffer int
	// ScanInterval, RetryMin, RetryMax and PruneInterval: see the defaults.
	ScanInterval, RetryMin, RetryMax, PruneInterval time.Duration
	// Clock is the recorder's time (file names, segment ages, retention,
	// retries); nil means real time.
	Clock hub.Clock
	// Logger receives one line per start, gap, stop and resume. Nil
	// discards.
	Logger *slog.Logger

	testHookWrite func() // tests: called before each file write (a slow disk)
}

// withDefaults fills the zero settings.
func (c Config) withDefaults() Config {
	if c.Segment == 0 {
		c.Segment = DefaultSegment
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = DefaultPruneInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the settings, with messages that say how to fix them.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Dir == "":
		return fmt.Errorf("%w: no directory (--record DIR)", ErrBadConfig)
	case c.Segment < minSegment:
		return fmt.Errorf("%w: segment %v is shorter than %v", ErrBadConfig, c.Segment, minSegment)
	case c.Buffer < minBuffer:
		return fmt.Errorf("%w: buffer %d bytes is less than %d", ErrBadConfig, c.Buffer, minBuffer)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: retry backoff %v..%v", ErrBadConfig, c.RetryMin, c.RetryMax)
	}
	for _, p := range c.Channels {
		if err := ValidateGlob(p); err != nil {
			return err
		}
	}
	return nil
}

// ValidateGlob checks a channel pattern: "USER/CHANNEL" with path.Match
// wildcards in either part.
func ValidateGlob(p string) error {
	user, ch, ok := strings.Cut(p, "/")
	if !ok || user == "" || ch == "" || strings.Contains(ch, "/") {
		return fmt.Errorf("%w: %q: want USER/CHANNEL, such as alice/cam, alice/* or */*", ErrBadGlob, p)
	}
	if _, err := path.Match(p, "a/b"); err != nil {
		return fmt.Errorf("%w: %q: %w (wildcards are *, ? and [...])", ErrBadGlob, p, err)
	}
	return nil
}

// matches reports whether the channel matches one of the patterns.
func matches(patterns []string, k hub.Key) bool {
	name := k.User + "/" + k.Channel
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Keep is what retention keeps: files younger than Age and, of those, the
// newest that fit in Bytes. Zero fields keep everything.
type Keep struct {
	Age   time.Duration
	Bytes int64
}

// ParseKeep reads a retention setting: an age ("7d", "12h", "90m"), a size
// ("50GiB", "500MB", "1TiB"), or both separated by a comma ("7d,50GiB").
// "" keeps everything.
func ParseKeep(s string) (Keep, error) {
	var k Keep
	if strings.TrimSpace(s) == "" {
		return k, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return Keep{}, fmt.Errorf("%w: %q has an empty part: want AGE, SIZE or AGE,SIZE, such as 7d,50GiB", ErrBadKeep, s)
		}
		if d, ok := parseAge(part); ok {
			if k.Age != 0 {
				return Keep{}, fmt.Errorf("%w: %q names two ages", ErrBadKeep, s)
			}
			if d <= 0 {
				return Keep{}, fmt.Errorf("%w: age %q must be positive", ErrBadKeep, part)
			}
			k.Age = d
			continue
		}
		n, err := parseSize(part)
		if err != nil {
			return Keep{}, fmt.Errorf("%w: %q is neither an age (7d, 12h, 30m) nor a size (50GiB, 500MB): %w", ErrBadKeep, part, err)
		}
		if k.Bytes != 0 {
			return Keep{}, fmt.Errorf("%w: %q names two sizes", ErrBadKeep, s)
		}
		k.Bytes = n
	}
	return k, nil
}

// String is the setting as ParseKeep reads it.
func (k Keep) String() string {
	var parts []string
	if k.Age > 0 {
		if k.Age%(24*time.Hour) == 0 {
			parts = append(parts, strconv.FormatInt(int64(k.Age/(24*time.Hour)), 10)+"d")
		} else {
			parts = append(parts, k.Age.String())
		}
	}
	if k.Bytes > 0 {
		parts = append(parts, formatSize(k.Bytes))
	}
	return strings.Join(parts, ",")
}

// parseAge reads "7d" (days, which time.ParseDuration lacks) or any Go
// duration; ok is false when s is not a duration at all.
func parseAge(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// sizeUnits are the suffixes parseSize knows, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

func parseSize(s string) (int64, error) {
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		switch {
		case err != nil:
			return 0, fmt.Errorf("%q is not a number", num)
		case f <= 0:
			return 0, fmt.Errorf("a size must be positive")
		case f*float64(u.mult) > 1<<62:
			return 0, fmt.Errorf("too large")
		}
		return int64(f * float64(u.mult)), nil
	}
	return 0, fmt.Errorf("no unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)")
}

func formatSize(n int64) string {
	for _, u := range sizeUnits {
		if u.mult > 1 && n%u.mult == 0 && strings.HasSuffix(u.suffix, "iB") {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
