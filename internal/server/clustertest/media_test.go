package clustertest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/cluster"
	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/server"
	"github.com/fstream/fstream/internal/server/servertest"
)

const mediaSeconds = 6

// makeTS encodes a test picture and tone as MPEG-TS, a keyframe a second.
func makeTS(t *testing.T) []byte {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (CI installs it): %v", tool, err)
		}
	}
	out := filepath.Join(t.TempDir(), "stream.ts")
	args := []string{"-v", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=30:duration=%d", mediaSeconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=duration=%d", mediaSeconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-f", "mpegts", out}
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeErrors returns ffmpeg's error lines for a stream.
func decodeErrors(data []byte) []string {
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", "-", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, _ := cmd.CombinedOutput()
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// sendPaced writes data to c at the pace of a live stream of the given
// length, in 20 ms steps.
func sendPaced(c net.Conn, data []byte, length time.Duration) error {
	start := time.Now()
	sent := 0
	for sent < len(data) {
		time.Sleep(20 * time.Millisecond)
		due := min(len(data), int(float64(len(data))*time.Since(start).Seconds()/length.Seconds()))
		if due > sent {
			if _, err := c.Write(data[sent:due]); err != nil {
				return err
			}
			sent = due
		}
	}
	return nil
}

// TestMediaTwoHops: an MPEG-TS stream goes origin → n1 → n2 (max-pulls 1
// makes n1 a relay), and a watcher joining n2 in the middle of the stream
// gets a picture at once and decodes without a single error.
func TestMediaTwoHops(t *testing.T) {
	data := makeTS(t)
	_, nodes := startCluster(t, 3, func(c *server.Config, cc *server.ClusterConfig) {
		c.BroadcasterGrace = 0
		cc.Cluster.MaxPulls = 1
	})
	b := servertest.MustHandshake(t, nodes[0].Addr, broadcast)
	early := startDrain(servertest.MustHandshake(t, nodes[1].Addr, watch)) // n1 pulls
	sent := make(chan error, 1)
	go func() { sent <- sendPaced(b, data, mediaSeconds*time.Second) }()

	servertest.WaitFor(t, "half the stream at the origin", func() bool { // a join in mid-stream
		ch := nodes[0].Hub().Channel(hub.Key{User: "fier", Channel: "cam"})
		return ch != nil && ch.Stats().BytesIn >= int64(len(data)/2)
	})
	late := servertest.MustHandshake(t, nodes[2].Addr, watch+",join=gop")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pulls, err := nodes[0].ClusterNode().Pulls(ctx, cluster.Key{User: "fier", Channel: "cam"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pulls) != 2 || pulls[0].Upstream != "n1" && pulls[1].Upstream != "n1" {
		t.Fatalf("pulls %+v: want n2 pulling from the relay n1", pulls)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	b.CloseWrite()
	got, err := io.ReadAll(late)
	if err != nil {
		t.Fatal(err)
	}
	if early.wait(); early.n != int64(len(data)) {
		t.Errorf("early watcher on n1 got %d bytes, want all %d", early.n, len(data))
	}
	if len(got) == 0 || len(got) >= len(data) {
		t.Fatalf("late watcher got %d of %d bytes: not a join in mid-stream", len(got), len(data))
	}
	if errs := decodeErrors(got); len(errs) > 0 {
		t.Errorf("late watcher's stream (%d bytes) has %d decode errors, first: %s", len(got), len(errs), errs[0])
	}
	t.Logf("late watcher on n2 (two hops) got %d of %d bytes; decodes cleanly", len(got), len(data))
}
