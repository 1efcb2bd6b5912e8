package hub_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fstream/fstream/internal/hub"
	"github.com/fstream/fstream/internal/hub/hubtest"
)

// clockedReader hands out data in pieces and moves the fake clock by step
// before each, as a live source would.
type clockedReader struct {
	data  []byte
	piece int
	clk   *hubtest.Clock
	step  time.Duration
}

func (r *clockedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, os.ErrClosed
	}
	r.clk.Advance(r.step)
	n := copy(p[:min(len(p), r.piece)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestGOPLogRounded: the "GOP measured" event gives its duration in
// seconds rounded to hundredths, as logs should read (gop_seconds=1.99).
func TestGOPLogRounded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "media", "testdata", "h264.ts"))
	if err != nil {
		t.Fatal(err)
	}
	var gops []any
	h, clk := newTestHub(func(c *hub.Config) {
		c.GOPCache = 1 << 20
		c.OnEvent = func(_ hub.Key, msg string, attrs ...any) {
			for i := 0; msg == "GOP measured" && i+1 < len(attrs); i += 2 {
				if attrs[i] == "gop_seconds" {
					gops = append(gops, attrs[i+1])
				}
			}
		}
	})
	defer h.Close()
	p := publish(t, h, hub.Key{User: "fier", Channel: "cam"}, hub.PublishOptions{})
	p.ReadFrom(&clockedReader{data: data, piece: 188 * 7, clk: clk, step: 33333333 * time.Nanosecond})
	p.Close()
	if len(gops) == 0 {
		t.Fatal("no GOP measured")
	}
	for _, g := range gops {
		v, ok := g.(float64)
		if !ok || v <= 0 || math.Abs(v*100-math.Round(v*100)) > 1e-9 {
			t.Errorf("gop_seconds = %v (%T), want seconds rounded to hundredths", g, g)
		}
	}
}
