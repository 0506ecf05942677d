package network

import (
	"fmt"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
)

// The hidden activations and the costs are each declared once, in a table
// here: everything else (the flags' checks, the model file, the graph
// builder, the compiler) reads the table. Adding a hidden activation is its
// entry below plus, where Gorgonia builds it from an element-wise op the
// instruction set lacks, that op's entry in graph/ops.go (naming the
// Gorgonia op) and its case in cuda/kernels.cu.

// Activation is the function of the hidden layers' neurons.
type Activation string

// The hidden-layer activations of chapters 1 and 3.
const (
	Sigmoid Activation = "sigmoid"
	Tanh    Activation = "tanh"
	ReLU    Activation = "relu"
)

// Cost is the cost a network is trained to minimise.
type Cost string

// The costs of chapters 1 and 3: network2.py's QuadraticCost and
// CrossEntropyCost, and the log-likelihood of a softmax output layer.
const (
	Quadratic     Cost = "quadratic"
	CrossEntropy  Cost = "cross-entropy"
	LogLikelihood Cost = "log-likelihood"
)

// ActivationDef is one hidden-layer activation.
type ActivationDef struct {
	Name Activation
	// Graph builds the activation of z in a Gorgonia graph; Gorgonia
	// differentiates it.
	Graph func(z *G.Node) (*G.Node, error)
}

var activationTable = []ActivationDef{
	{Sigmoid, G.Sigmoid}, // the default
	{Tanh, G.Tanh},
	{ReLU, G.Rectify},
}

// CostDef is one cost: its name on the command line, its name in
// network2.py's model files, the output layer it goes with, and how a
// mini-batch's graph builds it.
type CostDef struct {
	Name   Cost
	File   string // network2.py's class name, as its model files write it
	Output Output
	// Loss builds the mean cost over a mini-batch of m samples from the
	// output activations a, the last layer's logits z and the targets y.
	// It returns the cost node C, which Gorgonia differentiates, or else
	// the output error δ at z, where backpropagation starts instead (as
	// network2.py's CrossEntropyCost.delta does: Gorgonia would
	// differentiate ln σ through softplus); never both.
	Loss func(a, z, y *G.Node, m int) (cost, delta *G.Node, err error)
	// RowCost names the op (in graph's op table) that computes each
	// sample's cost from z and y, where Loss returns δ: the compiler adds
	// it, since the graph has no node for the cost's value.
	RowCost string
}

var costTable = []CostDef{
	// The quadratic cost (1/2m)·Σ‖y−a‖², chapter 1's: the mean over the
	// mini-batch of the book's Cₓ = ½‖y−a‖².
	{Name: Quadratic, File: "QuadraticCost", Output: SigmoidOutput, Loss: quadraticLoss},
	// network2.py's cross-entropy; δ = (a − y)/m.
	{Name: CrossEntropy, File: "CrossEntropyCost", Output: SigmoidOutput, Loss: errorLoss, RowCost: "xent"},
	// Chapter 3's log-likelihood of a softmax output layer; the same δ.
	// network2.py has no class for it: its files say CrossEntropyCost,
	// which network2 loads, with an "output": "softmax" of our own.
	{Name: LogLikelihood, File: "CrossEntropyCost", Output: Softmax, Loss: errorLoss, RowCost: "nll"},
}

func quadraticLoss(a, _, y *G.Node, m int) (cost, delta *G.Node, err error) {
	d, err := G.Sub(y, a)
	if err != nil {
		return nil, nil, err
	}
	sq, err := G.Square(d)
	if err != nil {
		return nil, nil, err
	}
	s, err := G.Sum(sq)
	if err != nil {
		return nil, nil, err
	}
	cost, err = G.HadamardProd(s, constant(a, 1/(2*float64(m)), "1/2m"))
	return cost, nil, err
}

// errorLoss is δ = (a − y)/m, the mean cost's error at z for the
// cross-entropy of sigmoid outputs and the log-likelihood of softmax ones.
func errorLoss(a, _, y *G.Node, m int) (cost, delta *G.Node, err error) {
	d, err := G.Sub(a, y)
	if err != nil {
		return nil, nil, err
	}
	delta, err = G.HadamardProd(d, constant(a, 1/float64(m), "1/m"))
	return nil, delta, err
}

// constant is v as a scalar of like's dtype.
func constant(like *G.Node, v float64, name string) *G.Node {
	if like.Dtype() == G.Float32 {
		return G.NewConstant(float32(v), G.WithName(name))
	}
	return G.NewConstant(v, G.WithName(name))
}

// Activations lists the valid hidden activations, the default first.
var Activations = names(activationTable, func(d ActivationDef) Activation { return d.Name })

// Costs lists the valid costs, the default first.
var Costs = names(costTable, func(d CostDef) Cost { return d.Name })

func names[D any, N any](table []D, name func(D) N) []N {
	var ns []N
	for _, d := range table {
		ns = append(ns, name(d))
	}
	return ns
}

// ActivationOf returns a's table entry; the zero value means the default.
func ActivationOf(a Activation) (ActivationDef, error) {
	if a == "" {
		return activationTable[0], nil
	}
	for _, d := range activationTable {
		if d.Name == a {
			return d, nil
		}
	}
	return ActivationDef{}, fmt.Errorf("activation %q: want one of %v", a, Activations)
}

// CostOf returns c's table entry; the zero value means the default.
func CostOf(c Cost) (CostDef, error) {
	if c == "" {
		return costTable[0], nil
	}
	for _, d := range costTable {
		if d.Name == c {
			return d, nil
		}
	}
	return CostDef{}, fmt.Errorf("cost %q: want one of %v", c, Costs)
}

// fileCost is the cost a model file's "cost" and "output" fields name
// (empty: network2.py's defaults, the quadratic cost and sigmoid outputs).
func fileCost(file string, out Output) (Cost, error) {
	if file == "" {
		file = costTable[0].File
	}
	if out == "" {
		out = SigmoidOutput
	}
	var classes []string
	var with *CostDef
	for i, d := range costTable {
		if d.File == file && d.Output == out {
			return d.Name, nil
		}
		if d.Output == out && with == nil {
			with = &costTable[i]
		}
		if !slices.Contains(classes, d.File) {
			classes = append(classes, d.File)
		}
	}
	switch {
	case !slices.Contains(classes, file):
		return "", fmt.Errorf("cost %q: want %s, as network2.py writes them", file, strings.Join(classes, " or "))
	case with == nil:
		return "", fmt.Errorf("output %q: want %q or %q", out, SigmoidOutput, Softmax)
	}
	return "", fmt.Errorf("output %q goes with cost %q (the %s), not %q", out, with.File, with.Name, file)
}
