package network

import (
	"math"
	"testing"
)

func TestRelDiff(t *testing.T) {
	ref := &Network{Spec: Spec{Arch: Arch{Sizes: []int{2, 1}}}, Weights: [][]float64{{2, -4}}, Biases: [][]float64{{0.5}}}
	with := func(w0, w1, b float64) *Network {
		return &Network{Spec: Spec{Arch: Arch{Sizes: []int{2, 1}}}, Weights: [][]float64{{w0, w1}}, Biases: [][]float64{{b}}}
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

// TestScaledInit: network2's default_weight_initializer draws what chapter
// 1's does, each weight divided by √n_in, the biases unchanged; the
// weights' spread is then about 1/√n_in.
func TestScaledInit(t *testing.T) {
	spec := Spec{Arch: Arch{Sizes: []int{784, 100, 10}}}
	large, _ := NewSpec(spec, 5, Large)
	scaled, err := NewSpec(spec, 5, Scaled)
	if err != nil {
		t.Fatal(err)
	}
	for l := range large.Weights {
		in := float64(spec.Sizes[l])
		var ss float64
		for i, w := range scaled.Weights[l] {
			if want := large.Weights[l][i] / math.Sqrt(in); w != want {
				t.Fatalf("weights[%d][%d] = %v, want %v", l, i, w, want)
			}
			ss += w * w
		}
		if sd := math.Sqrt(ss / float64(len(scaled.Weights[l]))); math.Abs(sd*math.Sqrt(in)-1) > 0.05 {
			t.Errorf("layer %d: weights' spread %v, want about 1/√%v", l, sd, in)
		}
		if !sameBits(scaled.Biases[l], large.Biases[l]) {
			t.Errorf("layer %d: the biases differ", l)
		}
	}
	if _, err := NewSpec(spec, 5, "small"); err == nil {
		t.Error("an unknown initialisation was accepted")
	}
}

// TestDigit: the most active output, the first of equals as numpy's argmax
// picks it (the book's evaluate), in both dtypes.
func TestDigit(t *testing.T) {
	for _, c := range []struct {
		out  []float64
		want int
	}{
		{[]float64{0.1, 0.9, 0.2}, 1},
		{[]float64{0.5, 0.2, 0.5}, 0},
		{[]float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 9},
		{[]float64{0.3}, 0},
	} {
		if got := Digit(c.out); got != c.want {
			t.Errorf("Digit(%v) = %d, want %d", c.out, got, c.want)
		}
		f := make([]float32, len(c.out))
		for i, v := range c.out {
			f[i] = float32(v)
		}
		if got := Digit(f); got != c.want {
			t.Errorf("Digit(float32 %v) = %d, want %d", f, got, c.want)
		}
	}
}
