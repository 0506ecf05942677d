package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// vectorFlags lists the SIMD features that bound the arithmetic peak.
func vectorFlags(flags string) string {
	var out []string
	for _, f := range []string{"avx", "avx2", "fma", "avx512f"} {
		if strings.Contains(" "+flags+" ", " "+f+" ") {
			out = append(out, strings.ToUpper(f))
		}
	}
	return cmp.Or(strings.Join(out, ", "), "no AVX")
}

// describeCPU is the CPU line, from the first processor of /proc/cpuinfo:
// model, clock, cores, SIMD, and whether it is a virtual machine's.
func describeCPU(cpuinfo string) string {
	ci := map[string]string{}
	first, _, _ := strings.Cut(cpuinfo, "\n\n")
	for _, line := range strings.Split(first, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			ci[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	cpu := cmp.Or(ci["model name"], runtime.GOARCH)
	if ci["cpu family"] != "" {
		cpu += fmt.Sprintf(" (family %s, model %s)", ci["cpu family"], ci["model"])
	}
	if mhz, err := strconv.ParseFloat(ci["cpu MHz"], 64); err == nil {
		cpu += fmt.Sprintf(", %.0f MHz", mhz)
	}
	cpu += fmt.Sprintf("; %d cores; %s", runtime.NumCPU(), vectorFlags(ci["flags"]))
	if strings.Contains(" "+ci["flags"]+" ", " hypervisor ") {
		cpu += "; virtual machine"
	}
	return cpu
}

// readFile is a file's text, "" if it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// field returns the value after prefix on a line of a file, "" if none.
func field(path, prefix string) string {
	for _, line := range strings.Split(readFile(path), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// pythonVersions prints the versions of Python, numpy and torch.
const pythonVersions = `import importlib, platform
def v(m):
    try: return importlib.import_module(m).__version__
    except Exception: return "absent"
print(platform.python_version(), v("numpy"), v("torch"))`

// describeMachine is where the numbers were taken, as a markdown list.
func describeMachine(python string) string {
	mem := "unknown"
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(field("/proc/meminfo", "MemTotal:"), " kB"), 64); err == nil {
		mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	py := strings.Fields(command(nil, python, "-c", pythonVersions))
	if len(py) != 3 {
		py = []string{"absent", "absent", "absent"}
	}
	return fmt.Sprintf("- CPU: %s\n- Memory: %s\n- OS: %s, Linux %s\n- GPU: %s\n- Go: %s\n"+
		"- Python: %s; numpy %s; torch %s; BLAS behind both: %s\n- Date: %s\n",
		describeCPU(readFile("/proc/cpuinfo")), mem, cmp.Or(field("/etc/os-release", "PRETTY_NAME="), runtime.GOOS),
		cmp.Or(strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")), "?"),
		cmp.Or(command(nil, "nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"), "none"),
		runtime.Version(), py[0], py[1], py[2], blasName(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// blasName says which libblas.so.3 Debian's alternatives give numpy and
// torch (the directory of the library it links to): it decides their
// matrix-product speed.
func blasName() string {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3"} {
		if target, err := filepath.EvalSymlinks(p); err == nil && filepath.Base(filepath.Dir(target)) == "blas" {
			return "reference BLAS (netlib, unoptimised)"
		} else if err == nil {
			return filepath.Base(filepath.Dir(target))
		}
	}
	return "unknown"
}

// command runs a short probe, with extra environment variables if any,
// and returns its trimmed output, "" on failure.
func command(extra []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), extra...)
	out, err := cmd.Output()
	if err != nil {
		return "" // what a failed probe printed is no answer
	}
	return strings.TrimSpace(string(out))
}

// peakResult is one measured float32 matrix-product throughput.
type peakResult struct {
	What  string
	Cores int
	Flops float64 // FLOP/s
}

const (
	// peakSize is the side of the square products: large enough that the
	// product is bound by arithmetic, not by call overhead or memory.
	peakSize = 1024
	// peakK is the inner dimension of the A·B measurement: the largest
	// batch the kernel takes in one pass (cpu's axpyMaxK).
	peakK = 256
	// peakBudget is how long each measurement repeats its product; the
	// best repetition counts, since a peak is what the CPU can do, not
	// what a noisy moment let it.
	peakBudget = 700 * time.Millisecond
)

// measureGputrain times gputrain's own float32 kernel, the one its CPU
// backend trains with, through a one-instruction program on n×n C: C = A·Bᵀ
// (the forward pass's form, a row of A against a row of B) or C = A·B (the
// weight gradient's form, rows of B scaled and added; there k is the batch
// size, so it is measured at a k no larger than a batch), and returns the
// best FLOP/s of a single call over about peakBudget.
func measureGputrain(n, k, workers int, transB bool) float64 {
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	p := &graph.Program{
		Spec: network.Spec{Arch: network.Arch{Sizes: []int{n, n}}}, Batch: n, Dtype: graph.Float32,
		Bufs: []graph.Buf{
			{Name: "A", Rows: n, Cols: k, Kind: graph.Param, Alias: -1},
			{Name: "B", Rows: bRows, Cols: bCols, Kind: graph.Param, Alias: -1},
			{Name: "C", Rows: n, Cols: n, Kind: graph.Temp, Alias: -1},
		},
		Instrs: []graph.Instr{{Op: graph.MatMul, Dst: 2, A: 0, B: 1, TransB: transB, Alpha: 1}},
		X:      -1, Y: -1, Output: 2, Cost: -1,
	}
	m := cpu.NewMachine[float32](p, workers)
	defer m.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, buf := range [][]float32{m.Buf(0), m.Buf(1)} {
		for i := range buf {
			buf[i] = rng.Float32() - 0.5
		}
	}
	m.Run() // warm caches, page in memory, start workers
	best, flops := 0.0, 2*float64(n)*float64(n)*float64(k)
	for start := time.Now(); time.Since(start) < peakBudget; {
		t := time.Now()
		m.Run()
		best = max(best, flops/time.Since(t).Seconds())
	}
	return best
}

// numpyScript prints the best FLOP/s of one n×n float32 product (%[1]d)
// over about a budget's seconds (%[2]f).
const numpyScript = `import time
import numpy as np
a, b = (np.random.rand(%[1]d, %[1]d).astype(np.float32) for _ in range(2))
a @ b
best, start = 0.0, time.perf_counter()
while time.perf_counter() - start < %[2]f:
    t = time.perf_counter()
    a @ b
    best = max(best, 2.0 * %[1]d**3 / (time.perf_counter() - t))
print(best)`

// measureNumpy times numpy's float32 product (the BLAS Debian gives it,
// OpenBLAS when installed), the fastest matrix product on most machines.
// It returns 0 when numpy is not there.
func measureNumpy(python string, n, threads int) float64 {
	th := strconv.Itoa(threads)
	out := command([]string{"OPENBLAS_NUM_THREADS=" + th, "OMP_NUM_THREADS=" + th}, python, "-c",
		fmt.Sprintf(numpyScript, n, peakBudget.Seconds()))
	v, _ := strconv.ParseFloat(out, 64)
	return v
}

// measurePeaks runs every measurement on one core and on all of them
// (numpy's only where python imports it), and returns them with the best on
// all cores.
func measurePeaks(python string, log io.Writer) (all []peakResult, best peakResult) {
	add := func(what string, c int, f float64) {
		if f > 0 {
			all = append(all, peakResult{what, c, f})
			fmt.Fprintf(log, "  peak: %-45s %d core(s): %6.1f GFLOP/s\n", what, c, f/1e9)
		}
		if c == runtime.NumCPU() && f > best.Flops {
			best = peakResult{what, c, f}
		}
	}
	const n = peakSize
	for _, c := range slices.Compact([]int{1, runtime.NumCPU()}) {
		add(fmt.Sprintf("gputrain cpu kernel, A·Bᵀ %d×%d", 2*n, 2*n), c, measureGputrain(2*n, 2*n, c, true))
		add(fmt.Sprintf("gputrain cpu kernel, A·B %d×%d, k %d", 2*n, 2*n, peakK), c, measureGputrain(2*n, peakK, c, false))
		add(fmt.Sprintf("numpy float32 matmul %d×%d (%s)", 4*n, 4*n, blasName()), c, measureNumpy(python, 4*n, c))
	}
	return all, best
}
