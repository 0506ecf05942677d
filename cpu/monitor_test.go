package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// network2TotalCost is network2.py's total_cost and accuracy, written
// plainly: feedforward per image, cost.fn summed over the images / n,
// plus ½(λ/n)·Σ‖w‖², n the images of the set; CrossEntropyCost.fn with
// np.nan_to_num's 0 for 0·ln 0.
func network2TotalCost(net *network.Network, s *mnist.Set) (float64, int) {
	var cost float64
	correct := 0
	for i := range s.Len() {
		a, y := sample(s, i)
		for l := range net.Weights {
			in, out := net.Sizes[l], net.Sizes[l+1]
			next := make([]float64, out)
			var sum float64
			for j := range next {
				z := net.Biases[l][j]
				for k := range in {
					z += net.Weights[l][j*in+k] * a[k]
				}
				next[j] = sigma(z)
				if l == len(net.Weights)-1 && net.Spec.Output() == network.Softmax {
					next[j] = math.Exp(z)
					sum += next[j]
				}
			}
			for j := range next {
				if sum > 0 {
					next[j] /= sum
				}
			}
			a = next
		}
		best := 0
		for j := range a {
			switch net.Spec.Norm().Cost {
			case network.Quadratic:
				cost += 0.5 * (a[j] - y[j]) * (a[j] - y[j]) / float64(s.Len())
			case network.LogLikelihood: // chapter 3's −ln a_y
				if y[j] == 1 {
					cost -= math.Log(a[j]) / float64(s.Len())
				}
			case network.CrossEntropy:
				t := 0.0
				if y[j] != 0 {
					t -= y[j] * math.Log(a[j])
				}
				if y[j] != 1 {
					t -= (1 - y[j]) * math.Log(1-a[j])
				}
				cost += t / float64(s.Len())
			}
			if a[j] > a[best] {
				best = j
			}
		}
		if best == int(s.Labels[i]) {
			correct++
		}
	}
	var ss float64
	for _, w := range net.Weights {
		for _, v := range w {
			ss += v * v
		}
	}
	return cost + 0.5*net.Lambda/float64(s.Len())*ss, correct
}

// TestMonitorMatchesNetwork2: the monitors' cost and accuracy are
// network2's total_cost and accuracy, for each cost, with and without λ,
// over a set that is not a whole number of evaluation batches.
func TestMonitorMatchesNetwork2(t *testing.T) {
	r := newRand(13)
	set := randomSet(r, 1203)
	for _, spec := range []network.Spec{
		{Sizes: []int{784, 30, 10}},
		{Sizes: []int{784, 30, 10}, Cost: network.CrossEntropy},
		{Sizes: []int{784, 7, 10}, Cost: network.CrossEntropy, Lambda: 5},
		{Sizes: []int{784, 10}, Lambda: 0.1},
		{Sizes: []int{784, 12, 10}, Cost: network.LogLikelihood, Lambda: 1},
	} {
		for _, dt := range []graph.Dtype{graph.Float64, graph.Float32} {
			t.Run(fmt.Sprintf("%v/%v", spec, dt), func(t *testing.T) {
				net, err := network.NewSpec(spec, r.Uint64(), network.Scaled)
				if err != nil {
					t.Fatal(err)
				}
				wantCost, wantCorrect := network2TotalCost(net, set)
				cost, correct, err := Monitor(net, set, dt)
				if err != nil {
					t.Fatal(err)
				}
				tol := 1e-9
				if dt == graph.Float32 {
					tol = 1e-4
				}
				if math.Abs(cost-wantCost) > tol*wantCost {
					t.Errorf("cost %v, network2's total_cost %v", cost, wantCost)
				}
				// float32 may round a near tie the other way.
				if d := correct - wantCorrect; dt == graph.Float64 && d != 0 || d*d > 4 {
					t.Errorf("%d correct, network2's accuracy %d", correct, wantCorrect)
				}
			})
		}
	}
}
