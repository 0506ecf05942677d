package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
	"github.com/gputrain/gputrain/reference"
)

// TestMonitorMatchesNetwork2: the monitors' cost and accuracy are
// network2's total_cost and accuracy (package reference), for each cost, with and without λ,
// over a set that is not a whole number of evaluation batches.
func TestMonitorMatchesNetwork2(t *testing.T) {
	r := newRand(13)
	set := randomSet(r, 1203)
	for _, spec := range []network.Spec{
		{Arch: network.Arch{Sizes: []int{784, 30, 10}}},
		{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy}},
		{Arch: network.Arch{Sizes: []int{784, 7, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}},
		{Arch: network.Arch{Sizes: []int{784, 10}}, Objective: network.Objective{Lambda: 0.1}},
		{Arch: network.Arch{Sizes: []int{784, 12, 10}}, Objective: network.Objective{Cost: network.LogLikelihood, Lambda: 1}},
	} {
		for _, dt := range []graph.Dtype{graph.Float64, graph.Float32} {
			t.Run(fmt.Sprintf("%v/%v", spec, dt), func(t *testing.T) {
				net, err := network.NewSpec(spec, r.Uint64(), network.Scaled)
				if err != nil {
					t.Fatal(err)
				}
				data := reference.Samples(set)
				wantCost, wantCorrect := reference.TotalCost(net, data, net.Lambda), reference.Accuracy(net, data)
				cost, correct, err := monitor(net, set, dt)
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

// monitor measures net on s with a predictor's Monitor, in dt.
func monitor(net *network.Network, s *mnist.Set, dt graph.Dtype) (cost float64, correct int, err error) {
	p, err := OpenPredictor(net.Spec, dt)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	if err := p.SetNetwork(net); err != nil {
		return 0, 0, err
	}
	return p.Monitor(s)
}
