package cpu

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/reference"
)

// TestLayersMatchNetwork3: from network3's initialisation, 1,000 images
// of compiled float64 SGD steps on chapter 6's networks end where
// network3.py's algorithm, written plainly per image (reference.Net3),
// ends: the shallow network, and two ReLU convolutions with network3's
// L2 term. One step is checked first, so that a wrong gradient shows
// before it is averaged over a hundred.
func TestLayersMatchNetwork3(t *testing.T) {
	cases := []struct {
		layers      string
		eta, lambda float64
		n, batch    int
	}{
		{"conv:20x5x5,pool:2,fc:100,softmax:10", 0.1, 0, 1000, 10},
		{"conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10", 0.03, 0.1, 1000, 10},
		{"conv:3x5x5,conv:2x3x3:relu,pool:3,fc:7,softmax:10", 0.5, 2, 60, 7}, // a conv without a pool, a pool that leaves a border
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
				for lo := 0; lo < len(order); lo += c.batch {
					var xs [][]float64
					var ys []int
					for _, i := range order[lo : lo+c.batch] {
						s := reference.Samples(set, int(i))[0]
						xs, ys = append(xs, s.X), append(ys, int(set.Labels[i]))
					}
					ref.Step(xs, ys, nil, c.eta, c.lambda, c.n/c.batch)
				}
				want := ref.Network(spec)

				b, err := Open(train.NewConfig(spec, c.n, c.batch, c.eta, graph.Float64), set)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
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
			})
		}
	}
}
