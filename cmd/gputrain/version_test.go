package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cuda"
)

func TestVersionText(t *testing.T) {
	t.Parallel()
	platform := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		cuda string
		want string
	}{
		{"git checkout, modified, CUDA build", &debug.BuildInfo{
			Main: debug.Module{Path: "github.com/gputrain/gputrain", Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "61d514a0c0ffee"},
				{Key: "vcs.time", Value: "2026-12-01T15:37:31Z"}, {Key: "vcs.modified", Value: "true"},
			},
		}, "CUDA driver 13.0, device 0: NVIDIA H200, cuBLAS 13.0.0 from /usr/lib/libcublas.so.13", "gputrain (devel) (github.com/gputrain/gputrain)\n" +
			"revision 61d514a0c0ffee (committed 2026-12-01T15:37:31Z, with uncommitted changes)\n" +
			platform + "backend cpu: K\nbackend cuda: CUDA driver 13.0, device 0: NVIDIA H200, cuBLAS 13.0.0 from /usr/lib/libcublas.so.13\ndtypes float32, float64\n"},
		{"go install of a tagged version", &debug.BuildInfo{
			Main: debug.Module{Path: "github.com/gputrain/gputrain", Version: "v1.2.0"},
		}, "not in this build", "gputrain v1.2.0 (github.com/gputrain/gputrain)\n" +
			"revision unknown (not built from a git checkout)\n" +
			platform + "backend cpu: K\nbackend cuda: not in this build\ndtypes float32, float64\n"},
		{"no build information", nil, "not in this build", "gputrain unknown (github.com/gputrain/gputrain)\n" +
			"revision unknown (not built from a git checkout)\n" +
			platform + "backend cpu: K\nbackend cuda: not in this build\ndtypes float32, float64\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := versionText(c.bi, "K", c.cuda); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestVersionCommand: --version and version print the same, naming the
// CPU's kernels.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	code1, out1, _ := runCLI("--version")
	code2, out2, _ := runCLI("version")
	if code1 != 0 || code2 != 0 || out1 != out2 {
		t.Fatalf("--version: exit %d, %q; version: exit %d, %q", code1, out1, code2, out2)
	}
	if !strings.Contains(out1, "backend cpu: ") || !strings.Contains(out1, "backend cuda: "+cuda.Describe()+"\n") || !strings.Contains(out1, runtime.Version()) {
		t.Errorf("version output %q", out1)
	}
	if code, _, errs := runCLI("version", "--json"); code != exitUsage || !strings.Contains(errs, "-json") {
		t.Errorf("version --json: exit %d, %q", code, errs)
	}
}

// TestMakeBuildNamesRevision: `make build` in a git checkout embeds the
// revision even where GOFLAGS turns VCS stamping off (go env -w
// GOFLAGS=-buildvcs=false, as on some machines).
func TestMakeBuildNamesRevision(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root := filepath.Join("..", "..")
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	bin := t.TempDir()
	cmd := exec.Command("make", "-C", root, "build", "BIN="+bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "gputrain"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "revision " + strings.TrimSpace(string(head)); !strings.Contains(string(out), want) {
		t.Errorf("gputrain version says %q, want %q", out, want)
	}
}
