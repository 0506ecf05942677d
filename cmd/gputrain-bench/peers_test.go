package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// dataDir is the MNIST directory for the tests that train, or "" to skip.
func dataDir(t *testing.T) string {
	t.Helper()
	if d := mnist.SharedDir(); fileExists(filepath.Join(d, "train-images-idx3-ubyte.gz")) {
		return d
	}
	t.Skip("no MNIST files (run `go run ./cmd/gputrain data` or set GPUTRAIN_DATA)")
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// buildPeers builds gputrain and the Go peers into a directory laid out as
// make bench lays out bin/. GoMLX's module needs the module proxy the first
// time: where the proxy cannot be reached, its peer is left out (and its
// tests skip); any other failure to build it, or any failure in CI, fails.
func buildPeers(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []struct{ out, dir, pkg string }{
		{"gputrain", ".", "../gputrain"},
		{"gputrain-tapemachine", ".", "./peers/tapemachine"},
		{"gputrain-gomlx", "peers/gomlx", "."},
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = b.dir
		out, err := cmd.CombinedOutput()
		switch {
		case err == nil:
		case b.out == "gputrain-gomlx" && os.Getenv("CI") == "" && unreachable(string(out)):
			t.Logf("GoMLX peer left out: the module proxy cannot be reached: %s", out)
		default:
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return bin
}

// unreachable reports whether the go command failed for want of the
// network or the module proxy, as it says so.
func unreachable(out string) bool {
	for _, s := range []string{"dial tcp", "no such host", "i/o timeout", "network is unreachable", "module lookup disabled", "TLS handshake"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// TestPeersTrainTheSameNetwork holds the benchmark to its claim that every
// peer trains the same thing: from one initial network, on the same images
// in file order, each ends an epoch (with a short last mini-batch) at the
// parameters gputrain's CPU backend reaches: to float64 rounding in
// float64, and within float32's in float32, where GoMLX is checked on a
// few thousand images too. A peer whose timing beat gputrain by computing
// something else would fail here.
func TestPeersTrainTheSameNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	tl := tools{bin: buildPeers(t), python: "/usr/bin/python3", scripts: "peers", data: data}
	missing := tl.availability()
	d, err := mnist.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	init, initPath := bookInit(t, dir)
	for _, c := range []struct {
		id, dtype string
		images    int
		tol       float64
	}{
		{"network.py", "float64", 205, 1e-9}, {"batched-numpy", "float64", 205, 1e-9},
		{"torch-autograd", "float64", 205, 1e-9}, {"torch-explicit", "float64", 205, 1e-9},
		{"tapemachine", "float64", 205, 1e-9}, {"gomlx", "float64", 205, 1e-9}, {"gomlx", "float32", 2005, 1e-4},
	} {
		p := tl.program(c.id)
		t.Run(c.id+"-"+c.dtype, func(t *testing.T) {
			if why := missing[p.needs]; why != "" {
				t.Skip(why)
			}
			a := trainflags.Peer{Config: train.Book(), Data: data, Init: initPath, Save: filepath.Join(dir, c.id+c.dtype+".json")}
			a.Epochs, a.Dtype, a.TrainLimit, a.NoShuffle, a.Eval = 1, mustDtype(c.dtype), c.images, true, "none"
			want := gputrainEpoch(t, a, d.Training.Slice(0, c.images), init)
			got := peerNetwork(t, p.argv(a), a.Save)
			if diff := maxRelDiff(got, want); diff > c.tol {
				t.Errorf("parameters differ from gputrain's by %.3g relative (want ≤ %g)", diff, c.tol)
			}
			if diff := maxRelDiff(got, init); diff < 1e-3 {
				t.Errorf("parameters moved only %.3g from the initial network: the peer did not train", diff)
			}
		})
	}
}

// TestNumpyPeerIsNetwork2 holds the numpy peer's chapter 3 (network2.py's
// cross-entropy cost, L2 step and scaled initialisation) to gputrain's
// CPU backend the same way: one epoch in file order from one scaled
// initial network, λ large enough against n = 205 images that a decay
// taken per sample, per batch with the wrong n, or applied to the biases
// would move the parameters far past float64 rounding.
func TestNumpyPeerIsNetwork2(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	tl := tools{bin: t.TempDir(), python: "/usr/bin/python3", scripts: "peers", data: data}
	p := tl.program("batched-numpy")
	if why := tl.availability()[p.needs]; why != "" {
		t.Skip(why)
	}
	d, err := mnist.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}
	init, err := network.NewSpec(spec, 7, network.Scaled)
	if err != nil {
		t.Fatal(err)
	}
	initPath := filepath.Join(dir, "init.json")
	if err := init.Save(initPath); err != nil {
		t.Fatal(err)
	}
	a := trainflags.Peer{Config: train.Book(), Data: data, Init: initPath, Save: filepath.Join(dir, "numpy.json")}
	a.Epochs, a.Dtype, a.Eta, a.TrainLimit, a.NoShuffle, a.Eval = 1, graph.Float64, 0.5, 205, true, "none"
	want := gputrainEpoch(t, a, d.Training.Slice(0, a.TrainLimit), init)
	got := peerNetwork(t, append(p.argv(a), "--cost", "cross-entropy", "--lambda", "5"), a.Save)
	if got.Cost != network.CrossEntropy {
		t.Errorf("the peer saved a %s model, want cross-entropy", got.Cost)
	}
	if diff := maxRelDiff(got, want); diff > 1e-9 {
		t.Errorf("parameters differ from gputrain's by %.3g relative (want ≤ 1e-9)", diff)
	}
	plain := init.Clone()
	plain.Spec.Lambda = 0
	if diff := maxRelDiff(want, gputrainEpoch(t, a, d.Training.Slice(0, a.TrainLimit), plain)); diff < 1e-4 {
		t.Errorf("λ 5 moved the parameters only %.3g from λ 0's: the check cannot tell the L2 step", diff)
	}
}

// bookInit is the book's [784,30,10] network of seed 7, the start of the
// comparisons, and the model file in dir that holds it.
func bookInit(t *testing.T, dir string) (*network.Network, string) {
	t.Helper()
	init, err := network.New([]int{784, 30, 10}, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "init.json")
	if err := init.Save(path); err != nil {
		t.Fatal(err)
	}
	return init, path
}

// peerNetwork runs a peer's command line and loads the model it saved.
func peerNetwork(t *testing.T, argv []string, save string) *network.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if msg, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, msg)
	}
	n, err := network.Load(save)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// gputrainEpoch is the network gputrain's CPU backend reaches after one
// epoch of a's settings in file order, with init's cost and λ.
func gputrainEpoch(t *testing.T, a trainflags.Peer, images *mnist.Set, init *network.Network) *network.Network {
	cfg := a.Config
	cfg.Spec = init.Spec
	b, err := cpu.Open(cfg.On(images.Len()), images)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetNetwork(init.Clone()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Epoch(context.Background(), train.NewShuffler(0, false).Order(images.Len()), nil); err != nil {
		t.Fatal(err)
	}
	want, err := b.Network()
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// maxRelDiff is the largest |a−b|/max(1,|b|) over every weight and bias.
func maxRelDiff(a, b *network.Network) float64 {
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

// TestOutputStructure runs each command on a small setting, through the
// real binaries, and checks what it writes: the sections of BENCHMARKS.md
// with their tables (a row per program and setting), the skipped list and
// the curves' PNGs.
func TestOutputStructure(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	bin, dir := buildPeers(t), t.TempDir()
	md := filepath.Join(dir, "B.md")
	common := []string{"--bin", bin, "--data", data, "--python", filepath.Join(dir, "no-python"), "--out", md}
	for _, c := range []struct {
		args []string
		want []string // in this order
	}{
		{[]string{"peers", "--only", "gputrain,tapemachine,network.py", "--epochs", "gputrain=2,tapemachine=1", "--limits", "tapemachine=250",
			"--train-limit", "500", "--dtypes", "float32,float64", "--rounds", "2", "--retries", "0"},
			[]string{"<!-- bench:machine -->\n- CPU: ", "- Date: ", "<!-- /bench:machine -->", "<!-- bench:peers -->\nSizes 784,30,10, mini-batch 10, η 3, 500 training images",
				"ran 2 times, in 2 rounds", "| program | dtype | epochs |", "\n| gputrain CPU | float32 | 2 | ",
				"\n| Gorgonia TapeMachine (timed on 250 images an epoch, ×2) | float32 | 1 | ", "\n| gputrain CPU | float64 | 2 | ",
				"\n| Gorgonia TapeMachine (timed on 250 images an epoch, ×2) | float64 | 1 | ", "\nSkipped:\n\n- book's network.py (numpy, per sample): ",
				"cannot import numpy", "<!-- /bench:peers -->"}},
		{[]string{"curves", "--hidden", "30,40", "--batches", "10,20", "--train-limit", "300", "--epochs", "1", "--rounds", "1", "--peers", "",
			"--plots", dir},
			[]string{"<!-- bench:curves -->\nfloat32, η 3.0, 1 epochs of the first 300 training images per run", "| hidden neurons (batch 10) | GFLOP per epoch | floor s | gputrain CPU s |",
				"\n| 30 | 5.0 | ", "\n| 40 | ", "| mini-batch size (784,30,10) |", "\n| 10 | 5.0 | ", "\n| 20 | ",
				"cost-hidden.png", "| float32 matrix product | cores | GFLOP/s (best call) |", "gputrain cpu kernel, A·Bᵀ", "<!-- /bench:curves -->"}},
		{[]string{"reproduce", "--chapters", "3", "--epochs", "1", "--seeds", "1"},
			[]string{"<!-- bench:reproduce-ch3 -->\nChapter 3's runs", "| run | book | gputrain float32, best epoch per seed | best of those | target | met | gputrain float64 | network2 (numpy) float64 |",
				"\n| gputrain train --sizes 784,30,10 --eta 0.5 --cost cross-entropy | 95.49 % | ",
				"\n| gputrain train --sizes 784,100,10 --eta 0.5 --cost cross-entropy | 96.82 % | ",
				"\n| gputrain train --sizes 784,100,10 --eta 0.5 --cost cross-entropy --lambda 5 --weight-init scaled | about 98 % | ", "| — |\n", "\nThe book's algorithm (numpy) was skipped: ", "cannot import numpy", "<!-- /bench:reproduce-ch3 -->"}},
		{[]string{"reproduce", "--chapters", "1", "--epochs", "1", "--seeds", "1", "--book=false", "--float64=false"},
			[]string{"<!-- bench:reproduce -->\n1 epochs", "| sizes | book |", "\n| [784,30,10] | 95.42 %", "\n| [784,100,10] |", "\n| [784,10] |",
				"Test accuracy (%) per epoch, seed 1:", "| epoch | [784,30,10] gputrain float32 | [784,100,10] gputrain float32 | [784,10] gputrain float32 |",
				"\n| 0 | ", "<!-- /bench:reproduce -->"}},
	} {
		var stdout, stderr strings.Builder
		if code := run(append(c.args, common...), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, code, stderr.String())
		}
		b, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(b)
		at := 0
		for _, w := range c.want {
			i := strings.Index(doc[at:], w)
			if i < 0 {
				t.Fatalf("%s: after offset %d, no %q in\n%s", c.args[0], at, w, doc)
			}
			at += i + len(w)
		}
		if !strings.Contains(doc, stdout.String()) {
			t.Errorf("%s: what it printed is not what it wrote", c.args[0])
		}
	}
	for _, png := range []string{"cost-hidden.png", "cost-batch.png"} {
		if fi, err := os.Stat(filepath.Join(dir, png)); err != nil || fi.Size() < 10000 {
			t.Errorf("%s: %v", png, err)
		}
	}
}

// TestNetworkPyOnTheBookPickle: network.py, reading the book's
// mnist.pkl.gz as mnist_loader does (numpy's own unpickling), and gputrain,
// reading it with its own reader, end epoch 0 at the same parameters (to
// float64 rounding) and with the same line: the same count of the test
// set. It needs python3 with numpy.
func TestNetworkPyOnTheBookPickle(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skipf("no python3 with numpy: %v", err)
	}
	pkl := filepath.Join("..", "..", "mnist", "testdata", "mnist-small.pkl.gz")
	d, err := mnist.LoadPickle(pkl, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	init, initPath := bookInit(t, dir)
	a := trainflags.Peer{Config: train.Book(), Data: pkl, Init: initPath, Save: filepath.Join(dir, "peer.json")}
	a.Epochs, a.Dtype, a.NoShuffle = 1, graph.Float64, true
	argv := slices.Concat([]string{python, "peers/network.py"}, flagArgs(a))
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	var line struct{ Epoch, Correct, Total int }
	if err := json.Unmarshal(bytes.SplitN(out, []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("network.py's first line %q: %v", out, err)
	}
	got, err := network.Load(a.Save)
	if err != nil {
		t.Fatal(err)
	}
	want := gputrainEpoch(t, a, d.Training, init)
	if diff := maxRelDiff(got, want); diff > 1e-9 {
		t.Errorf("parameters differ from gputrain's by %.3g relative (want ≤ 1e-9)", diff)
	}
	b, err := cpu.Open(train.Config{Spec: want.Spec, TrainSize: d.Training.Len(), BatchSize: 10, Eta: 3, Dtype: graph.Float64}, d.Training)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetNetwork(want); err != nil {
		t.Fatal(err)
	}
	pred, err := b.Predict(d.Test)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, p := range pred {
		if p == d.Test.Labels[i] {
			correct++
		}
	}
	if line.Epoch != 0 || line.Correct != correct || line.Total != d.Test.Len() {
		t.Errorf("network.py's epoch 0: %d / %d, gputrain's: %d / %d", line.Correct, line.Total, correct, d.Test.Len())
	}
}

// TestTorchEnsembleIsTheBookRule holds the torch.func ensemble peer (the
// kit's comparison for gputrain sweep) to gputrain's CPU backend: two
// networks from one initial network, each with its own η, one epoch of
// 205 images in file order in float64, each ≤ 1e-9 relative from
// gputrain's epoch at its η.
func TestTorchEnsembleIsTheBookRule(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy, torch\ntry:\n import torch.func\nexcept ImportError:\n import functorch").Run(); err != nil {
		t.Skipf("%s has no torch with torch.func or functorch: %v", python, err)
	}
	d, err := mnist.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	init, initPath := bookInit(t, dir)
	cmd := exec.Command(python, "peers/torch_ensemble.py", "--networks", "2", "--etas", "0.5,3", "--epochs", "1", "--train-limit", "205",
		"--data", data, "--device", "cpu", "--dtype", "float64", "--init", initPath, "--no-shuffle", "--save-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	for k, eta := range []float64{0.5, 3} {
		a := trainflags.Peer{Config: train.Book()}
		a.Epochs, a.Dtype, a.Eta, a.TrainLimit, a.NoShuffle = 1, graph.Float64, eta, 205, true
		want := gputrainEpoch(t, a, d.Training.Slice(0, a.TrainLimit), init)
		got, err := network.Load(filepath.Join(dir, fmt.Sprintf("net-%d.json", k)))
		if err != nil {
			t.Fatal(err)
		}
		if diff := maxRelDiff(got, want); diff > 1e-9 {
			t.Errorf("network %d (η %g): parameters differ from gputrain's by %.3g relative (want ≤ 1e-9)", k, eta, diff)
		}
	}
}
