package main

import (
	"fmt"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// The parts of a command's memory that do not depend on its flags, as
// measured on linux/amd64 (TestMemoryEstimate holds the estimates to the
// measured peak RSS).
const (
	// baseBytes is the Go runtime, the binary and the readers' buffers.
	baseBytes = 16e6
	// mnistImages is how many images the canonical files hold. They are
	// read whole, into buffers of their size taken at once.
	mnistImages = 70_000
	// evalBatch is the cpu backend's batch size for evaluation and predicting.
	evalBatch = 500
)

// canonicalSplit is the size of each split of the canonical files, which
// bounds what show and train can take before the data is read.
var canonicalSplit = map[string]int{"training": 50_000, "validation": 10_000, "test": 10_000}

func datasetBytes() float64 { return mnistImages * (mnist.Pixels + 1) }

// programValues is how many values the cpu backend's program for sizes and
// batch size m holds, as the compiler lays them out: the parameters, the
// inputs, and per image a few values per neuron (eight per hidden neuron
// for a training step: z, σ(z), σ'(z), δ and their transposes; three for
// the forward pass); training programs also keep one gradient per
// parameter. Shared parameters are counted by the caller, once.
func programValues(sizes []int, m int, training bool) float64 {
	hidden, out := 0.0, float64(sizes[len(sizes)-1])
	for _, s := range sizes[1 : len(sizes)-1] {
		hidden += float64(s)
	}
	p, mm := network.ParamCount(sizes), float64(m)
	if training {
		return p + mm*float64(sizes[0]+network.OutputSize) + mm*(8*hidden+12*out)
	}
	return mm*float64(sizes[0]) + 3*mm*(hidden+out)
}

// dtypeBytes is the size of one value of dt.
func dtypeBytes(dt graph.Dtype) float64 {
	if dt == graph.Float64 {
		return 8
	}
	return 4
}

// backendBytes is the memory of a cpu backend training on n images at
// batch size batch (a short last batch has a program of its own),
// evaluating when eval, plus the float64 network it starts from.
func backendBytes(sizes []int, batch, n int, dt graph.Dtype, eval bool) float64 {
	m := max(1, min(batch, n))
	p := network.ParamCount(sizes)
	values := p + programValues(sizes, m, true)
	if r := n % m; r > 0 {
		values += programValues(sizes, r, true)
	}
	if eval {
		values += programValues(sizes, evalBatch, false)
	}
	return dtypeBytes(dt)*values + 8*p
}

// modelFileBytes is what writing a model (or a checkpoint) takes: a
// float64 copy of the parameters and their JSON text.
func modelFileBytes(sizes []int) float64 { return 32 * network.ParamCount(sizes) }

// trainEstimate is the peak memory of a training run.
func trainEstimate(sizes []int, batch, n int, dt graph.Dtype, eval, writes bool) float64 {
	est := baseBytes + datasetBytes() + backendBytes(sizes, batch, n, dt, eval)
	if writes {
		est += modelFileBytes(sizes)
	}
	return est
}

// showEstimate is the peak memory of drawing n digits at scale, predicted
// by a model of that architecture when it has parameters.
func showEstimate(n, scale int, title, widest string, arch network.Arch) float64 {
	w, h, _, _, _ := gridSize(title, widest, n, scale)
	est := baseBytes + datasetBytes() + 4*float64(w)*float64(h)
	if arch.ParamCount() > 0 {
		est += archBackendBytes(arch, 1, 1, graph.Float64, true)
	}
	return est
}

// checkModelMemory returns a hook for network.LoadChecked that refuses a
// model whose parameters alone, with a backend to run them, exceed limit.
func checkModelMemory(path string, limit memlimit.Limit) func(network.Arch) error {
	return func(a network.Arch) error {
		est := baseBytes + datasetBytes() + archBackendBytes(a, 1, 1, graph.Float64, true) + 32*a.ParamCount()
		what := fmt.Sprintf("%s (sizes %v)", path, a.Sizes)
		if len(a.Layers) > 0 {
			what = fmt.Sprintf("%s (layers %s)", path, network.LayersString(a.Layers))
		}
		if err := limit.Check(what, est); err != nil {
			return cli.Usagef("%v", err)
		}
		return nil
	}
}

// dataOptions are the mnist options of a command: a dataset of one's own
// when nonCanonical, its image files bounded by what limit leaves beside
// the runtime (reading one takes its pixels, at once).
func dataOptions(nonCanonical bool, limit memlimit.Limit) mnist.Options {
	return mnist.Options{NonCanonical: nonCanonical, MaxBytes: max(1, limit.Bytes-int64(baseBytes))}
}
