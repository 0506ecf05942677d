// Package graphtest runs a graph.Graph in Gorgonia's own VM, the oracle
// the compiled programs are tested against: it binds a network and a batch
// to the graph's inputs and reads node values back.
package graphtest

import (
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
