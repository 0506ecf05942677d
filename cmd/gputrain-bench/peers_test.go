package main

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// TestPeersTrainTheSameNetwork holds the benchmark to its claim that every
// peer trains the same thing: from one initial network, on the same images
// in file order, each Python peer ends an epoch (with a short last
// mini-batch) at the parameters gputrain's CPU backend reaches, to float64
// rounding. A peer whose timing beat gputrain by computing something else
// would fail here.
func TestPeersTrainTheSameNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	const python = "/usr/bin/python3"
	data := dataDir(t)
	sizes := []int{784, 30, 10}
	const images, batch, eta, tol = 205, 10, 3.0, 1e-9

	init, err := graph.New(sizes, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	initPath := filepath.Join(dir, "init.json")
	if err := init.Save(initPath); err != nil {
		t.Fatal(err)
	}

	d, err := mnist.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cpu.Open(train.Config{Sizes: sizes, BatchSize: batch, Eta: eta, Dtype: graph.Float64}, d.Training.Slice(0, images))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetNetwork(init.Clone()); err != nil {
		t.Fatal(err)
	}
	order := make([]int32, images)
	for i := range order {
		order[i] = int32(i)
	}
	if _, err := b.Epoch(context.Background(), order, nil); err != nil {
		t.Fatal(err)
	}
	want, err := b.Network()
	if err != nil {
		t.Fatal(err)
	}

	e := env{python: python, scripts: "peers"}
	missing := pythonModules(python)
	ran := 0
	for _, p := range e.peers() {
		if p.needs == "" {
			continue // gputrain itself, its CUDA build, the TapeMachine
		}
		t.Run(p.id, func(t *testing.T) {
			if why := missing[p.needs]; why != "" {
				t.Skip(why)
			}
			out := filepath.Join(dir, p.id+".json")
			a := trainArgs{Sizes: sizes, Epochs: 1, BatchSize: batch, Eta: eta, Data: data, Seed: 1,
				TrainLimit: images, Eval: "none", Init: initPath}
			argv := append(p.argv(a, "float64"), "--no-shuffle", "--save", out)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if msg, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", argv, err, msg)
			}
			got, err := graph.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := maxRelDiff(got, want); diff > tol {
				t.Errorf("parameters differ from gputrain's by %.3g relative (want ≤ %g)", diff, tol)
			}
			if diff := maxRelDiff(got, init); diff < 1e-3 {
				t.Errorf("parameters moved only %.3g from the initial network: the peer did not train", diff)
			}
			ran++
		})
	}
	if ran == 0 {
		t.Skip(python + " has neither numpy nor torch")
	}
}

// maxRelDiff is the largest |a−b|/max(1,|b|) over every weight and bias.
func maxRelDiff(a, b *graph.Network) float64 {
	worst := 0.0
	cmp := func(x, y []float64) {
		for i := range x {
			worst = max(worst, math.Abs(x[i]-y[i])/max(1, math.Abs(y[i])))
		}
	}
	for l := range b.Weights {
		cmp(a.Weights[l], b.Weights[l])
		cmp(a.Biases[l], b.Biases[l])
	}
	return worst
}
