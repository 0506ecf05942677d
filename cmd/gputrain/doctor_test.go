package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/cuda"
)

// TestDoctorCPU: the CPU build's doctor passes on any machine, a driver or
// none, with one line per check: the kernels in use, the NVIDIA driver (a
// libcuda.so.1 on LD_LIBRARY_PATH is found there), and where the CUDA build
// is or how to get it. --json says the same; --ptx is the CUDA build's.
func TestDoctorCPU(t *testing.T) {
	if cuda.Available {
		t.Skip("the CUDA build's doctor is tested on the stand-in (cuda/standin)")
	}
	lib := t.TempDir()
	if err := os.WriteFile(filepath.Join(lib, "libcuda.so.1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LD_LIBRARY_PATH", lib)
	code, stdout, stderr := runCLI("doctor")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := []string{"ok CPU kernels: " + cpu.Describe(), "ok NVIDIA driver: ", "ok CUDA build: "}
	if code != exitOK || stderr != "" || len(lines) != len(want) {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d is %q, want it to start %q", i+1, lines[i], w)
		}
	}
	if !strings.Contains(lines[1], "libcuda.so.1 in "+lib) {
		t.Errorf("the driver line does not name %s: %s", lib, lines[1])
	}
	code, stdout, _ = runCLI("doctor", "--json")
	var r doctorReport
	if err := json.Unmarshal([]byte(stdout), &r); code != exitOK || err != nil {
		t.Fatalf("--json: exit %d, %v:\n%s", code, err, stdout)
	}
	if r.Build != "cpu" || !r.OK || len(r.Checks) != len(lines) {
		t.Errorf("--json: %+v", r)
	}
	for i, c := range r.Checks {
		if c.String() != lines[i] {
			t.Errorf("--json check %d is %q, the text line %q", i, c, lines[i])
		}
	}
	if code, _, stderr := runCLI("doctor", "--ptx", "k.ptx"); code != exitUsage || !strings.Contains(stderr, "--ptx: only the CUDA build") {
		t.Errorf("--ptx in the CPU build: exit %d, %q", code, stderr)
	}
}

// TestDoctorNoDriver: where there is no NVIDIA driver, the CPU build says
// so, and it is no failure.
func TestDoctorNoDriver(t *testing.T) {
	if _, err := os.Stat("/proc/driver/nvidia/version"); err == nil {
		t.Skip("this machine has an NVIDIA kernel module")
	}
	dirs, cache := driverLibDirs, ldCache
	defer func() { driverLibDirs, ldCache = dirs, cache }()
	empty := t.TempDir()
	driverLibDirs, ldCache = []string{empty}, filepath.Join(empty, "ld.so.cache")
	t.Setenv("LD_LIBRARY_PATH", empty)
	c := driverCheck()
	if !c.OK || !strings.Contains(c.Detail, "none here") {
		t.Errorf("no driver: %s", c)
	}
}
