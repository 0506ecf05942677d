package reference

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gputrain/gputrain/graph/dropout"
	"github.com/gputrain/gputrain/graph/network"
)

// randomNet3 is a network of the layers with parameters drawn N(0, 0.5).
func randomNet3(t *testing.T, spec string, rng *rand.Rand) *Net3 {
	t.Helper()
	layers, err := network.ParseLayers(spec)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNet3(layers)
	if err != nil {
		t.Fatal(err)
	}
	for l := range n.W {
		for i := range n.W[l] {
			n.W[l][i] = 0.5 * rng.NormFloat64()
		}
		for i := range n.B[l] {
			n.B[l][i] = 0.5 * rng.NormFloat64()
		}
	}
	return n
}

// batch is m random images, labels and dropout masks (from the dropout
// package's generator, as training draws them).
func batch(n *Net3, m int, rng *rand.Rand) ([][]float64, []int, [][][]float64) {
	xs, ys := make([][]float64, m), make([]int, m)
	masks := make([][][]float64, m)
	for k := range m {
		xs[k] = make([]float64, network.InputShape.Size())
		for i := range xs[k] {
			xs[k][i] = rng.Float64()
		}
		ys[k] = rng.IntN(10)
		masks[k] = make([][]float64, len(n.Layers))
		for l, size := range n.MaskSizes() {
			if size > 0 {
				masks[k][l] = make([]float64, size)
				dropout.Mask(masks[k][l], 1, uint64(k), l, n.Layers[l].Dropout)
			}
		}
	}
	return xs, ys, masks
}

// TestNet3GradientByFiniteDifferences holds backpropagation through every
// layer kind (convolution with and without pooling, sigmoid and ReLU,
// fully connected and softmax layers with dropout masks, L2) to the
// central difference of the cost, parameter by parameter.
func TestNet3GradientByFiniteDifferences(t *testing.T) {
	for _, spec := range []string{
		"conv:2x5x5,pool:2,fc:6:dropout=0.5,softmax:10:dropout=0.3",
		"conv:2x5x5:relu,conv:3x3x3,pool:2,softmax:10",
		"conv:3x9x9,pool:4,conv:2x3x3:relu,pool:2,fc:5:relu,softmax:10",
		"fc:8,fc:7:relu:dropout=0.25,softmax:10",
	} {
		rng := rand.New(rand.NewPCG(3, 4))
		n := randomNet3(t, spec, rng)
		xs, ys, masks := batch(n, 3, rng)
		const lambda, batches = 0.1, 7
		gw, gb := n.Grad(xs, ys, masks, lambda, batches)
		worst, checked := 0.0, 0
		for l := range n.W {
			for _, p := range []struct {
				v, g []float64
			}{{n.W[l], gw[l]}, {n.B[l], gb[l]}} {
				for c := 0; c < 12 && len(p.v) > 0; c++ {
					i := rng.IntN(len(p.v))
					const h = 1e-5
					old := p.v[i]
					p.v[i] = old + h
					up := n.Cost(xs, ys, masks, lambda, batches)
					p.v[i] = old - h
					down := n.Cost(xs, ys, masks, lambda, batches)
					p.v[i] = old
					fd := (up - down) / (2 * h)
					if d := math.Abs(fd-p.g[i]) / math.Max(math.Max(math.Abs(fd), math.Abs(p.g[i])), 1e-6); d > worst {
						worst = d
					}
					checked++
				}
			}
		}
		if worst > 1e-5 {
			t.Errorf("%s: backpropagation differs from finite differences by %.3g relative (%d parameters)", spec, worst, checked)
		}
	}
}

// TestNet3EvaluationScalesDropout: evaluating a layer with dropout p is
// evaluating it with its weights scaled by 1 − p and no dropout
// (network3's output path), and training with every unit kept is the
// same as evaluating without dropout.
func TestNet3EvaluationScalesDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := randomNet3(t, "fc:9:dropout=0.5,softmax:10:dropout=0.2", rng)
	plain := randomNet3(t, "fc:9,softmax:10", rng)
	for l := range n.W {
		p := n.Layers[l].Dropout
		for i, v := range n.W[l] {
			plain.W[l][i] = (1 - p) * v
		}
		copy(plain.B[l], n.B[l])
	}
	xs, _, _ := batch(n, 20, rng)
	for _, x := range xs {
		a, b := n.forward(x, nil).out[1], plain.forward(x, nil).out[1]
		for j := range a {
			if math.Abs(a[j]-b[j]) > 1e-14 {
				t.Fatalf("output %d: %v with dropout scaling, %v with scaled weights", j, a[j], b[j])
			}
		}
	}
}
