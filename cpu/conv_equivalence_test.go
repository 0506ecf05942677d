package cpu

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/dropout"
	"github.com/gputrain/gputrain/graph/graphtest"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/reference"
)

// TestLayersMatchNetwork3: from network3's initialisation, 1,000 images
// of compiled float64 SGD steps on chapter 6's networks end where
// network3.py's algorithm, written plainly per image (reference.Net3),
// ends: the shallow network, and two ReLU convolutions with network3's
// L2 term, fully connected and convolutional networks with dropout (the
// masks drawn by the machine from the seed and the step, and by the test
// from graph/dropout for the oracle). One step is checked first, so that
// a wrong gradient shows before it is averaged over a hundred; then the
// forward program (network3's output path, dropout layers scaled by
// 1 − p) gives network3's outputs.
func TestLayersMatchNetwork3(t *testing.T) {
	cases := []struct {
		layers      string
		eta, lambda float64
		n, batch    int
	}{
		{"conv:20x5x5,pool:2,fc:100,softmax:10", 0.1, 0, 1000, 10},
		{"conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10", 0.03, 0.1, 1000, 10},
		{"conv:3x5x5,conv:2x3x3:relu,pool:3,fc:7,softmax:10", 0.5, 2, 60, 7}, // a conv without a pool, a pool that leaves a border
		{"fc:100:relu:dropout=0.5,fc:30:dropout=0.2,softmax:10:dropout=0.5", 0.1, 0.1, 1000, 10},
		{"conv:4x5x5:relu,pool:2,fc:20:relu:dropout=0.5,softmax:10:dropout=0.25", 0.1, 0, 1000, 10},
	}
	r := newRand(17)
	for _, c := range cases {
		layers, err := network.ParseLayers(c.layers)
		if err != nil {
			t.Fatal(err)
		}
		spec := network.Spec{Arch: network.Arch{Layers: layers}, Objective: network.Objective{Lambda: c.lambda}}.Norm()
		for _, steps := range []int{1, c.n / c.batch} {
			t.Run(fmt.Sprintf("%s/λ=%g/steps=%d", c.layers, c.lambda, steps), func(t *testing.T) {
				set := randomSet(r, c.n)
				net, err := network.NewSpec(spec, r.Uint64(), network.Scaled)
				if err != nil {
					t.Fatal(err)
				}
				order := make([]int32, steps*c.batch)
				for i, j := range r.Perm(c.n)[:len(order)] {
					order[i] = int32(j)
				}
				ref, err := reference.Net3Of(net)
				if err != nil {
					t.Fatal(err)
				}
				// The masks the machine draws: unit image × inputs + input of
				// the step's batch, keyed by (seed, step, layer).
				const seed, firstStep = 99, 12345
				for lo, step := 0, uint64(firstStep); lo < len(order); lo, step = lo+c.batch, step+1 {
					var xs [][]float64
					var ys []int
					masks := make([][][]float64, c.batch)
					for k, i := range order[lo : lo+c.batch] {
						s := reference.Samples(set, int(i))[0]
						xs, ys = append(xs, s.X), append(ys, int(set.Labels[i]))
						masks[k] = make([][]float64, len(layers))
						for l, size := range ref.MaskSizes() {
							masks[k][l] = make([]float64, size)
							for u := range size {
								if dropout.Keep(seed, step, l, k*size+u, dropout.Threshold(layers[l].Dropout)) {
									masks[k][l][u] = 1
								}
							}
						}
					}
					ref.Step(xs, ys, masks, c.eta, c.lambda, c.n/c.batch)
				}
				want := ref.Network(spec)

				cfg := train.NewConfig(spec, c.n, c.batch, c.eta, graph.Float64)
				cfg.Seed = seed
				b, err := Open(cfg, set)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				b.(interface{ SetStep(uint64) }).SetStep(firstStep)
				if err := b.SetNetwork(net); err != nil {
					t.Fatal(err)
				}
				if _, err := b.Epoch(context.Background(), order, nil); err != nil {
					t.Fatal(err)
				}
				got, _ := b.Network()
				const tol = 1e-9
				if d := got.RelDiff(want); d > tol {
					t.Errorf("max relative difference from network3's algorithm %g > %g", d, tol)
				}
				if net.RelDiff(want) < 1e3*tol {
					t.Errorf("the parameters barely moved: the test would not see a wrong update")
				}
				// The forward program (another batch size, the trained
				// parameters shared with it) gives network3's outputs.
				eval := set.Slice(0, min(c.n, 30))
				acts, err := b.Activations(eval)
				if err != nil {
					t.Fatal(err)
				}
				for i := range eval.Len() {
					out := ref.Output(reference.Samples(eval, i)[0].X)
					for j, v := range out {
						if d := math.Abs(acts[i*network.OutputSize+j] - v); d > tol {
							t.Fatalf("image %d, output %d: %v, network3's %v", i, j, acts[i*network.OutputSize+j], v)
						}
					}
				}
				// --monitor's cost: network3's cost of the images on the
				// output path, its L2 term over the training mini-batches.
				cost, _, err := b.Monitor(eval)
				if err != nil {
					t.Fatal(err)
				}
				var xs [][]float64
				var ys []int
				for i := range eval.Len() {
					xs, ys = append(xs, reference.Samples(eval, i)[0].X), append(ys, int(eval.Labels[i]))
				}
				if want := ref.Cost(xs, ys, nil, c.lambda, c.n/c.batch); math.Abs(cost-want) > tol*want {
					t.Errorf("monitor's cost %v, network3's %v", cost, want)
				}
			})
		}
	}
}

// TestLayersProgramMatchesTapeMachine runs the Gorgonia graph of a network
// of layers (Conv2d, MaxPool2D and their gradients) in Gorgonia's own VM
// and compares its output and gradients (as the updated parameters
// w − η·∂C/∂w) with one compiled float64 step: the lowering of each of
// Gorgonia's ops keeps its meaning.
func TestLayersProgramMatchesTapeMachine(t *testing.T) {
	r := newRand(23)
	for _, spec := range []string{
		"conv:4x5x5,pool:2,fc:12,softmax:10",
		"conv:3x5x5:relu,pool:2,conv:5x3x3:relu,pool:2,fc:8:relu,softmax:10",
		"conv:2x3x3,conv:3x5x5,pool:3,softmax:10",
	} {
		t.Run(spec, func(t *testing.T) {
			const m, eta, tol = 3, 0.5, 1e-7 // Gorgonia's σ clamps at |z| > 19 (see TestProgramMatchesTapeMachine)
			layers, err := network.ParseLayers(spec)
			if err != nil {
				t.Fatal(err)
			}
			s := network.Spec{Arch: network.Arch{Layers: layers}}.Norm()
			net, err := network.NewSpec(s, r.Uint64(), network.Scaled)
			if err != nil {
				t.Fatal(err)
			}
			for l := range net.Weights { // softmax's zeros would hide its gradient's use
				for i := range net.Weights[l] {
					net.Weights[l][i] += 0.1 * r.NormFloat64()
				}
			}
			set := randomSet(r, m)
			var x, y []float64
			for _, smp := range reference.Samples(set) {
				x, y = append(x, smp.X...), append(y, smp.Y...)
			}
			gr, err := graph.Build(s, m, graph.Float64, true)
			if err != nil {
				t.Fatal(err)
			}
			want, wantOut, _, err := graphtest.Step(gr, net, graph.Float64, x, y, eta)
			if err != nil {
				t.Fatal(err)
			}
			p, err := graph.Compile(s, m, graph.Float64, graph.Step{Eta: eta})
			if err != nil {
				t.Fatal(err)
			}
			mc := NewMachine[float64](p, 2)
			defer mc.Close()
			copy(mc.Buf(p.X), x)
			copy(mc.Buf(p.Y), y)
			for l := range p.Weights {
				copy(mc.Buf(p.Weights[l]), net.Weights[l])
				copy(mc.Buf(p.Biases[l]), net.Biases[l])
			}
			mc.Run()
			check := func(name string, got, want []float64) {
				t.Helper()
				for i := range want {
					if d := math.Abs(got[i]-want[i]) / math.Max(1, math.Abs(want[i])); d > tol {
						t.Fatalf("%s[%d] = %v, TapeMachine %v", name, i, got[i], want[i])
					}
				}
			}
			check("output", mc.Buf(p.Output), wantOut)
			for l := range p.Weights {
				check(fmt.Sprintf("w%d", l+1), mc.Buf(p.Weights[l]), want.Weights[l])
				check(fmt.Sprintf("b%d", l+1), mc.Buf(p.Biases[l]), want.Biases[l])
			}
			if net.RelDiff(want) < 1e-6 {
				t.Errorf("the step barely moved the parameters: the test would not see a wrong gradient")
			}
		})
	}
}

// TestLayersGradientByFiniteDifferences: on tiny networks of every layer
// kind, the gradient one compiled float64 step applies (w − w′ with η = 1,
// λ = 0) is the central difference of the cost program's value, parameter
// by parameter: the compiled programs checked without any oracle's
// backpropagation.
func TestLayersGradientByFiniteDifferences(t *testing.T) {
	r := newRand(29)
	for _, spec := range []string{
		"conv:2x5x5,pool:2,fc:6,softmax:10",
		"conv:2x5x5:relu,conv:3x3x3,pool:3,softmax:10",
		"conv:3x9x9,pool:4,conv:2x3x3:relu,pool:2,fc:5:relu,softmax:10",
	} {
		t.Run(spec, func(t *testing.T) {
			const m = 3
			layers, err := network.ParseLayers(spec)
			if err != nil {
				t.Fatal(err)
			}
			s := network.Spec{Arch: network.Arch{Layers: layers}}.Norm()
			net, err := network.NewSpec(s, r.Uint64(), network.Scaled)
			if err != nil {
				t.Fatal(err)
			}
			for l := range net.Weights {
				for i := range net.Weights[l] {
					net.Weights[l][i] += 0.3 * r.NormFloat64()
				}
			}
			set := randomSet(r, m)
			var x, y []float64
			for _, smp := range reference.Samples(set) {
				x, y = append(x, smp.X...), append(y, smp.Y...)
			}
			load := func(p *graph.Program, n *network.Network) *Machine[float64] {
				mc := NewMachine[float64](p, 1)
				copy(mc.Buf(p.X), x)
				copy(mc.Buf(p.Y), y)
				for l := range p.Weights {
					copy(mc.Buf(p.Weights[l]), n.Weights[l])
					copy(mc.Buf(p.Biases[l]), n.Biases[l])
				}
				return mc
			}
			step, err := graph.Compile(s, m, graph.Float64, graph.Step{Eta: 1})
			if err != nil {
				t.Fatal(err)
			}
			costP, err := graph.CompileMonitor(s, m, graph.Float64)
			if err != nil {
				t.Fatal(err)
			}
			mc := load(step, net)
			mc.Run()
			cost := func(n *network.Network) float64 {
				c := load(costP, n)
				c.Run()
				return c.Buf(costP.Cost)[0]
			}
			worst := 0.0
			for l := range net.Weights {
				for _, q := range []struct {
					v   func(*network.Network) []float64
					buf int
				}{
					{func(n *network.Network) []float64 { return n.Weights[l] }, step.Weights[l]},
					{func(n *network.Network) []float64 { return n.Biases[l] }, step.Biases[l]},
				} {
					for range 6 {
						i := r.IntN(len(q.v(net)))
						g := q.v(net)[i] - mc.Buf(q.buf)[i]
						const h = 1e-5
						up, down := net.Clone(), net.Clone()
						q.v(up)[i] += h
						q.v(down)[i] -= h
						fd := (cost(up) - cost(down)) / (2 * h)
						worst = math.Max(worst, math.Abs(fd-g)/math.Max(math.Max(math.Abs(fd), math.Abs(g)), 1e-4)) // tiny gradients: the difference quotient's rounding (~1e-11) dominates
					}
				}
			}
			if worst > 1e-5 {
				t.Errorf("the compiled gradient differs from finite differences by %.3g relative", worst)
			}
		})
	}
}
