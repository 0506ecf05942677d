package network

import (
	"fmt"
	"math"
	"slices"
)

// Output is the function of the output layer's neurons.
type Output string

// The output layers: sigmoid neurons, or chapter 3's softmax layer, which
// goes with the log-likelihood cost.
const (
	SigmoidOutput Output = "sigmoid"
	Softmax       Output = "softmax"
)

// Spec is what a network is beyond its parameters: its architecture (what
// it computes) and its objective (what its training minimises). It
// travels as one value from the flags through the compiler, the backends,
// the model file and the checkpoint. The zero values of Activation and
// Cost mean the defaults (sigmoid, quadratic): chapter 1's network.
type Spec struct {
	Arch
	Objective
}

// Arch is what a network computes: chapter 1 and 3's fully connected
// layer sizes with one hidden activation, or chapter 6's list of layers
// (network3.py), whose last is a softmax layer. Exactly one of Sizes and
// Layers is set.
type Arch struct {
	Sizes      []int      `json:"sizes,omitempty"`
	Activation Activation `json:"activation,omitempty"` // of the hidden layers (Sizes only; a Layer has its own)
	Layers     Layers     `json:"layers,omitempty"`
}

// Objective is what training minimises: the cost and its L2 term. A
// network of Layers trains with the log-likelihood and network3's L2 rule
// (½·λ·Σw² / the training set's mini-batches); one of Sizes with
// network2's (λ/2n·Σw²).
type Objective struct {
	Cost   Cost    `json:"cost,omitempty"`
	Lambda float64 `json:"lambda,omitempty"` // L2 regularisation parameter λ; 0 for none
}

// Book returns chapter 1's network of the given sizes: sigmoid neurons,
// quadratic cost, no regularisation.
func Book(sizes []int) Spec { return Spec{Arch: Arch{Sizes: sizes}}.Norm() }

// Norm returns s with the defaults filled in and its own copy of Sizes
// and Layers. A network of layers has the log-likelihood cost.
func (s Spec) Norm() Spec {
	s.Sizes = slices.Clone(s.Sizes)
	s.Layers = slices.Clone(s.Layers)
	if len(s.Layers) > 0 && s.Cost == "" {
		s.Cost = LogLikelihood
	}
	if s.Activation == "" {
		s.Activation = Sigmoid
	}
	if s.Cost == "" {
		s.Cost = Quadratic
	}
	return s
}

// Output is the output layer the cost implies: softmax for the
// log-likelihood, sigmoid otherwise (chapter 3's pairing); a network of
// layers ends in its softmax layer.
func (s Spec) Output() Output {
	if len(s.Layers) > 0 {
		return Softmax
	}
	d, err := CostOf(s.Cost)
	if err != nil {
		return SigmoidOutput // an invalid spec; Check says why
	}
	return d.Output
}

// Check reports the first invalid field.
func (s Spec) Check() error {
	n := s.Norm()
	if len(s.Layers) > 0 {
		if len(s.Sizes) > 0 {
			return fmt.Errorf("sizes %v and layers %v: a network has one or the other", s.Sizes, s.Layers)
		}
		if _, err := Shapes(s.Layers); err != nil {
			return err
		}
		if n.Cost != LogLikelihood {
			return fmt.Errorf("cost %q: a network of layers ends in softmax and trains with the %s cost", s.Cost, LogLikelihood)
		}
	} else if err := CheckSizes(s.Sizes); err != nil {
		return err
	}
	if _, err := ActivationOf(n.Activation); err != nil {
		return err
	}
	if _, err := CostOf(n.Cost); err != nil {
		return err
	}
	if !(s.Lambda >= 0) || math.IsInf(s.Lambda, 0) {
		return fmt.Errorf("lambda %v: must be a finite number ≥ 0", s.Lambda)
	}
	return nil
}

// SameNetwork reports whether a network of spec o computes what one of s
// does: same sizes, same activation, same output layer. The cost and λ
// shape training only.
func (s Spec) SameNetwork(o Spec) bool {
	s, o = s.Norm(), o.Norm()
	return slices.Equal(s.Sizes, o.Sizes) && slices.Equal(s.Layers, o.Layers) &&
		s.Activation == o.Activation && s.Output() == o.Output()
}

func (s Spec) String() string {
	n := s.Norm()
	str := fmt.Sprintf("%v %s, %s cost", n.Sizes, n.Activation, n.Cost)
	if len(n.Layers) > 0 {
		str = fmt.Sprintf("%s, %s cost", LayersString(n.Layers), n.Cost)
	}
	if n.Lambda != 0 {
		str += fmt.Sprintf(", λ %g", n.Lambda)
	}
	return str
}
