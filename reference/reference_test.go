package reference

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/graphtest"
	"github.com/gputrain/gputrain/graph/network"
)

// tiny is a small network of spec's kind with random parameters of scale
// 0.5, so that no neuron saturates and finite differences stay accurate.
func tiny(r *rand.Rand, spec network.Spec) *network.Network {
	net := &network.Network{Spec: spec.Norm()}
	for l := 0; l+1 < len(spec.Sizes); l++ {
		w := make([]float64, spec.Sizes[l]*spec.Sizes[l+1])
		b := make([]float64, spec.Sizes[l+1])
		for i := range w {
			w[i] = 0.5 * r.NormFloat64()
		}
		for i := range b {
			b[i] = 0.5 * r.NormFloat64()
		}
		net.Weights, net.Biases = append(net.Weights, w), append(net.Biases, b)
	}
	return net
}

func randomSample(r *rand.Rand, in, out int) Sample {
	x, y := make([]float64, in), make([]float64, out)
	for i := range x {
		x[i] = r.Float64()
	}
	y[r.IntN(out)] = 1
	return Sample{x, y}
}

// TestBackpropMatchesFiniteDifferences: every component of Backprop's
// gradient equals the central difference (C(p+h) − C(p−h))/2h of the
// sample's cost, for each hidden activation and cost: an oracle that
// knows nothing of backpropagation.
func TestBackpropMatchesFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, act := range network.Activations {
		for _, cost := range network.Costs {
			spec := network.Spec{Arch: network.Arch{Sizes: []int{6, 5, 4, 3}, Activation: act}, Objective: network.Objective{Cost: cost}}
			t.Run(fmt.Sprintf("%s/%s", act, cost), func(t *testing.T) {
				net := tiny(r, spec)
				s := randomSample(r, 6, 3)
				nablaB, nablaW := Backprop(net, s.X, s.Y)
				const h = 1e-6
				check := func(what string, params, grad []float64) {
					for i := range params {
						keep := params[i]
						params[i] = keep + h
						plus := Cost(cost, Feedforward(net, s.X), s.Y)
						params[i] = keep - h
						minus := Cost(cost, Feedforward(net, s.X), s.Y)
						params[i] = keep
						if want := (plus - minus) / (2 * h); math.Abs(grad[i]-want) > 1e-6*math.Max(1, math.Abs(want)) {
							t.Errorf("%s[%d]: backprop %v, finite difference %v", what, i, grad[i], want)
						}
					}
				}
				for l := range net.Weights {
					check(fmt.Sprintf("nabla_w[%d]", l), net.Weights[l], nablaW[l])
					check(fmt.Sprintf("nabla_b[%d]", l), net.Biases[l], nablaB[l])
				}
			})
		}
	}
}

// TestMatchesTapeMachine: over a mini-batch, the mean of Backprop's
// gradients (and the mean cost, where the graph has it) equal what
// Gorgonia's own VM computes from the project's expression graph.
func TestMatchesTapeMachine(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const m = 4
	for _, act := range network.Activations {
		for _, cost := range network.Costs {
			spec := network.Spec{Arch: network.Arch{Sizes: []int{784, 12, 10}, Activation: act}, Objective: network.Objective{Cost: cost}}.Norm()
			t.Run(fmt.Sprintf("%s/%s", act, cost), func(t *testing.T) {
				net, _ := network.NewSpec(spec, r.Uint64(), network.Scaled)
				var x, y []float64
				var data []Sample
				for range m {
					s := randomSample(r, 784, 10)
					data = append(data, s)
					x, y = append(x, s.X...), append(y, s.Y...)
				}
				gr, err := graph.Build(spec, m, graph.Float64, true)
				if err != nil {
					t.Fatal(err)
				}
				if err := graphtest.Bind(gr, net, graph.Float64, x, y); err != nil {
					t.Fatal(err)
				}
				var costV G.Value // the graph has the quadratic cost's value only
				if gr.Cost != nil {
					G.Read(gr.Cost, &costV)
				}
				vm := G.NewTapeMachine(gr.G)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				// Gorgonia's float64 σ is exactly 1 above z = 19 (an error up
				// to e⁻¹⁹), hence 1e-7 rather than 1e-9.
				const tol = 1e-7
				near := func(what string, got, want float64) {
					if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
						t.Errorf("%s: reference %v, TapeMachine %v", what, got, want)
					}
				}
				if costV != nil {
					var mean float64
					for _, s := range data {
						mean += Cost(cost, Feedforward(net, s.X), s.Y) / m
					}
					near("cost", mean, graphtest.Float64s(costV)[0])
				}
				for l := range net.Weights {
					gw, gb := graphtest.Float64s(gr.WeightGrads[l].Value()), graphtest.Float64s(gr.BiasGrads[l].Value())
					sumW, sumB := make([]float64, len(gw)), make([]float64, len(gb))
					for _, s := range data {
						nb, nw := Backprop(net, s.X, s.Y)
						for i := range sumW {
							sumW[i] += nw[l][i] / m
						}
						for i := range sumB {
							sumB[i] += nb[l][i] / m
						}
					}
					for i := range gw {
						near(fmt.Sprintf("nabla_w[%d][%d]", l, i), sumW[i], gw[i])
					}
					for i := range gb {
						near(fmt.Sprintf("nabla_b[%d][%d]", l, i), sumB[i], gb[i])
					}
				}
			})
		}
	}
}
