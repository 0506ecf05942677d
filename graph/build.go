package graph

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"
	G "gorgonia.org/gorgonia"
)

// Graph is the Gorgonia expression graph of one mini-batch of m samples:
// X (m×784) and Y (m×10) in, activations and the cost out, and the
// gradient of the cost with respect to every weight and bias, derived by
// Gorgonia's symbolic differentiation.
//
// How the cost enters is its entry in network's cost table: the quadratic
// cost is a node of the graph, differentiated by Gorgonia; the
// cross-entropy and the log-likelihood are not: as network2.py's
// CrossEntropyCost.delta does, the graph starts backpropagation from the
// output error δ = (a − y)/m at z of the last layer, which Gorgonia cannot
// derive in that form (it differentiates ln σ through softplus), and the
// compiler computes the cost's value from z itself (Lower).
type Graph struct {
	Spec            network.Spec // normalised
	G               *G.ExprGraph
	X, Y            *G.Node // Y is nil in a forward graph
	Weights, Biases []*G.Node
	Logits          *G.Node // z of the last layer, m×10
	Output          *G.Node // σ(z) of the last layer, m×10
	Cost            *G.Node // the mean cost where the graph builds it (the quadratic); nil otherwise
	WeightGrads     []*G.Node
	BiasGrads       []*G.Node
	// Masks are the dropout masks of a training graph of layers (conv.go),
	// one per layer with dropout, multiplying its input.
	Masks []Mask
}

// Mask is one layer's dropout mask in a graph: its node (images × the
// layer's inputs), the layer's index and its p.
type Mask struct {
	Node  *G.Node
	Layer int
	P     float64
}

// Build makes the graph for spec and batch size m. With grads false it
// stops at the output (for evaluation): no Y, no cost, no gradients.
func Build(spec network.Spec, m int, dt Dtype, grads bool) (*Graph, error) {
	return build(spec, m, dt, grads, grads)
}

// build makes the graph with Y and the cost when cost is set, and their
// gradients when grads is too.
func build(spec network.Spec, m int, dt Dtype, cost, grads bool) (*Graph, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	sizes := spec.Sizes
	if m < 1 {
		return nil, fmt.Errorf("batch size %d: must be at least 1", m)
	}
	if len(spec.Layers) > 0 {
		return buildLayers(spec, m, dt, cost, grads)
	}
	g := G.NewGraph()
	t := dt.Tensor()
	gr := &Graph{G: g, Spec: spec.Norm()}
	gr.X = G.NewMatrix(g, t, G.WithShape(m, sizes[0]), G.WithName("X"))
	a := gr.X
	for l := 1; l < len(sizes); l++ {
		w := G.NewMatrix(g, t, G.WithShape(sizes[l], sizes[l-1]), G.WithName(fmt.Sprintf("w%d", l)))
		b := G.NewVector(g, t, G.WithShape(sizes[l]), G.WithName(fmt.Sprintf("b%d", l)))
		gr.Weights = append(gr.Weights, w)
		gr.Biases = append(gr.Biases, b)
		// z = a·wᵀ + b, each row of a one sample: the book's w·a + b for a whole mini-batch.
		wt, err := G.Transpose(w)
		if err != nil {
			return nil, err
		}
		z, err := G.Mul(a, wt)
		if err != nil {
			return nil, err
		}
		if z, err = G.BroadcastAdd(z, b, nil, []byte{0}); err != nil {
			return nil, err
		}
		gr.Logits = z
		act := G.Sigmoid // the output layer's
		if l == len(sizes)-1 && gr.Spec.Output() == network.Softmax {
			act = func(z *G.Node) (*G.Node, error) { return G.SoftMax(z) }
		}
		if l < len(sizes)-1 {
			if act = hidden(gr.Spec.Activation); act == nil {
				return nil, fmt.Errorf("activation %q has no Gorgonia function", gr.Spec.Activation)
			}
		}
		if a, err = act(z); err != nil {
			return nil, err
		}
	}
	gr.Output = a
	return gr.objective(m, dt, cost, grads)
}

// objective adds to a graph whose forward pass is built Y, the cost and,
// with grads, the gradients of every weight and bias.
func (gr *Graph) objective(m int, dt Dtype, cost, grads bool) (*Graph, error) {
	if !cost {
		return gr, nil
	}
	loss, err := network.CostOf(gr.Spec.Cost)
	if err != nil {
		return nil, err
	}
	gr.Y = G.NewMatrix(gr.G, dt.Tensor(), G.WithShape(m, network.OutputSize), G.WithName("Y"))
	c, delta, err := loss.Loss(gr.Output, gr.Logits, gr.Y, m)
	if err != nil {
		return nil, err
	}
	gr.Cost = c // nil where the compiler computes the value from z (RowCost)
	if !grads {
		return gr, nil
	}
	wrt := append(append([]*G.Node{}, gr.Weights...), gr.Biases...)
	L := len(gr.Weights)
	var gs G.Nodes
	if delta != nil {
		if gs, err = G.Backpropagate(G.Nodes{gr.Logits}, G.Nodes{delta}, wrt); err != nil {
			return nil, fmt.Errorf("backpropagating the output error: %w", err)
		}
	} else if gs, err = G.Grad(gr.Cost, wrt...); err != nil {
		return nil, fmt.Errorf("differentiating the cost: %w", err)
	}
	gr.WeightGrads, gr.BiasGrads = gs[:L], gs[L:]
	return gr, nil
}

// hidden is the Gorgonia function of a hidden activation, from network's
// activation table; nil for a name the table lacks.
func hidden(a network.Activation) func(*G.Node) (*G.Node, error) {
	d, err := network.ActivationOf(a)
	if err != nil {
		return nil
	}
	return d.Graph
}

func scalar(dt Dtype, v float64) any {
	if dt == Float64 {
		return v
	}
	return float32(v)
}
