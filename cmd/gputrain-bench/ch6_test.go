package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCh6Commands: each row runs issue 24's command for it, with the
// book's epochs ("The command line" and the accuracy table of the issue).
func TestCh6Commands(t *testing.T) {
	t.Parallel()
	relu := "--layers conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10 --eta 0.03 --lambda 0.1"
	last := "--layers conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:1000:relu:dropout=0.5,fc:1000:relu:dropout=0.5,softmax:10:dropout=0.5 --eta 0.03 --train-set expanded --epochs 40"
	want := map[string]string{
		"shallow":  "--layers conv:20x5x5,pool:2,fc:100,softmax:10 --eta 0.1 --epochs 60",
		"two-conv": "--layers conv:20x5x5,pool:2,conv:40x5x5,pool:2,fc:100,softmax:10 --eta 0.1 --epochs 60",
		"relu":     relu + " --epochs 60",
		"expanded": relu + " --train-set expanded --epochs 60",
		"dropout":  last,
		"ensemble": last,
	}
	b := &bench{tools: tools{data: "D"}}
	o := ch6Opts{nets: ch6IDs(), seeds: []int{1}, device: "cpu"}
	runs := o.settings(b, "G", "M")
	if len(runs) != 5+5 {
		t.Fatalf("%d runs, want one per network and five for the ensemble", len(runs))
	}
	for _, s := range runs {
		n := ch6ByID(s.prog.id)
		epochs := s.argv[slices.Index(s.argv, "--epochs")+1]
		if got := strings.Join(n.flags, " ") + " --epochs " + epochs; got != want[n.id] {
			t.Errorf("%s: runs %q, issue 24 says %q", n.id, got, want[n.id])
		}
		if s.argv[0] != "G" || s.argv[1] != "train" || !slices.Contains(s.argv, "--save") || !slices.Contains(s.argv, "json") {
			t.Errorf("%s: argv %q", n.id, s.argv)
		}
	}
	// The ensemble's five members have five seeds.
	seeds := map[string]bool{}
	for _, s := range runs[len(runs)-5:] {
		seeds[s.argv[slices.Index(s.argv, "--seed")+1]] = true
	}
	if len(seeds) != 5 {
		t.Errorf("the ensemble's members have seeds %v", seeds)
	}
}

// TestForwardFlops: the shallow network's training step is issue 24's
// "about 3.5 MFLOP an image", worked out by hand: the 20 maps of 24×24
// take 25 multiply-adds a pixel, the 100 neurons 20·12·12 each, the ten
// outputs 100 each.
func TestForwardFlops(t *testing.T) {
	t.Parallel()
	hand := 2.0 * (20*24*24*25 + 100*20*12*12 + 10*100)
	if got := forwardFlops(shallowLayers); got != hand || math.Abs(3*got/1e6-3.5) > 0.1 {
		t.Errorf("shallow: %v FLOP forward, by hand %v; 3× is %.2f MFLOP, issue 24 says about 3.5", got, hand, 3*got/1e6)
	}
	// The two convolutions: the second's 40 maps of 8×8 over 20 maps of 5×5.
	two := 2.0 * (20*24*24*25 + 40*8*8*20*25 + 100*40*4*4 + 10*100)
	if got := forwardFlops(reluLayers); got != two {
		t.Errorf("two conv: %v, by hand %v", got, two)
	}
}

// TestBestValidationFromLines: network3's report from gputrain's JSON
// epoch lines as the runner parses them, the later of equal validation
// accuracies winning.
func TestBestValidationFromLines(t *testing.T) {
	t.Parallel()
	out := `{"epoch":0,"correct":9700,"total":10000,"seconds":1,"other_correct":9710,"other_total":10000}
{"epoch":1,"correct":9800,"total":10000,"seconds":1,"other_correct":9790,"other_total":10000}
{"epoch":2,"correct":9820,"total":10000,"seconds":1,"other_correct":9785,"other_total":10000}
{"epoch":3,"correct":9810,"total":10000,"seconds":1,"other_correct":9790,"other_total":10000}
`
	epochs, err := parseEpochs(strings.NewReader(out), func(epochLine) {})
	if err != nil {
		t.Fatal(err)
	}
	if test, at, ok := bestValidation(epochs); !ok || at != 3 || test != 0.981 {
		t.Errorf("best validation at epoch %d, test %v (%v); want epoch 3, 0.981", at, test, ok)
	}
	if _, _, ok := bestValidation(epochs[:0]); ok {
		t.Error("no epochs: a report")
	}
}

// torchPython is the Python with torch the conv peer runs in, or a skip.
func torchPython(t *testing.T) string {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import numpy, torch").Run(); err != nil {
		t.Skipf("%s cannot import numpy and torch: %v", python, err)
	}
	return python
}

// TestTorchConvPeer: the PyTorch peer trains network3's ReLU network on a
// few hundred images, its cost falling epoch by epoch, and prints lines
// the runner reads; an impossible stack is one line and a failure. (Its
// accuracy and timing are the conv table's, below and in make bench-conv.)
func TestTorchConvPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data, python := dataDir(t), torchPython(t)
	argv := []string{python, "peers/torch_conv.py", "--data", data, "--dtype", "float32", "--train-limit", "300", "--epochs", "3",
		"--batch-size", "10", "--layers", reluLayers, "--eta", "0.03", "--lambda", "0.1", "--eval", "none"}
	res, err := runProcess(argv, nil, t.Logf, "torch-conv")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res.Epochs {
		if e.Cost <= 0 || i > 0 && e.Cost >= res.Epochs[i-1].Cost {
			t.Errorf("epoch %d: cost %v after %v: want a falling cost", i, e.Cost, res.Epochs[max(0, i-1)].Cost)
		}
	}
	if len(res.Epochs) != 3 {
		t.Errorf("%d epochs, want 3", len(res.Epochs))
	}
	out, err := exec.Command(python, "peers/torch_conv.py", "--data", data, "--layers", "conv:20x30x30,softmax:10").CombinedOutput()
	if err == nil || string(out) != "--layers: layer 0 'conv:20x30x30': a 30x30 filter on a 28x28 input\n" {
		t.Errorf("impossible stack: %v, %q", err, out)
	}
}

// TestCh6WithoutLayers: until gputrain has --layers, reproduce-ch6 fails
// in one line saying so, and conv reports gputrain's rows as skipped for
// it while timing PyTorch's. With --layers, both run end to end on a few
// images.
func TestCh6WithoutLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	bin, dir := t.TempDir(), t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "gputrain"), "../gputrain").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	md := filepath.Join(dir, "B.md")
	common := []string{"--bin", bin, "--data", data, "--out", md}
	var stdout, stderr strings.Builder
	code := run(append([]string{"reproduce-ch6", "--nets", "shallow", "--epochs", "1", "--train-limit", "100"}, common...), &stdout, &stderr)
	has := layersMissing(filepath.Join(bin, "gputrain")) == ""
	if !has {
		if code != 1 || stderr.String() != "gputrain-bench reproduce-ch6: gputrain --layers not available: "+filepath.Join(bin, "gputrain")+
			" train has no --layers flag (chapter 6's layers, issue 24, are not in this build): nothing run\n" {
			t.Errorf("reproduce-ch6 without --layers: exit %d, stderr %q", code, stderr.String())
		}
		if _, err := os.Stat(md); err == nil {
			t.Error("reproduce-ch6 without --layers wrote its table")
		}
	} else if code != 0 {
		t.Errorf("reproduce-ch6: exit %d: %s", code, stderr.String())
	}

	torchPython(t)
	stdout.Reset()
	stderr.Reset()
	args := append([]string{"conv", "--nets", "shallow", "--batch-sizes", "10", "--train-limit", "100", "--peak=false", "--python", "/usr/bin/python3", "--scripts", "peers"}, common...)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("conv: exit %d: %s", code, stderr.String())
	}
	doc, _ := os.ReadFile(md)
	row := "\n| shallow conv | 10 | — | "
	if has {
		row = "\n| shallow conv | 10 | "
	}
	for _, w := range []string{"<!-- bench:conv -->", "the first 100 training images, times scaled to 50,000", row, " | ≥ 5× | ", " | 3.46 | "} {
		if !strings.Contains(string(doc), w) {
			t.Errorf("no %q in\n%s", w, doc)
		}
	}
	if !has && !strings.Contains(string(doc), "Skipped:\n\n- gputrain CPU: gputrain --layers not available") {
		t.Errorf("gputrain's rows not said to be skipped:\n%s", doc)
	}
}

// TestKitCh6Commands: the GPU kit's chapter 6 part (cuda/kit/run.sh, which
// has no Go to ask) runs the same commands as reproduce-ch6.
func TestKitCh6Commands(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "cuda", "kit", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer(`"$relu"`, reluLayers, `"$last"`, lastLayers, `"`, "").Replace(string(b))
	for _, n := range ch6Nets {
		line := "\t\t" + n.id + ") flags=(" + strings.Join(n.flags, " ") + ")"
		switch {
		case n.members > 0:
			line += fmt.Sprintf(" epochs=%d members=%d ;;", n.epochs, n.members)
		case n.epochs != 60:
			line += fmt.Sprintf(" epochs=%d ;;", n.epochs)
		default:
			line += " ;;"
		}
		if !strings.Contains(script, line+"\n") {
			t.Errorf("run.sh has no line %q", line)
		}
	}
}
