package httpapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/server/servertest"
)

// nginxConf is a caching reverse proxy in front of the HTTP side, as
// docs/DEPLOY.md recommends for HLS: %[1]s is its folder, %[2]d its port,
// %[3]s fstream's HTTP address.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=hls:10m max_size=1g inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:%[2]d;
    location /hls/ {
      proxy_pass http://%[3]s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hls;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 20s;
      proxy_cache_use_stale updating;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }
}
`

// startNginx runs nginx in the foreground in front of upstream until the
// test ends, and returns its base URL.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := "/usr/sbin/nginx"
	if _, err := os.Stat(bin); err != nil {
		bin = needTool(t, "nginx")
	}
	dir := t.TempDir()
	// nginx cannot listen on port 0 and say which it got: take a free
	// port and give it back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	out := new(servertest.LogBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	servertest.WaitFor(t, "nginx listening", func() bool {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", out.String(), log)
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return base
}

// hlsClient follows a live playlist through base until it has fetched
// want segments, recording each segment name it fetched in seen.
func hlsClient(ctx context.Context, c *http.Client, base, path string, want int, seen *sync.Map) error {
	got := map[string]bool{}
	for len(got) < want {
		body, err := fetch(ctx, c, base+path)
		if err != nil {
			return err
		}
		for _, u := range segmentURIs(body) {
			if got[u] {
				continue
			}
			data, err := fetch(ctx, c, base+strings.TrimSuffix(path, "index.m3u8")+u)
			if err != nil {
				return err
			}
			if len(data) == 0 || data[0] != 0x47 {
				return fmt.Errorf("segment %s: %d bytes, not TS", u, len(data))
			}
			got[u] = true
			seen.Store(u, true)
		}
		select { // a player reloads the playlist about once a segment
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

func fetch(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b), nil
}

// TestHLSBehindNginx puts a caching nginx in front of the HTTP side: 50 HLS
// clients make fstream serve each segment once.
func TestHLSBehindNginx(t *testing.T) {
	t.Parallel()
	e := startHLSEnv(t, nil)
	base := startNginx(t, strings.TrimPrefix(e.url, "http://"))
	e.hlsSource(t, "fier", "cdn", "", "mpegts")
	path := "/hls/fier/cdn/index.m3u8"
	e.waitSegments(t, path, 1)

	const clients = 50
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var seen sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- hlsClient(ctx, c, base, path, 3, &seen)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("client: %v", err)
		}
	}
	distinct := 0
	seen.Range(func(any, any) bool { distinct++; return true })
	if served := segmentsServed(t, e); served != float64(distinct) {
		t.Errorf("fstream served %v segments for %d distinct ones fetched by %d clients through nginx", served, distinct, clients)
	}
	t.Logf("%d clients through nginx fetched %d distinct segments; fstream served %v", clients, distinct, segmentsServed(t, e))
	if distinct < 3 {
		t.Errorf("only %d distinct segments", distinct)
	}
}
