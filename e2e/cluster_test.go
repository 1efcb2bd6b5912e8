package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cluster tests run a real nats-server binary (CI installs it; the
// tests skip without it) and several "fstream serve --cluster" processes.

var natsListenRE = regexp.MustCompile(`Listening for client connections on (\S+:\d+)`)

// startNATS runs nats-server with JetStream on a free port of 127.0.0.1
// until the test ends, and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skipf("nats-server not installed (CI installs it with go install): %v", err)
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", t.TempDir())
	dieWithTest(cmd)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := natsListenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		<-done
	})
	select {
	case a := <-addr:
		return "nats://" + a
	case <-time.After(20 * time.Second):
		t.Fatal("nats-server did not report its address")
		return ""
	}
}

// node is a "fstream serve --cluster" process.
type node struct {
	*server
	cmd *exec.Cmd
}

// serveNode starts a cluster node named name on 127.0.0.1:0 with one user,
// fier/123; it is stopped (or found killed) when the test ends.
func serveNode(t *testing.T, natsURL, name string, extra ...string) *node {
	t.Helper()
	users := t.TempDir()
	os.WriteFile(filepath.Join(users, "fier.ini"), []byte("[DEFAULT]\npassword=123\n"), 0o600)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--users", users, "--broadcaster-grace", "0s",
		"--cluster", natsURL, "--node-name", name, "--cluster-ttl", "1s", "--cluster-linger", "1s"}, extra...)
	cmd := exec.Command(fstreamBin, args...)
	dieWithTest(cmd)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{server: &server{}, cmd: cmd}
	joined := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		addr := ""
		for sc.Scan() {
			n.mu.Lock()
			n.logs.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
			if strings.Contains(sc.Text(), `msg="joined cluster"`) {
				joined <- addr
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		<-done
		if t.Failed() {
			n.mu.Lock()
			t.Logf("%s log:\n%s", name, n.logs.String())
			n.mu.Unlock()
		}
	})
	select {
	case n.addr = <-joined:
		return n
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not join the cluster", name)
		return nil
	}
}

// TestBinaryCluster: three "fstream serve --cluster" processes relay a
// stream broadcast on the first byte for byte to "fstream watch" processes
// on all three (16 MiB; $FSTREAM_E2E_CLUSTER_MB sets another size).
func TestBinaryCluster(t *testing.T) {
	url := startNATS(t)
	nodes := []*node{serveNode(t, url, "n0"), serveNode(t, url, "n1"), serveNode(t, url, "n2")}
	size := 16 << 20
	if mb, err := strconv.Atoi(os.Getenv("FSTREAM_E2E_CLUSTER_MB")); err == nil && mb > 0 {
		size = mb << 20 // the 100 MB: FSTREAM_E2E_CLUSTER_MB=100
	}
	data := payload(size)
	g := newGate(t, data)
	bdone := make(chan int, 1)
	go func() {
		_, errs, code := fstream(t, g, "broadcast", nodes[0].addr, "--user", "fier", "--user-password", "123", "--channel", "cam", "--channel-password", "456")
		if code != 0 {
			t.Errorf("broadcast exit %d: %s", code, errs)
		}
		bdone <- code
	}()
	// Live on every node: the directory has the claim (written just after
	// the origin's hub has the channel).
	for _, n := range nodes {
		waitLive(t, n.addr, "fier", "cam")
	}
	var watchers []func() ([]byte, string, int)
	for _, n := range nodes {
		for range 2 {
			watchers = append(watchers, startWatch(t, "watch", n.addr, "user=fier,channel=cam,channel-password=456"))
		}
	}
	for _, n := range nodes {
		n.waitLog(t, `msg="watcher joined" `, 2) // waitLive's probes were refused: protected
	}
	nodes[0].waitLog(t, "via=pull", 2) // n1 and n2 pull from n0
	g.release()
	<-bdone
	want := sha256.Sum256(data)
	for i, w := range watchers {
		out, errs, code := w()
		if code != 0 || sha256.Sum256(out) != want {
			t.Errorf("watcher %d on n%d: exit %d, %d of %d bytes, hash match %v; stderr %q", i, i/2, code, len(out), len(data), sha256.Sum256(out) == want, errs)
		}
	}
}

// streamer is a "fstream broadcast" process fed with marker chunks until
// the test ends.
func streamer(t *testing.T, addr, marker string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, fstreamBin, "broadcast", addr, "--user", "fier", "--user-password", "123", "--channel", "cam")
	dieWithTest(cmd)
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		chunk := []byte(strings.Repeat(marker+" ", 1024/(len(marker)+1)))
		for ctx.Err() == nil {
			if _, err := in.Write(chunk); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Cleanup(func() {
		cancel()
		in.Close()
		cmd.Wait()
		wg.Wait()
	})
}

// TestBinaryClusterKill: the origin is killed with SIGKILL; the watcher on
// another node stays connected through the grace period and gets the
// stream of a new broadcaster on a third node.
func TestBinaryClusterKill(t *testing.T) {
	url := startNATS(t)
	origin := serveNode(t, url, "n0")
	other := serveNode(t, url, "n1")
	edge := serveNode(t, url, "n2", "--broadcaster-grace", "10s")
	streamer(t, origin.addr, "FIRST")
	waitLive(t, origin.addr, "fier", "cam")

	cmd := exec.Command(fstreamBin, "watch", edge.addr, "--user", "fier", "--channel", "cam")
	dieWithTest(cmd)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	readUntilMarker(t, r, "FIRST")

	origin.cmd.Process.Kill() // SIGKILL: no goodbye to the cluster
	start := time.Now()
	streamer(t, other.addr, "SECOND")
	readUntilMarker(t, r, "SECOND")
	t.Logf("watcher on n2 got the new origin's stream %v after the origin was killed", time.Since(start).Round(time.Millisecond))
}

// readUntilMarker reads r until marker arrived, failing the test if the
// stream ends first or it takes longer than 20 s.
func readUntilMarker(t *testing.T, r *bufio.Reader, marker string) {
	t.Helper()
	found := make(chan error, 1)
	go func() {
		var tail []byte
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			tail = append(tail, buf[:n]...)
			if strings.Contains(string(tail), marker) {
				found <- nil
				return
			}
			if len(tail) > len(marker) {
				tail = tail[len(tail)-len(marker):]
			}
			if err != nil {
				found <- err
				return
			}
		}
	}()
	select {
	case err := <-found:
		if err != nil {
			t.Fatalf("watcher's stream ended before %q: %v", marker, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %q within 20 s", marker)
	}
}
