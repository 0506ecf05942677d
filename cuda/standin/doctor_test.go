package standin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCUDABinaryDoctor runs bin/gputrain-cuda doctor on the stand-in: every
// check passes on it (exit 0), and each failure the stand-in can feign
// fails with its own line and exit 1: no device, a driver too old, no
// cuBLAS, a stale PTX. --json says the same.
func TestCUDABinaryDoctor(t *testing.T) {
	needStandin(t)
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda)", cudaBin)
	}
	stale := filepath.Join(t.TempDir(), "stale.ptx")
	ptx, err := os.ReadFile(filepath.Join(root, "cuda", "kernels.ptx"))
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`,\n\t\.param \.u64 gt_seg1_f32_param_4\n\)`)
	if err := os.WriteFile(stale, drop.ReplaceAll(ptx, []byte("\n)")), 0o644); err != nil {
		t.Fatal(err)
	}
	noBLAS := []string{"GPUTRAIN_CUBLAS=", "GPUTRAIN_CUBLAS_DIR=", "VIRTUAL_ENV=", "CONDA_PREFIX="}
	for _, c := range []struct {
		name   string
		lib    string // LD_LIBRARY_PATH: "" the stand-in's folder, "driver" its libcuda.so.1 alone
		env    []string
		args   []string
		status int
		lines  []string // regexps, one per line of stdout, in order
	}{
		{"ok", "", nil, nil, 0, []string{`^ok CPU kernels: `, `^ok driver: supports CUDA 12\.4 `, `^ok device 0: gputrain CPU stand-in \(not a GPU\), compute capability 9\.0, `,
			`^ok cuBLAS: 13\.0\.0 from .*/bin/standin/libcublas\.so\.13 \(searched LD_LIBRARY_PATH: .*; the ld\.so cache; the CUDA toolkit: /usr/local/cuda/lib64, `,
			`^ok PTX: kernels\.ptx \(embedded\) for sm_60 loads on device 0`,
			`^ok smoke test \(20 steps on the device and on the CPU\): \[784,30,10\], batch 10, float64: the parameters differ by \S+ relative \(want <= 1e-09`}},
		{"no device", "", []string{"GPUTRAIN_STANDIN_DEVICES=0"}, nil, 1,
			[]string{`^FAIL: driver: no CUDA device \(cuInit: CUDA_ERROR_NO_DEVICE\); check that nvidia-smi lists a GPU`}},
		{"old driver", "", []string{"GPUTRAIN_STANDIN_DRIVER_VERSION=11070"}, nil, 1,
			[]string{`^FAIL: driver: the NVIDIA driver supports CUDA 11\.7; this build needs CUDA 11\.8 or later \(driver R520\+\); install NVIDIA driver R520 or later`}},
		{"no cuBLAS", "driver", noBLAS, nil, 1, []string{`^ok CPU kernels`, `^ok driver`, `^ok device 0`,
			`^FAIL: cuBLAS: no cuBLAS library found \(looked for libcublas\.so\.13, .* in LD_LIBRARY_PATH: .*; the ld\.so cache; the CUDA toolkit: .*; install the CUDA toolkit`,
			`^ok PTX`, `^FAIL: smoke test \(20 steps on the device and on the CPU\): not run: the cuBLAS check failed; fix that first$`}},
		{"stale PTX", "", nil, []string{"--ptx", stale}, 1, []string{`^ok CPU kernels`, `^ok driver`, `^ok device 0`, `^ok cuBLAS`,
			`^FAIL: PTX: .*/stale\.ptx for sm_60 does not load on device 0: .*CUDA_ERROR_INVALID_PTX.*: JIT log: standin: entry gt_seg1_f32 takes parameters of \(8,8,8,8\) bytes in the PTX but \(8,8,8,8,8\) in kernels\.cu: the PTX is stale \(make ptx\); .*make ptx$`,
			`^FAIL: smoke test .*: not run: the PTX check failed; fix that first$`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lib := libDir
			if c.lib == "driver" {
				lib = driverOnly(t)
			}
			for _, format := range []string{"text", "json"} {
				args := append([]string{"doctor"}, c.args...)
				if format == "json" {
					args = append(args, "--json")
				}
				out, stderr, _, status := runWith(t, lib, c.env, cudaBin, args...)
				var lines []string
				if format == "text" {
					lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				} else {
					var r struct {
						Build  string
						OK     bool
						Checks []struct {
							Check, Detail, Fix string
							OK                 bool
						}
					}
					if err := json.Unmarshal([]byte(out), &r); err != nil {
						t.Fatalf("--json: %v:\n%s", err, out)
					}
					if r.Build != "cuda" || r.OK != (c.status == 0) {
						t.Errorf("--json: build %q, ok %v", r.Build, r.OK)
					}
					for _, ch := range r.Checks {
						l := "ok " + ch.Check + ": " + ch.Detail
						if !ch.OK {
							l = "FAIL: " + ch.Check + ": " + ch.Detail + "; " + ch.Fix
						}
						lines = append(lines, l)
					}
				}
				if status != c.status || len(lines) != len(c.lines) {
					t.Fatalf("%s: exit status %d (want %d), %d lines (want %d):\n%s\nstderr: %s", format, status, c.status, len(lines), len(c.lines), out, stderr)
				}
				for i, re := range c.lines {
					if !regexp.MustCompile(re).MatchString(lines[i]) {
						t.Errorf("%s: line %d\n%s\nwant it to match\n%s", format, i+1, lines[i], re)
					}
				}
			}
		})
	}
}
