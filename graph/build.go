package graph

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"
	G "gorgonia.org/gorgonia"
)

// hidden is each hidden-layer activation as Gorgonia builds it. Adding an
// activation is its name in network.Activations and its entry here; where
// Gorgonia builds it from an element-wise op the instruction set lacks,
// that op's entry in opTable (naming the Gorgonia op) and its case in
// cuda/kernels.cu. The compiler needs no change.
var hidden = map[network.Activation]func(*G.Node) (*G.Node, error){
	network.Sigmoid: G.Sigmoid,
	network.Tanh:    G.Tanh,
	network.ReLU:    G.Rectify,
}

// Graph is the Gorgonia expression graph of one mini-batch of m samples:
// X (m×784) and Y (m×10) in, activations and the quadratic cost out, and
// the gradient of the cost with respect to every weight and bias, derived
// by Gorgonia's symbolic differentiation.
//
// The quadratic cost is a node of the graph, differentiated by Gorgonia.
// The cross-entropy cost is not: as network2.py's CrossEntropyCost.delta
// does, the graph starts backpropagation from the output error
// δ = (a − y)/m at z of the last layer, which Gorgonia cannot derive in
// that form (it differentiates ln σ through softplus), and the compiler
// computes the cost's value from z itself (Lower).
type Graph struct {
	Spec            network.Spec // normalised
	G               *G.ExprGraph
	X, Y            *G.Node // Y is nil in a forward graph
	Weights, Biases []*G.Node
	Logits          *G.Node // z of the last layer, m×10
	Output          *G.Node // σ(z) of the last layer, m×10
	Cost            *G.Node // (1/2m)·Σ‖y−a‖² for the quadratic cost; nil otherwise
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
			if act = hidden[gr.Spec.Activation]; act == nil {
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
	g, a := gr.G, gr.Output
	gr.Y = G.NewMatrix(g, dt.Tensor(), G.WithShape(m, network.OutputSize), G.WithName("Y"))
	wrt := append(append([]*G.Node{}, gr.Weights...), gr.Biases...)
	L := len(gr.Weights)
	if gr.Spec.Cost == network.CrossEntropy || gr.Spec.Cost == network.LogLikelihood {
		if !grads {
			return gr, nil // the compiler computes the cost from z
		}
		// δ = (a − y)/m: the mean cost's error at z, network2's delta (and
		// the softmax layer's with the log-likelihood, chapter 3).
		d, err := G.Sub(a, gr.Y)
		if err != nil {
			return nil, err
		}
		delta, err := G.HadamardProd(d, G.NewConstant(scalar(dt, 1/float64(m)), G.WithName("1/m")))
		if err != nil {
			return nil, err
		}
		gs, err := G.Backpropagate(G.Nodes{gr.Logits}, G.Nodes{delta}, wrt)
		if err != nil {
			return nil, fmt.Errorf("backpropagating the output error: %w", err)
		}
		gr.WeightGrads, gr.BiasGrads = gs[:L], gs[L:]
		return gr, nil
	}
	// C = (1/2m)·Σ‖y−a‖²: the mean over the mini-batch of the book's Cₓ = ½‖y−a‖².
	d, err := G.Sub(gr.Y, a)
	if err != nil {
		return nil, err
	}
	sq, err := G.Square(d)
	if err != nil {
		return nil, err
	}
	s, err := G.Sum(sq)
	if err != nil {
		return nil, err
	}
	half := G.NewConstant(scalar(dt, 1/(2*float64(m))), G.WithName("1/2m"))
	if gr.Cost, err = G.HadamardProd(s, half); err != nil {
		return nil, err
	}
	if !grads {
		return gr, nil
	}
	gs, err := G.Grad(gr.Cost, wrt...)
	if err != nil {
		return nil, fmt.Errorf("differentiating the cost: %w", err)
	}
	gr.WeightGrads, gr.BiasGrads = gs[:L], gs[L:]
	return gr, nil
}

func scalar(dt Dtype, v float64) any {
	if dt == Float64 {
		return v
	}
	return float32(v)
}
