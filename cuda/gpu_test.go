//go:build gpu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// These tests need a GPU: make gpu-check runs them (go test -tags gpu -run
// GPU ./cuda/). A binary built with -tags gpu exits at start-up on a
// machine without the NVIDIA driver (gorgonia.org/cu initialises CUDA in
// its package init), so they cannot even skip there.

// mnistData loads real MNIST from $GPUTRAIN_DATA or ../data/mnist,
// fetching it if missing; nil (and a log line) when that fails.
func mnistData(tb testing.TB) *mnist.Data {
	tb.Helper()
	dir := os.Getenv("GPUTRAIN_DATA")
	if dir == "" {
		dir = filepath.Join("..", "data", "mnist")
	}
	d, err := mnist.Ensure(dir, nil)
	if err != nil {
		tb.Logf("no MNIST in %s: %v", dir, err)
		return nil
	}
	return d
}

// maxRelDiff is max|a−b| over a tensor divided by max|b| over it, the
// largest over all layers.
func maxRelDiff(a, b *graph.Network) float64 {
	worst := 0.0
	for l := range a.Weights {
		for _, pair := range [][2][]float64{{a.Weights[l], b.Weights[l]}, {a.Biases[l], b.Biases[l]}} {
			var diff, scale float64
			for i := range pair[0] {
				diff = math.Max(diff, math.Abs(pair[0][i]-pair[1][i]))
				scale = math.Max(scale, math.Abs(pair[1][i]))
			}
			worst = math.Max(worst, diff/scale)
		}
	}
	return worst
}

func epochOn(t *testing.T, open train.Opener, cfg train.Config, set *mnist.Set, net *graph.Network, order []int32) (*graph.Network, float64, train.Backend) {
	t.Helper()
	b, err := open(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.SetNetwork(net); err != nil {
		t.Fatal(err)
	}
	cost, err := b.Epoch(context.Background(), order, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Network()
	if err != nil {
		t.Fatal(err)
	}
	return got, cost, b
}

// TestGPUMatchesCPU trains one epoch from the same network and order on
// the CPU and the GPU, with and without CUDA graphs, and compares the
// parameters, the cost and the predictions.
func TestGPUMatchesCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	data := mnistData(t)
	sets := []struct {
		name string
		set  *mnist.Set
	}{{"synthetic-1003", randomSet(r, 1003)}}
	if data != nil {
		sets = append(sets, struct {
			name string
			set  *mnist.Set
		}{"mnist", data.Training})
	}
	for _, s := range sets {
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			for _, graphs := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%v/graphs=%v", s.name, dt, graphs), func(t *testing.T) {
					defer func(old bool) { useGraphs = old }(useGraphs)
					useGraphs = graphs
					cfg := train.Config{Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 3, Dtype: dt}
					net, _ := graph.New(cfg.Sizes, 7)
					order := train.NewShuffler(3, true).Order(s.set.Len())
					want, wantCost, cb := epochOn(t, cpu.Open, cfg, s.set, net, order)
					got, gotCost, gb := epochOn(t, Open, cfg, s.set, net, order)
					tol := 1e-3
					if dt == graph.Float64 {
						tol = 1e-7
					}
					if d := maxRelDiff(got, want); d > tol {
						t.Errorf("parameters differ from the CPU backend's by %g relative, more than %g", d, tol)
					}
					if math.Abs(gotCost-wantCost) > tol*wantCost {
						t.Errorf("epoch cost %v, CPU %v", gotCost, wantCost)
					}
					if g := gb.(*backend); graphs && g.graphErr != nil {
						t.Errorf("CUDA graph capture failed, steps ran one kernel at a time: %v", g.graphErr)
					}
					eval := s.set
					if data != nil {
						eval = data.Test
					}
					gp, err := gb.Predict(eval)
					if err != nil {
						t.Fatal(err)
					}
					cp, _ := cb.Predict(eval)
					differ := 0
					for i := range gp {
						if gp[i] != cp[i] {
							differ++
						}
					}
					if differ > len(gp)/1000 {
						t.Errorf("%d of %d predictions differ from the CPU backend's", differ, len(gp))
					}
				})
			}
		}
	}
}

// TestGPUAccuracy is the book's first result: one epoch of [784,30,10] at
// batch 10 and η = 3 classifies over 90% of the test set.
func TestGPUAccuracy(t *testing.T) {
	data := mnistData(t)
	if data == nil {
		t.Skip("needs MNIST: set GPUTRAIN_DATA or allow the fetch")
	}
	cfg := train.Config{Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	b, err := Open(cfg, data.Training)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	net, _ := graph.New(cfg.Sizes, 1)
	if err := b.SetNetwork(net); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Epoch(context.Background(), train.NewShuffler(1, true).Order(data.Training.Len()), nil); err != nil {
		t.Fatal(err)
	}
	correct, err := train.Evaluate(b, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	acc := float64(correct) / float64(data.Test.Len())
	t.Logf("one epoch: %d / %d correct (%.2f%%)", correct, data.Test.Len(), 100*acc)
	if acc < 0.90 {
		t.Errorf("accuracy %.4f after one epoch, want at least 0.90", acc)
	}
}

// TestGPUDivergence: an η too large for float32 makes the parameters
// infinite, then the cost NaN; the GPU reports the same mini-batch as the CPU.
func TestGPUDivergence(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	set := randomSet(r, 200)
	cfg := train.Config{Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 1e300, Dtype: graph.Float32}
	net, _ := graph.New(cfg.Sizes, 3)
	order := train.NewShuffler(4, true).Order(set.Len())
	var batches []int
	for _, open := range []train.Opener{cpu.Open, Open} {
		b, err := open(cfg, set)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.SetNetwork(net)
		_, err = b.Epoch(context.Background(), order, nil)
		var d *train.Divergence
		if !errors.As(err, &d) {
			t.Fatalf("error %v, want a *train.Divergence", err)
		}
		batches = append(batches, d.Batch)
	}
	if batches[0] != batches[1] {
		t.Errorf("GPU diverged at mini-batch %d, CPU at %d", batches[1], batches[0])
	}
}

// TestGPUCancel: a canceled context stops the epoch before its first step.
func TestGPUCancel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	set := randomSet(r, 100)
	cfg := train.Config{Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	b, err := Open(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	net, _ := graph.New(cfg.Sizes, 1)
	b.SetNetwork(net)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Epoch(ctx, train.NewShuffler(1, true).Order(set.Len()), nil)
	var c *train.Canceled
	if !errors.As(err, &c) || c.Done != 0 {
		t.Fatalf("error %v, want *train.Canceled after 0 images", err)
	}
	got, _ := b.Network()
	if !got.Equal(roundTrip(net)) {
		t.Errorf("a canceled epoch changed the parameters")
	}
}

// roundTrip is n as float32 parameters hold it.
func roundTrip(n *graph.Network) *graph.Network {
	c := n.Clone()
	for l := range c.Weights {
		for i, v := range c.Weights[l] {
			c.Weights[l][i] = float64(float32(v))
		}
		for i, v := range c.Biases[l] {
			c.Biases[l][i] = float64(float32(v))
		}
	}
	return c
}

// TestGPUOutOfMemory: a program too large for the device is an error that
// names what was being allocated, not a panic.
func TestGPUOutOfMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates until the device refuses")
	}
	cfg := train.Config{Sizes: []int{784, 46000, 46000, 10}, BatchSize: 46000, Eta: 3, Dtype: graph.Float32}
	b, err := Open(cfg, randomSet(rand.New(rand.NewPCG(4, 4)), 10))
	if err == nil {
		b.Close()
		t.Skip("the device holds even this; nothing to check")
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), "allocating") {
		t.Errorf("error %q does not say what ran out of memory", err)
	}
}
