// Package graphtest runs a graph.Graph in Gorgonia's own VM, the oracle
// the compiled programs are tested against: it binds a network and a batch
// to the graph's inputs and reads node values back.
package graphtest

import (
	"math"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Bind sets the values of gr's X, Y and parameters from n and the given
// row-major batch data, for running the graph in Gorgonia's own VM.
func Bind(gr *graph.Graph, n *network.Network, dt graph.Dtype, x, y []float64) error {
	set := func(node *G.Node, data []float64) error {
		return G.Let(node, newDense(dt, node.Shape(), data))
	}
	if err := set(gr.X, x); err != nil {
		return err
	}
	if gr.Y != nil {
		if err := set(gr.Y, y); err != nil {
			return err
		}
	}
	for l := range gr.Weights {
		if err := set(gr.Weights[l], n.Weights[l]); err != nil {
			return err
		}
		if err := set(gr.Biases[l], n.Biases[l]); err != nil {
			return err
		}
	}
	return nil
}

func newDense(dt graph.Dtype, shape tensor.Shape, data []float64) *tensor.Dense {
	if dt == graph.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))
	}
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
}

// Float64s returns a node's value as float64s (after a VM has run).
func Float64s(v G.Value) []float64 {
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...)
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case float64:
		return []float64{d}
	case float32:
		return []float64{float64(d)}
	}
	return nil
}

// Step binds n and the batch to gr (a training graph), runs it in
// Gorgonia's TapeMachine and returns the network after the plain SGD step
// w − η·∂C/∂w of the gradients Gorgonia computed, the output activations,
// and the cost (NaN where the graph has no cost node).
func Step(gr *graph.Graph, n *network.Network, dt graph.Dtype, x, y []float64, eta float64) (next *network.Network, out []float64, cost float64, err error) {
	if err := Bind(gr, n, dt, x, y); err != nil {
		return nil, nil, 0, err
	}
	// Read copies values as they are computed: the VM may reuse their memory later.
	var outV, costV G.Value
	G.Read(gr.Output, &outV)
	if gr.Cost != nil {
		G.Read(gr.Cost, &costV)
	}
	vm := G.NewTapeMachine(gr.G)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, nil, 0, err
	}
	next = n.Clone()
	for l := range next.Weights {
		gw, gb := Float64s(gr.WeightGrads[l].Value()), Float64s(gr.BiasGrads[l].Value())
		for i := range gw {
			next.Weights[l][i] -= eta * gw[i]
		}
		for i := range gb {
			next.Biases[l][i] -= eta * gb[i]
		}
	}
	cost = math.NaN()
	if costV != nil {
		cost = Float64s(costV)[0]
	}
	return next, Float64s(outV), cost, nil
}
