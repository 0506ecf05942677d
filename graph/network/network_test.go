package network

import (
	"math"
	"testing"
)

func TestRelDiff(t *testing.T) {
	ref := &Network{Spec: Spec{Sizes: []int{2, 1}}, Weights: [][]float64{{2, -4}}, Biases: [][]float64{{0.5}}}
	with := func(w0, w1, b float64) *Network {
		return &Network{Spec: Spec{Sizes: []int{2, 1}}, Weights: [][]float64{{w0, w1}}, Biases: [][]float64{{b}}}
	}
	for _, c := range []struct {
		name string
		n    *Network
		want float64
	}{
		{"equal", with(2, -4, 0.5), 0},
		{"weights: |−4−(−3)| / max(|2|,|−4|)", with(2, -3, 0.5), 0.25},
		{"biases scaled by their own tensor", with(2, -4, 0.25), 0.5},
		{"the larger of the tensors", with(2.4, -4, 0.48), 0.1},
		{"NaN", with(math.NaN(), -4, 0.5), math.NaN()},
	} {
		got := c.n.RelDiff(ref)
		if ok := math.Abs(got-c.want) <= 1e-15 || math.IsNaN(got) && math.IsNaN(c.want); !ok {
			t.Errorf("%s: RelDiff = %v, want %v", c.name, got, c.want)
		}
	}
}
