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

// Spec is what a network is beyond its parameters: its layer sizes, how
// its neurons compute, and what its training minimises. It travels as one
// value from the flags through the compiler, the backends, the model file
// and the checkpoint. The zero values of Activation and Cost mean the
// defaults (sigmoid, quadratic): chapter 1's network.
type Spec struct {
	Sizes      []int
	Activation Activation // of the hidden layers
	Cost       Cost
	Lambda     float64 // L2 regularisation parameter λ; 0 for none
}

// Book returns chapter 1's network of the given sizes: sigmoid neurons,
// quadratic cost, no regularisation.
func Book(sizes []int) Spec { return Spec{Sizes: sizes}.Norm() }

// Norm returns s with the defaults filled in and its own copy of Sizes.
func (s Spec) Norm() Spec {
	s.Sizes = slices.Clone(s.Sizes)
	if s.Activation == "" {
		s.Activation = Sigmoid
	}
	if s.Cost == "" {
		s.Cost = Quadratic
	}
	return s
}

// Output is the output layer the cost implies: softmax for the
// log-likelihood, sigmoid otherwise (chapter 3's pairing).
func (s Spec) Output() Output {
	d, err := CostOf(s.Cost)
	if err != nil {
		return SigmoidOutput // an invalid spec; Check says why
	}
	return d.Output
}

// Check reports the first invalid field.
func (s Spec) Check() error {
	if err := CheckSizes(s.Sizes); err != nil {
		return err
	}
	n := s.Norm()
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
	return slices.Equal(s.Sizes, o.Sizes) && s.Activation == o.Activation && s.Output() == o.Output()
}

func (s Spec) String() string {
	n := s.Norm()
	str := fmt.Sprintf("%v %s, %s cost", n.Sizes, n.Activation, n.Cost)
	if n.Lambda != 0 {
		str += fmt.Sprintf(", λ %g", n.Lambda)
	}
	return str
}
