package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
)

// TestTrainLayersBadFlags: a --layers that cannot be parsed, an
// impossible stack, and the flags a network of layers does not take are
// each one line naming the flag (and the layer), exit status 2, before
// any data is read.
func TestTrainLayersBadFlags(t *testing.T) {
	t.Parallel()
	shallow := "conv:20x5x5,pool:2,fc:100,softmax:10"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--layers", "conv:20x5x5,pool:30,fc:100,softmax:10"}, "--layers layer 2 (pool:30): a 30×30 window does not fit the 24×24 maps it gets"},
		{[]string{"--layers", "conv:20x5x5,conv:40x25x25,softmax:10"}, "layer 2 (conv:40x25x25): a 25×25 filter does not fit the 24×24 maps"},
		{[]string{"--layers", "fc:100,conv:20x5x5,softmax:10"}, "layer 2 (conv:20x5x5): a convolution needs feature maps"},
		{[]string{"--layers", "conv:20x5,softmax:10"}, "layer 1 (conv:20x5): want MAPSxHxW"},
		{[]string{"--layers", "conv:20x5x5,fc:100"}, "the last layer must be softmax:10"},
		{[]string{"--layers", "fc:100:dropout=1,softmax:10"}, "want a probability"},
		{[]string{"--layers", shallow, "--sizes", "784,10"}, "--sizes with --layers"},
		{[]string{"--layers", shallow, "--activation", "relu"}, "--activation with --layers: each conv or fc layer takes its own"},
		{[]string{"--layers", shallow, "--weight-init", "scaled"}, "--weight-init with --layers"},
		{[]string{"--layers", shallow, "--cost", "quadratic"}, "--cost quadratic with --layers"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"train", "--data", "/no/such/data"}, c.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "gputrain train: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q: want one line containing %q", stderr, c.want)
			}
		})
	}
}

// TestTrainLayers trains a small convolutional network with dropout on
// real data: a run stopped after one epoch and resumed ends bit-identical
// to a straight one (the masks are keyed by the run's step), the model
// file holds the layers, eval counts what the last epoch line counted,
// and --init continues from it.
func TestTrainLayers(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()
	layers := "conv:4x5x5:relu,pool:2,fc:20:dropout=0.5,softmax:10:dropout=0.25"
	common := []string{"train", "--data", data, "--train-limit", "600", "--layers", layers, "--eta", "0.1", "--lambda", "0.1", "--quiet"}

	straight := filepath.Join(dir, "straight.json")
	code, out, errs := runCLI(append(common, "--epochs", "2", "--save", straight)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "Epoch 1: ") || !strings.HasPrefix(lines[2], "Best validation accuracy ") {
		t.Fatalf("output %q: want two epoch lines and network3's best-validation line", out)
	}
	ck := filepath.Join(dir, "ck")
	if code, _, errs = runCLI(append(common, "--epochs", "1", "--checkpoint", ck)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	resumed := filepath.Join(dir, "resumed.json")
	if code, out, errs = runCLI("train", "--data", data, "--quiet", "--resume", ck, "--epochs", "2", "--save", resumed); code != 0 || !strings.HasPrefix(out, "Epoch 1: ") {
		t.Fatalf("resume: exit %d, output %q, %s", code, out, errs)
	}
	a, err := network.Load(straight)
	if err != nil {
		t.Fatal(err)
	}
	b, err := network.Load(resumed)
	if err != nil {
		t.Fatal(err)
	}
	if network.LayersString(a.Layers) != layers || a.Lambda != 0.1 {
		t.Fatalf("the model file holds %v", a.Spec)
	}
	if !a.Equal(b) {
		t.Fatal("stopped and resumed, the parameters differ from a straight run")
	}

	correct := strings.Fields(lines[1])[2] // Epoch 1: N / 10000 (…)
	code, out, errs = runCLI("eval", "--data", data, "--model", straight)
	if code != 0 || !strings.Contains(out, "on the test set: "+correct+" / 10000 correct") {
		t.Fatalf("eval: exit %d, output %q (the run counted %s), %s", code, out, correct, errs)
	}
	if code, out, errs = runCLI(append(common, "--epochs", "1", "--init", straight)...); code != 0 || !strings.HasPrefix(out, "Epoch 0: ") {
		t.Fatalf("--init: exit %d, output %q, %s", code, out, errs)
	}
	code, _, errs = runCLI("train", "--data", data, "--init", straight, "--layers", "conv:4x5x5,pool:2,softmax:10")
	if code != exitUsage || !strings.Contains(errs, "differs from") {
		t.Fatalf("--init with other --layers: exit %d, %q", code, errs)
	}
}
