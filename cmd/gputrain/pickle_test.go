package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// bookPickle is the small mnist.pkl.gz that numpy wrote (mnist/testdata).
var bookPickle = filepath.Join("..", "..", "mnist", "testdata", "mnist-small.pkl.gz")

// sgdEpoch is network.py's SGD written plainly, one sample at a time: an
// epoch of mini-batches of m in file order, each the sum of per-sample
// backpropagation gradients of the quadratic cost through sigmoids, then
// w ← w − (η/m)·Σ∇w, b ← b − (η/m)·Σ∇b. px gives a sample's pixels.
func sgdEpoch(n *network.Network, s *mnist.Set, px func(i int) []float64, m int, eta float64) {
	L := n.NumParams()
	for lo := 0; lo < s.Len(); lo += m {
		hi := min(lo+m, s.Len())
		gw, gb := make([][]float64, L), make([][]float64, L)
		for l := range L {
			gw[l], gb[l] = make([]float64, len(n.Weights[l])), make([]float64, len(n.Biases[l]))
		}
		for i := lo; i < hi; i++ {
			as := feedforward(n, px(i))
			delta := make([]float64, n.Sizes[L])
			for j := range delta {
				y := 0.0
				if j == int(s.Labels[i]) {
					y = 1
				}
				a := as[L][j]
				delta[j] = (a - y) * a * (1 - a) // σ'(z) = a(1 − a)
			}
			for l := L - 1; l >= 0; l-- {
				in := n.Sizes[l]
				prev := make([]float64, in)
				for j, d := range delta {
					gb[l][j] += d
					for k := range in {
						gw[l][j*in+k] += d * as[l][k]
						prev[k] += n.Weights[l][j*in+k] * d
					}
				}
				for k := range prev {
					prev[k] *= as[l][k] * (1 - as[l][k])
				}
				delta = prev
			}
		}
		for l := range L {
			for k := range gw[l] {
				n.Weights[l][k] -= eta / float64(hi-lo) * gw[l][k]
			}
			for k := range gb[l] {
				n.Biases[l][k] -= eta / float64(hi-lo) * gb[l][k]
			}
		}
	}
}

// feedforward returns the activations of every layer, the input's first.
func feedforward(n *network.Network, x []float64) [][]float64 {
	as := [][]float64{x}
	for l := range n.NumParams() {
		in, out := n.Sizes[l], n.Sizes[l+1]
		a := make([]float64, out)
		for j := range out {
			z := n.Biases[l][j]
			for k := range in {
				z += n.Weights[l][j*in+k] * as[l][k]
			}
			a[j] = 1 / (1 + math.Exp(-z))
		}
		as = append(as, a)
	}
	return as
}

func maxDiff(a, b *network.Network) float64 {
	var d float64
	for l := range a.Weights {
		for k := range a.Weights[l] {
			d = max(d, math.Abs(a.Weights[l][k]-b.Weights[l][k]))
		}
		for k := range a.Biases[l] {
			d = max(d, math.Abs(a.Biases[l][k]-b.Biases[l][k]))
		}
	}
	return d
}

// TestTrainBookPickle: train --data mnist.pkl.gz in float64 and file order
// is the per-sample oracle of the book's rule on the pickle's own pixel
// values, to 1e-9; the same oracle on the pixels rounded to bytes, as the
// IDX path would have them, is far off, so the test tells them apart. The
// epoch's line is the book's count on the pickle's test set.
func TestTrainBookPickle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	init, err := network.New([]int{mnist.Pixels, 30, 10}, 7)
	if err != nil {
		t.Fatal(err)
	}
	initPath, out := filepath.Join(dir, "init.json"), filepath.Join(dir, "out.json")
	if err := init.Save(initPath); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("train", "--data", bookPickle, "--init", initPath, "--dtype", "float64", "--no-shuffle",
		"--epochs", "1", "--batch-size", "10", "--eta", "3", "--save", out, "--quiet", "--checkpoint", filepath.Join(dir, "ck"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := network.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mnist.LoadPickle(bookPickle, 0)
	if err != nil {
		t.Fatal(err)
	}
	exact := func(i int) []float64 { return mnist.Floats[float64](d.Training.Slice(i, i+1)) }
	bytes := func(i int) []float64 {
		v := make([]float64, mnist.Pixels)
		for k, p := range d.Training.Image(i) {
			v[k] = float64(p) / 255
		}
		return v
	}
	want, _ := network.Load(initPath)
	sgdEpoch(want, d.Training, exact, 10, 3)
	if diff := maxDiff(got, want); diff > 1e-9 {
		t.Errorf("the trained model differs from the oracle's by %.3g (want ≤ 1e-9)", diff)
	}
	quantised, _ := network.Load(initPath)
	sgdEpoch(quantised, d.Training, bytes, 10, 3)
	if diff := maxDiff(got, quantised); diff < 1e-6 {
		t.Errorf("the oracle on pixels rounded to bytes is within %.3g too: the test could not tell them apart", diff)
	}
	correct := 0
	for i := range d.Test.Len() {
		x := mnist.Floats[float64](d.Test.Slice(i, i+1))
		if as := feedforward(want, x); network.Digit(as[len(as)-1]) == int(d.Test.Labels[i]) {
			correct++
		}
	}
	if line := fmt.Sprintf("Epoch 0: %d / %d", correct, d.Test.Len()); !strings.HasPrefix(stdout, line) {
		t.Errorf("stdout %q, want it to start %q", stdout, line)
	}
}
