package main

import (
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// The memory of chapter 6's networks (--layers), whose programs hold
// per image what their layers make of it (im2col patches, feature maps
// and their gradients): counted from the compiled programs themselves,
// each buffer's storage once, rather than from a formula.

// layerProgramValues is how many values the cpu backend's program for a
// network of layers at batch size m holds besides the parameters; the
// training program's when training, the forward program's otherwise.
func layerProgramValues(spec network.Spec, m int, dt graph.Dtype, training bool) float64 {
	var p *graph.Program
	var err error
	if training {
		p, err = graph.Compile(spec, m, dt, graph.Step{Eta: 1, N: m, Batch: m})
	} else {
		p, err = graph.CompileForward(spec, m, dt)
	}
	if err != nil {
		return 0 // the spec was checked; the run reports the error itself
	}
	var v float64
	for i, b := range p.Bufs {
		if b.Alias < 0 && b.Kind != graph.Param && p.Storage(i) == i {
			v += float64(b.Len())
		}
	}
	return v
}

// archBackendBytes is backendBytes for a network of sizes or of layers.
func archBackendBytes(a network.Arch, batch, n int, dt graph.Dtype, eval bool) float64 {
	if len(a.Layers) == 0 {
		return backendBytes(a.Sizes, batch, n, dt, eval)
	}
	spec := network.Spec{Arch: a}.Norm()
	m := max(1, min(batch, n))
	p := a.ParamCount()
	values := p + layerProgramValues(spec, m, dt, true)
	if r := n % m; r > 0 {
		values += layerProgramValues(spec, r, dt, true)
	}
	if eval {
		values += layerProgramValues(spec, evalBatch, dt, false)
	}
	return dtypeBytes(dt)*values + 8*p
}

// archTrainEstimate is trainEstimate for a network of sizes or of layers.
func archTrainEstimate(a network.Arch, batch, n int, dt graph.Dtype, eval, writes bool) float64 {
	est := baseBytes + datasetBytes() + archBackendBytes(a, batch, n, dt, eval)
	if writes {
		est += 32 * a.ParamCount()
	}
	return est
}
