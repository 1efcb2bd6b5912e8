package record

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
)

// benchStream is how much one iteration records.
const benchStream = 256 << 20

// BenchmarkRecordThroughput records benchStream bytes of MPEG-TS (the
// h264.ts fixture over and over) as fast as the recorder takes them, into
// $FSTREAM_RECORD_DIR or a temporary directory, and reports the disk's own
// sequential write rate there (dd with one fsync at the end, as the
// recorder syncs each finished file) as dd-MB/s. The broadcaster is paced
// by the test, not by the recorder (which never holds it back): it waits
// while more than 16 MiB are queued for the disk, so there are no gaps.
func BenchmarkRecordThroughput(b *testing.B) {
	one := fixture(b, "h264.ts")
	one = one[:len(one)/tsPacket*tsPacket]
	dir := os.Getenv("FSTREAM_RECORD_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	dd := ddRate(b, dir, benchStream)
	b.SetBytes(benchStream)
	b.ResetTimer()
	for i := range b.N {
		recordOnce(b, filepath.Join(dir, fmt.Sprintf("bench%d", i)), one)
	}
	b.ReportMetric(dd, "dd-MB/s")
}

func recordOnce(b *testing.B, dir string, one []byte) {
	h := hub.New(hub.Config{Buffer: 16 << 20, GOPCache: 8 << 20, StallTimeout: time.Hour})
	defer h.Close()
	key := hub.Key{User: "bench", Channel: "cam"}
	pub, err := h.Publish(key, hub.PublishOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(Config{Dir: dir, Channels: []string{"bench/cam"}, ScanInterval: time.Millisecond}, h)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for h.Channel(key).Stats().Watchers == 0 {
		time.Sleep(time.Millisecond)
	}
	st := r.statsFor(key)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := pub.ReadFrom(pr)
		pub.Close()
		done <- err
	}()
	for sent := 0; sent < benchStream; sent += len(one) {
		for st.received.Load()-st.bytes.Load() > 16<<20 {
			time.Sleep(100 * time.Microsecond)
		}
		if _, err := pw.Write(one[:min(len(one), benchStream-sent)]); err != nil {
			b.Fatal(err)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	for {
		r.mu.Lock()
		n := len(r.active)
		r.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if g := st.gaps.Load(); g != 0 {
		b.Fatalf("%d gaps", g)
	}
	os.RemoveAll(dir)
}

// ddRate writes n bytes with dd into dir (one fsync at the end) and
// returns the rate dd reports, in MB/s.
func ddRate(b *testing.B, dir string, n int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "dd.bin")
	defer os.Remove(out)
	start := time.Now()
	res, err := exec.CommandContext(ctx, "dd", "if=/dev/zero", "of="+out, "bs=1M",
		"count="+strconv.Itoa(n>>20), "conv=fsync").CombinedOutput()
	if err != nil {
		b.Fatalf("dd: %v: %s", err, res)
	}
	if m := regexp.MustCompile(`([0-9.]+) ([MG])B/s`).FindSubmatch(res); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		if string(m[2]) == "G" {
			v *= 1000
		}
		return v
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}
