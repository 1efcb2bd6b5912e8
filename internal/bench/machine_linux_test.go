package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/prometheus/procfs"
)

func TestCPUModel(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		t.Skip("procfs picks its cpuinfo parser by architecture; these lines are x86's")
	}
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel(fakeProc(t, info)); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel(fakeProc(t, "processor : 0\nHardware : BCM2835\n")); got != "" {
		t.Errorf("cpuModel without a model name = %q, want empty", got)
	}
	if got := readMachine(); got.CPU == "" || got.Kernel == "" || got.Cores < 1 {
		t.Errorf("readMachine() = %+v", got)
	}
}

// fakeProc returns a procfs whose cpuinfo is cpuinfo.
func fakeProc(t *testing.T, cpuinfo string) procfs.FS {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cpuinfo"), []byte(cpuinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
