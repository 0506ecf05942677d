package graph

import (
	"fmt"
	"github.com/gputrain/gputrain/graph/network"
	"slices"
	"strings"
	"testing"
)

// TestGorgoniaOpKinds pins the kinds of Gorgonia op that each supported
// graph produces, the set gorgonia.go's handlers are written for. A
// Gorgonia upgrade that builds or differentiates these graphs with other
// ops fails here, naming what appeared and what went away.
func TestGorgoniaOpKinds(t *testing.T) {
	forward := []string{"elemBinOp +", "elemUnaryOp sigmoid", "input", "linAlgBinOp", "repeatOp", "reshapeOp", "sizeOp", "transposeOp"}
	training := append(slices.Clone(forward),
		"constant", "elemBinOp -", "elemBinOp ⊙", "elemUnaryOp neg", "elemUnaryOp square", "sumOp")
	// The cross-entropy graph starts from δ = (a−y)/m: no square, and no
	// σ' (σ(z)·σ(−z), a neg) without a hidden layer.
	xent := minus(training, []string{"elemUnaryOp square"})
	xentShallow := minus(xent, []string{"elemUnaryOp neg"})
	for _, k := range [][]string{forward, training, xent, xentShallow} {
		slices.Sort(k)
	}
	for _, dt := range []Dtype{Float32, Float64} {
		for _, sizes := range [][]int{{784, 10}, {784, 30, 10}, {784, 5, 7, 10}} {
			for _, m := range []int{1, 10} {
				for _, c := range []struct {
					cost  network.Cost
					grads bool
				}{{network.Quadratic, false}, {network.Quadratic, true}, {network.CrossEntropy, true}} {
					grads := c.grads
					spec := network.Spec{Arch: network.Arch{Sizes: sizes}, Objective: network.Objective{Cost: c.cost}}
					t.Run(fmt.Sprintf("%v/%v/m=%d/grads=%v", dt, spec, m, grads), func(t *testing.T) {
						gr, err := Build(spec, m, dt, grads)
						if err != nil {
							t.Fatal(err)
						}
						want := forward
						switch {
						case grads && c.cost == network.CrossEntropy && len(sizes) == 2:
							want = xentShallow
						case grads && c.cost == network.CrossEntropy:
							want = xent
						case grads:
							want = training
						}
						got := opKinds(gr)
						if !slices.Equal(got, want) {
							t.Fatalf("Gorgonia produced op kinds\n  %s\nwhere the compiler is written for\n  %s\nnew: %v; gone: %v: check graph/gorgonia.go's handlers against this Gorgonia version",
								strings.Join(got, ", "), strings.Join(want, ", "), minus(got, want), minus(want, got))
						}
					})
				}
			}
		}
	}
}

func minus(a, b []string) []string {
	var d []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			d = append(d, x)
		}
	}
	return d
}

// TestGorgoniaOpKindsActivations pins the kinds of op that chapter 3's
// hidden activations and softmax layer add: tanh's own op (Gorgonia differentiates it as
// 1 − y⊙y), and Rectify's comparison z >= 0, which it multiplies by z and
// differentiates through.
func TestGorgoniaOpKindsActivations(t *testing.T) {
	common := []string{"elemBinOp +", "elemUnaryOp sigmoid", "input", "linAlgBinOp", "repeatOp", "reshapeOp", "sizeOp", "transposeOp"}
	train := []string{"constant", "elemBinOp -", "elemBinOp ⊙", "sumOp"}
	cases := []struct {
		act   network.Activation
		cost  network.Cost
		grads bool
		extra []string
	}{
		{network.Tanh, network.Quadratic, false, []string{"elemUnaryOp tanh"}},
		{network.Tanh, network.Quadratic, true, append([]string{"elemUnaryOp tanh", "elemUnaryOp neg", "elemUnaryOp square"}, train...)},
		{network.Tanh, network.CrossEntropy, true, append([]string{"elemUnaryOp tanh"}, train...)},
		{network.ReLU, network.Quadratic, false, []string{"constant", "elemBinOp >=", "elemBinOp ⊙"}},
		{network.ReLU, network.Quadratic, true, append([]string{"elemBinOp >=", "elemUnaryOp neg", "elemUnaryOp square"}, train...)},
		{network.ReLU, network.CrossEntropy, true, append([]string{"elemBinOp >="}, train...)},
		// The softmax output layer with the log-likelihood: Gorgonia's
		// softmax forward; backpropagation starts below it, at z.
		{network.Sigmoid, network.LogLikelihood, false, []string{"softmaxOp"}},
		{network.Sigmoid, network.LogLikelihood, true, append([]string{"softmaxOp", "elemUnaryOp neg"}, train...)},
	}
	for _, c := range cases {
		for _, dt := range []Dtype{Float32, Float64} {
			spec := network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}, Activation: c.act}, Objective: network.Objective{Cost: c.cost}}
			t.Run(fmt.Sprintf("%v/%v/grads=%v", dt, spec, c.grads), func(t *testing.T) {
				gr, err := Build(spec, 10, dt, c.grads)
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Concat(common, c.extra)
				slices.Sort(want)
				want = slices.Compact(want)
				if got := opKinds(gr); !slices.Equal(got, want) {
					t.Fatalf("Gorgonia produced op kinds\n  %s\nwhere the compiler is written for\n  %s\nnew: %v; gone: %v: check graph/gorgonia.go's handlers against this Gorgonia version",
						strings.Join(got, ", "), strings.Join(want, ", "), minus(got, want), minus(want, got))
				}
			})
		}
	}
}

// TestActivationsAndDirectOps checks the tables that adding an activation
// or a cost touches: every activation and cost a network may name has a
// Gorgonia builder, every cost that leaves its value to the compiler names
// a row-cost op, and every op that lowers a Gorgonia op directly is an
// element-wise unary instruction, the only one for that Gorgonia op, and
// not one the compiler lowers by its own algebra (which would hide it).
func TestActivationsAndDirectOps(t *testing.T) {
	for _, a := range network.Activations {
		if d, err := network.ActivationOf(a); err != nil || d.Graph == nil {
			t.Errorf("activation %s: no Gorgonia function (%v)", a, err)
		}
	}
	for _, c := range network.Costs {
		d, err := network.CostOf(c)
		if err != nil || d.Loss == nil {
			t.Errorf("cost %s: no Gorgonia builder (%v)", c, err)
			continue
		}
		if o, ok := opNamed(d.RowCost); d.RowCost != "" && (!ok || o.Def().Form != FormRowCosts) {
			t.Errorf("cost %s: row cost %q is not a FormRowCosts op", c, d.RowCost)
		}
	}
	seen := map[string]Op{}
	for _, o := range Ops() {
		name := o.Def().Gorgonia
		if name == "" {
			continue
		}
		if o.Def().Form != FormUnary {
			t.Errorf("%v lowers Gorgonia's %s but is not FormUnary", o, name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("%v and %v both lower Gorgonia's %s", prev, o, name)
		}
		seen[name] = o
		if _, ok := unaryFns[name]; ok {
			t.Errorf("%v lowers Gorgonia's %s, which unaryFns takes first", o, name)
		}
		if _, ok := binaryFns[name]; ok {
			t.Errorf("%v lowers Gorgonia's %s, which binaryFns takes first", o, name)
		}
	}
	for _, want := range []Op{Tanh, Gate} {
		if got, ok := gorgoniaOp(want.Def().Gorgonia); !ok || got != want {
			t.Errorf("gorgoniaOp(%q) = %v, %v; want %v", want.Def().Gorgonia, got, ok, want)
		}
	}
}
