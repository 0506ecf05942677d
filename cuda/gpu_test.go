//go:build gpu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// These tests need a GPU, or the CPU stand-in for the driver (make
// gpu-standin-check): make gpu-check runs them (go test -tags gpu -run GPU
// ./cuda/). A binary built with -tags gpu exits at start-up, saying why,
// on a machine without the NVIDIA driver, so they cannot even skip there.

// mnistData loads real MNIST from mnist.SharedDir ($GPUTRAIN_DATA or the
// user's cache), fetching it if missing; nil (and a log line) when that fails.
func mnistData(tb testing.TB) *mnist.Data {
	tb.Helper()
	dir := mnist.SharedDir()
	d, err := mnist.Ensure(dir, nil)
	if err != nil {
		tb.Logf("no MNIST in %s: %v", dir, err)
		return nil
	}
	return d
}

func epochOn(t *testing.T, open train.Opener, cfg train.Config, set *mnist.Set, net *network.Network, order []int32) (*network.Network, float64, train.Trainer) {
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

// fileOrder is 0, 1, …, n−1: mini-batches in file order.
func fileOrder(n int) []int32 {
	o := make([]int32, n)
	for i := range o {
		o[i] = int32(i)
	}
	return o
}

// firstImages is the first n images of the MNIST training set, or n
// synthetic ones without MNIST.
func firstImages(data *mnist.Data, r *rand.Rand, n int) *mnist.Set {
	if data != nil {
		return data.Training.Slice(0, n)
	}
	return randomSet(r, n)
}

// TestGPUMatchesCPU trains from the same network, in file order, on the
// CPU and the GPU for at most 100 steps, and compares the parameters, the
// epoch's cost and the predictions. Over longer runs rounding differences
// grow chaotically (two correct CPU GEMMs end a 5,000-step MNIST epoch
// 9e-2 apart in float32), so 100 steps is where a correct GPU agrees.
func TestGPUMatchesCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	data := mnistData(t)
	ch3 := func(sizes []int, act network.Activation, cost network.Cost, lambda float64) network.Spec {
		return network.Spec{Arch: network.Arch{Sizes: sizes, Activation: act}, Objective: network.Objective{Cost: cost, Lambda: lambda}}.Norm()
	}
	ch6 := func(layers string, lambda float64) network.Spec {
		ls, err := network.ParseLayers(layers)
		if err != nil {
			t.Fatal(err)
		}
		return network.Spec{Arch: network.Arch{Layers: ls}, Objective: network.Objective{Lambda: lambda}}.Norm()
	}
	cases := []struct {
		spec   network.Spec
		init   network.WeightInit
		eta    float64
		batch  int
		images int
	}{
		{network.Book([]int{784, 30, 10}), network.Large, 3, 10, 1000},      // 100 steps, the book's shape
		{network.Book([]int{784, 30, 10}), network.Large, 3, 1000, 3003},    // 4 steps, biases summed by a ones-vector GEMM, a short last batch
		{network.Book([]int{784, 100, 30, 10}), network.Large, 3, 32, 1600}, // 50 steps, two hidden layers
		// Chapter 3: its headline run (cross-entropy, L2 decay fused into
		// the update, scaled init), softmax with the log-likelihood under
		// tanh, and ReLU's gate; short last batches.
		{ch3([]int{784, 100, 10}, network.Sigmoid, network.CrossEntropy, 5), network.Scaled, 0.5, 10, 995},
		{ch3([]int{784, 30, 10}, network.Tanh, network.LogLikelihood, 1), network.Scaled, 0.1, 32, 1000},
		{ch3([]int{784, 30, 10}, network.ReLU, network.CrossEntropy, 0), network.Scaled, 0.1, 10, 1005},
		// Chapter 6 (network3.py): the shallow convolutional network, and
		// two ReLU convolutions with network3's L2 term, a pool that leaves
		// a border and a short last batch.
		{ch6("conv:20x5x5,pool:2,fc:100,softmax:10", 0), network.Scaled, 0.1, 10, 200},
		{ch6("conv:6x5x5:relu,pool:2,conv:5x3x3:relu,pool:3,fc:30:relu,softmax:10", 0.1), network.Scaled, 0.03, 10, 205},
		// Dropout on the fully connected and softmax layers' inputs: the
		// CUDA machine draws the CPU's masks (gt_key and the dropout op).
		{ch6("conv:4x5x5:relu,pool:2,fc:30:relu:dropout=0.5,softmax:10:dropout=0.5", 0), network.Scaled, 0.03, 10, 205},
	}
	for _, c := range cases {
		set := firstImages(data, r, c.images)
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			t.Run(fmt.Sprintf("%v/batch=%d/%v", c.spec, c.batch, dt), func(t *testing.T) {
				cfg := train.Config{Spec: c.spec, TrainSize: set.Len(), BatchSize: c.batch, Eta: c.eta, Dtype: dt, Seed: 5}
				net, _ := network.NewSpec(cfg.Spec, 7, c.init)
				order := fileOrder(set.Len())
				want, wantCost, cb := epochOn(t, cpu.Open, cfg, set, net, order)
				got, gotCost, gb := epochOn(t, Open, cfg, set, net, order)
				tol := 1e-4
				if dt == graph.Float64 {
					tol = 1e-9
				}
				if d := got.RelDiff(want); d > tol {
					t.Errorf("parameters differ from the CPU backend's by %g relative, more than %g; %s", d, tol, firstDiff(got, want, tol))
				}
				if math.Abs(gotCost-wantCost) > tol*wantCost {
					t.Errorf("epoch cost %v, CPU %v", gotCost, wantCost)
				}
				gp, err := gb.Predict(set)
				if err != nil {
					t.Fatal(err)
				}
				cp, _ := cb.Predict(set)
				if differ := countDiffer(gp, cp); differ > len(gp)/1000 {
					t.Errorf("%d of %d predictions differ from the CPU backend's", differ, len(gp))
				}
			})
		}
	}
}

func countDiffer(a, b []uint8) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// TestGPUGraphsMatchLaunches runs the same training with the steps
// replayed from captured CUDA graphs and launched kernel by kernel: the
// results must be bit-identical, since a graph replays the same kernels on
// the same data. The run takes the paths a real one does: three epochs of
// 1,093 images (five 20-step graphs at batch 10, nine single steps, then a
// short batch of 3 whose one-step graph is captured in the second epoch),
// Predict between epochs (the first on a larger set, then a smaller one
// that reuses its buffers), and a last epoch over a longer order, which
// reallocates the order and so re-captures every graph.
func TestGPUGraphsMatchLaunches(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	set := randomSet(r, 1093)
	big, small := randomSet(r, 1500), randomSet(r, 700)
	long := append(fileOrder(set.Len()), train.NewShuffler(5, true).Order(set.Len())...)
	book := network.Book([]int{784, 30, 10})
	// Chapter 3's step adds the cross-entropy's per-sample cost in the
	// one-block kernel and the L2 decay in the fused update.
	xentL2 := network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}.Norm()
	for _, c := range []struct {
		spec network.Spec
		init network.WeightInit
		bs   int
		eta  float64
	}{{book, network.Large, 10, 3}, {book, network.Large, 1000, 3}, {xentL2, network.Scaled, 10, 0.5}} {
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			t.Run(fmt.Sprintf("%v/batch=%d/%v", c.spec, c.bs, dt), func(t *testing.T) {
				cfg := train.Config{Spec: c.spec, TrainSize: set.Len(), BatchSize: c.bs, Eta: c.eta, Dtype: dt}
				net, _ := network.NewSpec(cfg.Spec, 11, c.init)
				type run struct {
					net   *network.Network
					costs []float64
					preds [][]uint8
					b     *backend
				}
				do := func(graphs bool) run {
					defer func(old bool) { useGraphs = old }(useGraphs)
					useGraphs = graphs
					be, err := Open(cfg, set)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { be.Close() })
					if err := be.SetNetwork(net); err != nil {
						t.Fatal(err)
					}
					var out run
					sh := train.NewShuffler(3, true)
					for epoch, eval := range []*mnist.Set{big, small, set, nil} {
						order := sh.Order(set.Len())
						if epoch == 3 {
							order = long
						}
						cost, err := be.Epoch(context.Background(), order, nil)
						if err != nil {
							t.Fatal(err)
						}
						out.costs = append(out.costs, cost)
						if eval != nil {
							p, err := be.Predict(eval)
							if err != nil {
								t.Fatal(err)
							}
							out.preds = append(out.preds, p)
						}
					}
					if out.net, err = be.Network(); err != nil {
						t.Fatal(err)
					}
					out.b = backendOf(be)
					return out
				}
				replayed, launched := do(true), do(false)
				if !replayed.net.Equal(launched.net) {
					t.Errorf("parameters differ between graph replays and kernel launches by %g relative; %s",
						replayed.net.RelDiff(launched.net), firstDiff(replayed.net, launched.net, 0))
				}
				if !slices.Equal(replayed.costs, launched.costs) {
					i := 0
					for i < min(len(replayed.costs), len(launched.costs)) && replayed.costs[i] == launched.costs[i] {
						i++
					}
					t.Errorf("epoch costs %v with graphs, %v without (first differing: epoch %d)", replayed.costs, launched.costs, i)
				}
				for i := range replayed.preds {
					if n := countDiffer(replayed.preds[i], launched.preds[i]); n > 0 {
						t.Errorf("Predict %d: %d predictions differ between graphs and launches", i, n)
					}
				}
				// The replays must really have happened: a capture that
				// failed would fall back to launches and pass the above.
				if g := replayed.b; g.graphErr != nil || g.replays == 0 {
					t.Errorf("graph capture failed or never replayed (%d replays): %v", g.replays, g.graphErr)
				}
				if launched.b.replays != 0 {
					t.Errorf("GPUTRAIN_CUDA_GRAPHS=0 still replayed %d graphs", launched.b.replays)
				}
			})
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
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	b, err := Open(cfg, data.Training)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	net, _ := network.New(cfg.Sizes, 1)
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
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 1e300, Dtype: graph.Float32}
	net, _ := network.New(cfg.Sizes, 3)
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
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	b, err := Open(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	net, _ := network.New(cfg.Sizes, 1)
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
func roundTrip(n *network.Network) *network.Network {
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
	cfg := train.Config{Spec: network.Book([]int{784, 46000, 46000, 10}), BatchSize: 46000, Eta: 3, Dtype: graph.Float32}
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

// TestGPUFirstDiff: the mismatch report names the element and both values.
func TestGPUFirstDiff(t *testing.T) {
	want, _ := network.New([]int{784, 3, 10}, 1)
	got := want.Clone()
	got.Biases[1][4] += 1e-3
	if s := firstDiff(got, want, 0); !strings.HasPrefix(s, "first differing: Biases[1][4] = ") || !strings.Contains(s, "0.001 apart") {
		t.Errorf("firstDiff: %s", s)
	}
	if s := firstDiff(got, want, 1); s != "no single element differs by more than the bound" {
		t.Errorf("firstDiff within the bound: %s", s)
	}
}

// firstDiff names the first parameter of got that differs from want's by
// more than tol relative to want's largest magnitude in that layer (0: by
// any bit), with both values, so that a mismatch on real hardware says
// where and how much, not just that.
func firstDiff(got, want *network.Network, tol float64) string {
	for _, p := range []struct {
		name      string
		got, want [][]float64
	}{{"Weights", got.Weights, want.Weights}, {"Biases", got.Biases, want.Biases}} {
		for l := range p.want {
			scale := 0.0
			for _, v := range p.want[l] {
				scale = max(scale, math.Abs(v))
			}
			for i, w := range p.want[l] {
				if g := p.got[l][i]; g != w && (tol == 0 || math.Abs(g-w) > tol*scale) {
					return fmt.Sprintf("first differing: %s[%d][%d] = %.17g, want %.17g (%.3g apart, %.3g relative to the layer's largest)",
						p.name, l, i, g, w, math.Abs(g-w), math.Abs(g-w)/scale)
				}
			}
		}
	}
	return "no single element differs by more than the bound"
}

// backendOf is the GPU machine under a trainer Open returned.
func backendOf(t train.Trainer) *backend { return t.(*trainer).Machine().(*backend) }

// TestGPUMonitorsMatchCPU: network2.py's monitors, the output activations
// and the predictions measured on the GPU equal the CPU backend's, in
// float64: on the training set a trainer holds, on another set, and with a
// predictor opened without one (chunks of 500 images and a short last one).
func TestGPUMonitorsMatchCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	data := mnistData(t)
	set, other := firstImages(data, r, 1234), randomSet(r, 777)
	for _, spec := range []network.Spec{
		network.Book([]int{784, 30, 10}),
		network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}.Norm(),
		network.Spec{Arch: network.Arch{Sizes: []int{784, 20, 10}, Activation: network.Tanh}, Objective: network.Objective{Cost: network.LogLikelihood, Lambda: 1}}.Norm(),
	} {
		t.Run(spec.String(), func(t *testing.T) {
			net, _ := network.NewSpec(spec, 3, network.Scaled)
			cfg := train.Config{Spec: spec, TrainSize: set.Len(), BatchSize: 10, Eta: 0.5, Dtype: graph.Float64}
			open := func(open train.Opener, predictor func(network.Spec, graph.Dtype) (train.Predictor, error)) []train.Predictor {
				tr, err := open(cfg, set)
				if err != nil {
					t.Fatal(err)
				}
				pr, err := predictor(spec, graph.Float64)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range []train.Predictor{tr, pr} {
					t.Cleanup(func() { p.Close() })
					if err := p.SetNetwork(net); err != nil {
						t.Fatal(err)
					}
				}
				return []train.Predictor{tr, pr}
			}
			cpus, gpus := open(cpu.Open, cpu.OpenPredictor), open(Open, OpenPredictor)
			for i := range cpus {
				for _, s := range []*mnist.Set{set, other} {
					wc, wn, err := cpus[i].Monitor(s)
					if err != nil {
						t.Fatal(err)
					}
					gc, gn, err := gpus[i].Monitor(s)
					if err != nil {
						t.Fatal(err)
					}
					if gn != wn || math.Abs(gc-wc) > 1e-9*math.Abs(wc) {
						t.Errorf("monitor %d on %d images: GPU cost %v, %d right; CPU %v, %d", i, s.Len(), gc, gn, wc, wn)
					}
					wa, _ := cpus[i].Activations(s)
					ga, err := gpus[i].Activations(s)
					if err != nil {
						t.Fatal(err)
					}
					if len(ga) != len(wa) {
						t.Fatalf("%d activations, CPU %d", len(ga), len(wa))
					}
					for j := range wa {
						if math.Abs(ga[j]-wa[j]) > 1e-9 {
							t.Fatalf("activation %d: GPU %v, CPU %v", j, ga[j], wa[j])
						}
					}
					wp, _ := cpus[i].Predict(s)
					gp, err := gpus[i].Predict(s)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(gp, wp) {
						t.Errorf("%d of %d predictions differ", countDiffer(gp, wp), len(wp))
					}
				}
			}
		})
	}
}
