package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

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

// bestRate calls f (one product of flops FLOPs) repeatedly for about
// peakBudget and returns the best FLOP/s of a single call.
func bestRate(flops float64, f func()) float64 {
	f() // warm caches, page in memory, start workers
	best := 0.0
	for start := time.Now(); time.Since(start) < peakBudget; {
		t := time.Now()
		f()
		best = max(best, flops/time.Since(t).Seconds())
	}
	return best
}

// measureGputrain times gputrain's own float32 kernel, the one its CPU
// backend trains with, through a one-instruction program on n×n C: C = A·Bᵀ
// (the forward pass's form, a row of A against a row of B) or C = A·B (the
// weight gradient's form, rows of B scaled and added; there k is the batch
// size, so it is measured at a k no larger than a batch).
func measureGputrain(n, k, workers int, transB bool) float64 {
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	p := &graph.Program{
		Spec: network.Spec{Sizes: []int{n, n}}, Batch: n, Dtype: graph.Float32,
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
	return bestRate(2*float64(n)*float64(n)*float64(k), m.Run)
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
// (numpy's only when python is not ""), and returns them with the best on
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
		if python != "" {
			add(fmt.Sprintf("numpy float32 matmul %d×%d (%s)", 4*n, 4*n, blasName()), c, measureNumpy(python, 4*n, c))
		}
	}
	return all, best
}

func peaksMarkdown(rs []peakResult) string {
	var rows [][]string
	for _, r := range rs {
		rows = append(rows, []string{r.What, strconv.Itoa(r.Cores), fmt.Sprintf("%.1f", r.Flops/1e9)})
	}
	return table([]string{"float32 matrix product", "cores", "GFLOP/s (best call)"}, "lrr", rows)
}
