package standin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository root, two levels up from this package.
var root = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// jitInfo begins the info log the stand-in's module load writes: its
// entries, counted in kernels.ptx (the test buffer keeps 15 bytes of it).
var jitInfo = func() string {
	ptx, _ := os.ReadFile(filepath.Join(root, "cuda", "kernels.ptx"))
	return fmt.Sprintf("standin: %d entries of PTX ISA", strings.Count(string(ptx), ".visible .entry "))
}()

// libDir is where make standin puts the libraries.
var libDir = filepath.Join(root, "bin", "standin")

// needStandin skips the test until make standin has built the libraries.
func needStandin(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(libDir, "libcuda.so.1")); err != nil {
		t.Skipf("%s/libcuda.so.1 is not built: run make standin (needs the CUDA toolkit's headers and g++)", libDir)
	}
}

// cudaInclude is the first directory holding cuda.h and cublas_v2.h.
func cudaInclude(t *testing.T) string {
	t.Helper()
	dirs := []string{"/usr/local/cuda/include", "/usr/include"}
	if p := os.Getenv("CUDA_PATH"); p != "" {
		dirs = append([]string{filepath.Join(p, "include")}, dirs...)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "cublas_v2.h")); err == nil {
			return d
		}
	}
	t.Skip("no cuda.h and cublas_v2.h in $CUDA_PATH/include, /usr/local/cuda/include or /usr/include: install the CUDA toolkit")
	return ""
}

// rulesProgram builds testdata/rules.c against the stand-in, once per test
// binary.
func rulesProgram(t *testing.T) string {
	t.Helper()
	needStandin(t)
	inc := cudaInclude(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: the rule tests compile testdata/rules.c")
	}
	bin := filepath.Join(t.TempDir(), "rules")
	cmd := exec.Command("gcc", "-std=c11", "-O1", "-Wall", "-o", bin, filepath.Join("testdata", "rules.c"), "-I"+inc,
		filepath.Join(libDir, "libcuda.so.1"), filepath.Join(libDir, "libcublas.so.11"), "-lm", "-ldl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/rules.c: %v\n%s", err, out)
	}
	return bin
}

// run runs a program with the stand-in first on the library path and env
// added; it returns stdout, stderr, the "standin:" lines of stderr and the
// exit status.
func run(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, diags []string, status int) {
	t.Helper()
	return runWith(t, libDir, env, name, args...)
}

// runWith is run with the stand-in's libraries taken from lib.
func runWith(t *testing.T, lib string, env []string, name string, args ...string) (stdout, stderr string, diags []string, status int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+lib)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", name, err)
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.HasPrefix(l, "standin: ") {
			diags = append(diags, l)
		} else if l != "" {
			t.Logf("%s stderr: %s", filepath.Base(name), l)
		}
	}
	return out.String(), errb.String(), diags, status
}

// ruleCase is a run of testdata/rules.c: what it must print, which
// "standin:" lines, and its exit status.
type ruleCase struct {
	name   string
	env    []string
	out    []string // lines stdout must hold
	diags  []string // the "standin:" lines, as regexps, in order
	status int
}

const addr = `0x[0-9a-f]+`

var ruleCases = []ruleCase{
	{name: "dlopen-cublas",
		out: []string{"libcublas.so.13 130000", "libcublas.so.12 120405", "libcublas.so.11 111103", "libcublas.so 120405"}},
	{name: "error-strings",
		out: []string{"string out of memory", "name CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "unknown CUDA_ERROR_INVALID_VALUE"}},
	{name: "use-after-free",
		out:   []string{"memset CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuMemsetD8_v2: the destination: ` + addr + ` is in an allocation freed by cuMemFree_v2 \(64 bytes at ` + addr + `\): use after free$`}},
	{name: "double-free",
		out:   []string{"free CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuMemFree_v2: ` + addr + ` was freed already \(by cuMemFree_v2\): double free$`}},
	{name: "overrun",
		out:   []string{"copy64 CUDA_SUCCESS", "copy65 CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuMemcpyHtoD_v2: the destination: 65 bytes at ` + addr + ` run 1 bytes past the end of their allocation \(64 bytes at ` + addr + `\)$`}},
	{name: "host-as-device",
		out:   []string{"memset CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuMemsetD8_v2: the destination: ` + addr + ` is not in any device allocation$`}},
	{name: "kernel-use-after-free",
		out:   []string{"before CUDA_SUCCESS", "after CUDA_ERROR_ILLEGAL_ADDRESS"},
		diags: []string{`^standin: cuLaunchKernel\(gt_segn_f32\): op 0 \(opcode 6\) operand \(table entry 1\): ` + addr + ` is in an allocation freed by cuMemFree_v2 .*: use after free$`}},
	{name: "swapped-args",
		out:   []string{"launch CUDA_ERROR_ILLEGAL_ADDRESS"},
		diags: []string{`^standin: cuLaunchKernel\(gt_segn_f32\): parameter 0 \(the op descriptors\): \d+ bytes at ` + addr + ` run \d+ bytes past the end of their allocation \(72 bytes`}},
	{name: "maxntid",
		out:   []string{"block256 CUDA_SUCCESS", "block512 CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
		diags: []string{`^standin: cuLaunchKernel\(gt_segn_f32\): blocks of 512 threads, more than the entry's \.maxntid 256, 1, 1$`}},
	{name: "grid-limit",
		out:   []string{"launch CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuLaunchKernel\(gt_segn_f32\): grid 1x70000x1 of blocks 256x1x1: outside the device's limits`}},
	{name: "param-size",
		out:   []string{"24 CUDA_SUCCESS", "16 CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuLaunchKernel\(gt_segn_f32\): extra holds a parameter buffer of 16 bytes; the PTX declares 3 parameters, 24 bytes$`}},
	{name: "stale-ptx",
		out: []string{"load CUDA_ERROR_INVALID_PTX",
			"log standin: entry gt_segn_f32 takes parameters of (8,8) bytes in the PTX but (8,8,8) in kernels.cu: the PTX is stale (make ptx)"},
		diags: []string{`^standin: cuModuleLoadDataEx: entry gt_segn_f32 takes parameters of \(8,8\) bytes in the PTX but \(8,8,8\) in kernels\.cu: the PTX is stale \(make ptx\)$`}},
	{name: "jit-info-log",
		out: []string{"load CUDA_SUCCESS", "info " + jitInfo[:15] + "|16", "error |1"}},
	{name: "alloc-in-capture",
		out: []string{"call CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "end CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		diags: []string{`^standin: cuMemAlloc_v2: an allocation while a stream is being captured \(thread-local mode\): not permitted; the capture is invalidated$`,
			`^standin: cuStreamEndCapture: the capture was invalidated`}},
	{name: "free-in-capture",
		out: []string{"call CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "end CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		diags: []string{`^standin: cuMemFree_v2: a free while a stream is being captured`,
			`^standin: cuStreamEndCapture: the capture was invalidated`}},
	{name: "sync-in-capture",
		out: []string{"call CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "end CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		diags: []string{`^standin: cuStreamSynchronize: synchronising a stream while a stream is being captured`,
			`^standin: cuStreamEndCapture: the capture was invalidated`}},
	{name: "pageable-copy-in-capture",
		out: []string{"call CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "end CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		diags: []string{`^standin: cuMemcpyHtoDAsync_v2: copy from pageable host memory ` + addr + ` \(64 bytes\) during stream capture: not permitted`,
			`^standin: cuStreamEndCapture: the capture was invalidated`}},
	{name: "pinned-copy-in-capture",
		out: []string{"call CUDA_SUCCESS", "end CUDA_SUCCESS"}},
	{name: "capture-replay",
		out:   []string{"capturing 1", "before 0", "launch CUDA_SUCCESS", "after 0.5", "destroyed CUDA_ERROR_INVALID_VALUE"},
		diags: []string{`^standin: cuGraphLaunch: the executable graph was destroyed$`}},
	{name: "async-pinned-source",
		out: []string{"device 1"}},
	{name: "async-pinned-source", env: []string{"GPUTRAIN_STANDIN_ASYNC=1"},
		out: []string{"device 2"}},
	{name: "async-nonblocking",
		out: []string{"early 7070707", "late 7070707"}},
	{name: "async-nonblocking", env: []string{"GPUTRAIN_STANDIN_ASYNC=1"},
		out: []string{"early 0", "late 7070707"}},
	{name: "workspace-before-stream",
		out: []string{"gemm CUBLAS_STATUS_ALLOC_FAILED", "end CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"},
		diags: []string{`^standin: cublasSgemm_v2: cuBLAS allocating its workspace \(the handle has none of its own: cublasSetStream resets it; call cublasSetWorkspace after it\) while a stream is being captured`,
			`^standin: cuStreamEndCapture: the capture was invalidated`}},
	{name: "workspace-after-stream",
		out: []string{"gemm CUBLAS_STATUS_SUCCESS", "end CUDA_SUCCESS", "C 1 2 9 12"}},
	{name: "gemm-lda",
		out: []string{"lda3 CUBLAS_STATUS_INVALID_VALUE", "trans9 CUBLAS_STATUS_INVALID_VALUE", "ok CUBLAS_STATUS_SUCCESS"},
		diags: []string{`^standin: cublasDgemm_v2: lda = 3, less than the rows of A as stored: CUBLAS_STATUS_INVALID_VALUE$`,
			`^standin: cublasDgemm_v2: transpose 9 is not CUBLAS_OP_N, _T or _C: CUBLAS_STATUS_INVALID_VALUE$`}},
	{name: "gemm-strided",
		out: []string{"ok CUBLAS_STATUS_SUCCESS", "C 7 1 2 3", "batch-1 CUBLAS_STATUS_INVALID_VALUE", "batch-0 CUBLAS_STATUS_SUCCESS",
			"ldb1 CUBLAS_STATUS_INVALID_VALUE", "overlap CUBLAS_STATUS_INVALID_VALUE", "past CUBLAS_STATUS_EXECUTION_FAILED",
			"sgemm-ldc1 CUBLAS_STATUS_INVALID_VALUE"},
		diags: []string{`^standin: cublasDgemmStridedBatched: batchCount = -1 < 0: CUBLAS_STATUS_INVALID_VALUE$`,
			`^standin: cublasDgemmStridedBatched: ldb = 1, less than the rows of B as stored: CUBLAS_STATUS_INVALID_VALUE$`,
			`^standin: cublasDgemmStridedBatched: strideC = 2: the matrices of C overlap, which cuBLAS leaves undefined: CUBLAS_STATUS_INVALID_VALUE$`,
			`^standin: cublasDgemmStridedBatched: A: .*`,
			`^standin: cublasSgemmStridedBatched: ldc = 1 < max\(1, m\): CUBLAS_STATUS_INVALID_VALUE$`}},
	{name: "gemm-use-after-free",
		out:   []string{"gemm CUBLAS_STATUS_EXECUTION_FAILED"},
		diags: []string{`^standin: cublasSgemm_v2: C: ` + addr + ` is in an allocation freed by cuMemFree_v2 .*: use after free$`}},
	{name: "other-context",
		out:   []string{"own CUDA_SUCCESS", "other CUDA_ERROR_INVALID_HANDLE"},
		diags: []string{`^standin: cuMemsetD8Async: the stream belongs to context 1, but context 2 is current$`}},
	{name: "memory-cap", env: []string{"GPUTRAIN_STANDIN_MEM=1048576"},
		out:   []string{"total 1048576", "half CUDA_SUCCESS", "more CUDA_ERROR_OUT_OF_MEMORY"},
		diags: []string{`^standin: cuMemAlloc_v2: 786432 bytes: out of memory \(524288 of the device's 1048576 bytes in use`}},
	{name: "nan-fill",
		out: []string{"nans 4"}},
	{name: "leak",
		out:   []string{"destroy CUDA_SUCCESS", "still running"},
		diags: []string{`^standin: cuCtxDestroy_v2: context 1 leaked 1 device allocations \(100 bytes; first ` + addr + ` \(100 bytes\)\) and 0 pinned host allocations: freed with the context$`}},
	{name: "leak", env: []string{"GPUTRAIN_STANDIN_STRICT=1"}, status: 3,
		diags: []string{`^standin: cuCtxDestroy_v2: context 1 leaked 1 device allocations`,
			`^standin: cuCtxDestroy_v2: GPUTRAIN_STANDIN_STRICT=1: exiting with status 3 on the leak$`}},
	{name: "primary-leak",
		out: []string{"same 1", "release1 CUDA_SUCCESS", "after first release", "release2 CUDA_SUCCESS", "use CUDA_ERROR_CONTEXT_IS_DESTROYED"},
		diags: []string{`^standin: cuDevicePrimaryCtxRelease_v2: context 1 leaked 1 device allocations \(100 bytes`,
			`^standin: cuMemAlloc_v2: the current context \(1\) was destroyed$`}},
	{name: "fault", env: []string{"GPUTRAIN_STANDIN_FAIL=t:5", "GPUTRAIN_STANDIN_FAIL_REPORT=/dev/stdout", "GPUTRAIN_STANDIN_STRICT=1"},
		out: []string{"alloc4 CUDA_SUCCESS", "t 5 cuMemAlloc_v2", "alloc5 CUDA_ERROR_OUT_OF_MEMORY", "alloc6 CUDA_SUCCESS",
			"memset1 CUDA_SUCCESS", "u 2 cuMemsetD8_v2", "memset2 CUDA_ERROR_INVALID_VALUE",
			"v 1 cuMemFree_v2", "free1 CUDA_ERROR_INVALID_VALUE", "free2 CUDA_SUCCESS",
			"create1 CUBLAS_STATUS_SUCCESS", "w 2 cublasSetStream_v2", "stream2 CUBLAS_STATUS_NOT_INITIALIZED",
			"alloc CUDA_SUCCESS", "free CUDA_SUCCESS", "destroy CUDA_SUCCESS"},
		diags: []string{`^standin: cuMemAlloc_v2: GPUTRAIN_STANDIN_FAIL=t:5: call 5 fails, as injected$`,
			`^standin: cuMemsetD8_v2: GPUTRAIN_STANDIN_FAIL=u:2: call 2 fails, as injected$`,
			`^standin: cuMemFree_v2: GPUTRAIN_STANDIN_FAIL=v:1: call 1 fails, as injected$`,
			`^standin: cublasSetStream_v2: GPUTRAIN_STANDIN_FAIL=w:2: call 2 fails, as injected$`,
			`^standin: GPUTRAIN_STANDIN_FAIL: "x:0": want TAG:K, K a positive integer \(the K-th call fails\); no fault injected$`}},
	{name: "no-device", env: []string{"GPUTRAIN_STANDIN_DEVICES=0"},
		out: []string{"init CUDA_ERROR_NO_DEVICE"}},
	{name: "unsupported",
		out:   []string{"pitch CUDA_ERROR_NOT_SUPPORTED"},
		diags: []string{`^standin: cuMemAllocPitch_v2: not implemented by the stand-in: CUDA_ERROR_NOT_SUPPORTED$`}},
}

// environ is c's environment for the stand-in: every setting of it cleared
// (make gpu-standin-check exports GPUTRAIN_STANDIN_STRICT=1, which would
// end the leak cases early), then c's own.
func (c ruleCase) environ() []string {
	var env []string
	for _, v := range []string{"MEM", "DEVICES", "DRIVER_VERSION", "STRICT", "STATS", "ASYNC", "FAIL", "FAIL_REPORT"} {
		env = append(env, "GPUTRAIN_STANDIN_"+v+"=")
	}
	return append(env, c.env...)
}

// problems lists how a run of c differs from what c wants.
func (c ruleCase) problems(out string, diags []string, status int) []string {
	var p []string
	if strings.Contains(out, "setup failed") {
		return []string{"the case's setup failed:\n" + out}
	}
	if status != c.status {
		p = append(p, fmt.Sprintf("exit status %d, want %d", status, c.status))
	}
	lines := strings.Split(out, "\n")
	for _, w := range c.out {
		if !slices.Contains(lines, w) {
			p = append(p, fmt.Sprintf("stdout lacks %q; it is:\n%s", w, out))
		}
	}
	if len(diags) != len(c.diags) {
		p = append(p, fmt.Sprintf("%d standin: lines, want %d:\n%s", len(diags), len(c.diags), strings.Join(diags, "\n")))
	}
	for i, re := range c.diags {
		if i < len(diags) && !regexp.MustCompile(re).MatchString(diags[i]) {
			p = append(p, fmt.Sprintf("standin: line %d is\n\t%s\nwant it to match\n\t%s", i+1, diags[i], re))
		}
	}
	return p
}

// TestRules makes, for each rule, the call that breaks it (and where it
// helps, the same call made right first): the call must return the error the
// real driver or cuBLAS returns and the stand-in must say which call broke
// which rule, one line each. Without the rule the call succeeds, and the case
// fails.
func TestRules(t *testing.T) {
	prog := rulesProgram(t)
	ptx := filepath.Join(root, "cuda", "kernels.ptx")
	for _, c := range ruleCases {
		t.Run(c.name+strings.Join(c.env, ","), func(t *testing.T) {
			out, _, diags, status := run(t, c.environ(), prog, c.name, ptx)
			for _, p := range c.problems(out, diags, status) {
				t.Error(p)
			}
		})
	}
}

// TestStandinIsLoaded: with the stand-in first on LD_LIBRARY_PATH, the
// libcuda.so.1 a program maps is the stand-in's, even where a real driver
// library is installed (Debian's libcuda1 is, on the CI machine), and so is
// the one bin/gputrain-cuda would load.
func TestStandinIsLoaded(t *testing.T) {
	prog := rulesProgram(t)
	out, _, diags, status := run(t, nil, prog, "identity", filepath.Join(root, "cuda", "kernels.ptx"))
	if status != 0 || len(diags) != 0 {
		t.Fatalf("exit status %d, standin: lines %q", status, diags)
	}
	if !strings.Contains(out, "device gputrain CPU stand-in (not a GPU)\n") {
		t.Errorf("the device is not the stand-in's:\n%s", out)
	}
	want := "mapped " + filepath.Join(libDir, "libcuda.so.1") + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("/proc/self/maps: want %q, got:\n%s", want, out)
	}
	// Say whether a real driver library was there to be passed over.
	if cache, err := exec.Command("ldconfig", "-p").Output(); err == nil {
		for _, l := range strings.Split(string(cache), "\n") {
			if strings.Contains(l, "libcuda.so.1 ") {
				t.Logf("the system's %s was passed over", strings.TrimSpace(l))
			}
		}
	}
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda): not checking which libcuda.so.1 it loads", cudaBin)
	}
	// The dynamic loader's own answer, without running the program.
	traced, _, _, status := run(t, []string{"LD_TRACE_LOADED_OBJECTS=1"}, cudaBin)
	if status != 0 {
		t.Fatalf("LD_TRACE_LOADED_OBJECTS=1 %s: exit status %d", cudaBin, status)
	}
	if lib := "libcuda.so.1"; !strings.Contains(traced, lib+" => "+filepath.Join(libDir, lib)+" ") {
		t.Errorf("%s does not resolve to the stand-in's:\n%s", lib, traced)
	}
	// cuBLAS is loaded at run time, never linked: one binary for any CUDA.
	if strings.Contains(traced, "libcublas") {
		t.Errorf("%s links cuBLAS:\n%s", cudaBin, traced)
	}
	// gputrain-cuda version names the cuBLAS it would load: the newest
	// soname on the search path, the stand-in's.
	if out, _, diags, status := run(t, nil, cudaBin, "version"); status != 0 || len(diags) != 0 ||
		!strings.Contains(out, "cuBLAS 13.0.0 from "+filepath.Join(libDir, "libcublas.so.13")+"\n") {
		t.Errorf("%s version: exit status %d, standin: lines %q, output:\n%s", cudaBin, status, diags, out)
	}
	stdout, stderr, _, _ := run(t, nil, cudaBin, "train", "-h")
	if strings.Contains(stderr, "no version information") {
		t.Errorf("the dynamic loader warns:\n%s", stderr)
	}
	if !strings.Contains(stdout+stderr, "Usage of gputrain train") {
		t.Errorf("%s train -h did not run:\n%s", cudaBin, stderr)
	}
}

// TestStubsCoverImports: every driver and cuBLAS symbol bin/gputrain-cuda
// imports is defined by the stand-in (implemented or a generated stub), so
// no call ends the program with "symbol lookup error".
func TestStubsCoverImports(t *testing.T) {
	needStandin(t)
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda)", cudaBin)
	}
	symbols := func(args ...string) map[string]bool {
		out, err := exec.Command("nm", args...).Output()
		if err != nil {
			t.Fatalf("nm %v: %v", args, err)
		}
		m := map[string]bool{}
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) > 0 {
				m[strings.SplitN(f[len(f)-1], "@", 2)[0]] = true
			}
		}
		return m
	}
	defined := symbols("-D", "--defined-only", filepath.Join(libDir, "libcuda.so.1"), filepath.Join(libDir, "libcublas.so.11"))
	n := 0
	for s := range symbols("-D", "--undefined-only", cudaBin) {
		if strings.HasPrefix(s, "cu") {
			n++
			if !defined[s] {
				t.Errorf("%s imports %s; the stand-in does not define it (make standin regenerates the stubs)", cudaBin, s)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s imports no cu* symbol: not a CUDA build?", cudaBin)
	}
}

// TestCUDABinaryPreflight: bin/gputrain-cuda where the driver cannot run
// it says why in one line, naming the CPU binary, and exits 1, before
// gorgonia.org/cu's package init would print its bare "NoDevice".
func TestCUDABinaryPreflight(t *testing.T) {
	needStandin(t)
	cudaBin := filepath.Join(root, "bin", "gputrain-cuda")
	if _, err := os.Stat(cudaBin); err != nil {
		t.Skipf("%s not built (make cuda)", cudaBin)
	}
	for _, c := range []struct {
		env  string
		want string
	}{
		{"GPUTRAIN_STANDIN_DEVICES=0", "gputrain-cuda: no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)"},
		{"GPUTRAIN_STANDIN_DRIVER_VERSION=11070", "gputrain-cuda: the NVIDIA driver supports CUDA 11.7; this build needs CUDA 11.8 or later (driver R520+)"},
	} {
		t.Run(c.env, func(t *testing.T) {
			stdout, stderr, _, status := run(t, []string{c.env}, cudaBin, "train", "-h")
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if status != 1 || stdout != "" || len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) ||
				!strings.Contains(lines[0], "use the CPU binary") {
				t.Errorf("exit status %d, stdout %q, stderr %q; want status 1 and one line %q…", status, stdout, stderr, c.want)
			}
		})
	}
}
