package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// dataDir is where the CLI tests find MNIST (mnist.SharedDir: $GPUTRAIN_DATA
// or the user's cache, never the checkout).
func dataDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs MNIST; skipped under -short")
	}
	return mnist.SharedDir()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestTrainBadFlags: each bad flag is one line on stderr naming the flag,
// and exit status 2, before any data is read.
func TestTrainBadFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--sizes", "783,30,10"}, "--sizes: sizes [783 30 10]: must start with 784"},
		{[]string{"--sizes", "784,30,9"}, "must end with 10"},
		{[]string{"--sizes", "784,0,10"}, "at least 1 neuron"},
		{[]string{"--sizes", "784,x,10"}, `invalid value "784,x,10" for flag -sizes`},
		{[]string{"--eta", "0"}, "--eta 0: must be a finite number > 0"},
		{[]string{"--eta", "-1"}, "--eta -1"},
		{[]string{"--eta", "NaN"}, "--eta NaN"},
		{[]string{"--batch-size", "0"}, "--batch-size 0: must be at least 1"},
		{[]string{"--epochs", "0"}, "--epochs 0: must be at least 1"},
		{[]string{"--device", "tpu"}, `--device "tpu": want cpu or cuda`},
		{[]string{"--dtype", "float16"}, `dtype "float16": want float32 or float64`},
		{[]string{"--eval", "train"}, `--eval "train"`},
		{[]string{"--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"--train-limit", "-5"}, "--train-limit -5"},
		{[]string{"--activation", "softsign"}, `--activation "softsign": want sigmoid, tanh or relu`},
		{[]string{"--cost", "hinge"}, `--cost "hinge": want quadratic, cross-entropy or log-likelihood`},
		{[]string{"--lambda", "-0.1"}, "--lambda -0.1: must be a finite number ≥ 0"},
		{[]string{"--lambda", "Inf"}, "--lambda +Inf"},
		{[]string{"--weight-init", "small"}, `--weight-init "small": want large or scaled`},
		{[]string{"--train-set", "Expanded"}, `--train-set "Expanded": want standard or expanded`},
		{[]string{"--early-stop", "-1"}, "--early-stop -1: must be 0 (never) or more"},
		{[]string{"--early-stop", "2", "--eval", "none"}, "--early-stop 2: stops on the evaluation accuracy, and --eval is none"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--resume", "/no/such/dir"}, "--resume: /no/such/dir/checkpoint.json: no such file or directory"},
		{[]string{"--device", "cuda"}, "built without CUDA support"},
		{[]string{"--save", "/no/such/dir/m.json"}, "--save: /no/such/dir/m.json: directory /no/such/dir does not exist"},
		{[]string{"--plot", "/tmp"}, "--plot: /tmp: is a directory"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"train"}, c.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "gputrain train: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q: want one line containing %q", stderr, c.want)
			}
		})
	}
	if code, _, stderr := runCLI("frobnicate"); code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, stderr)
	}
}

// TestTrainSaveInitAndResume trains briefly on real data and checks the
// book's epoch lines, that --save writes a model that --init reads, that a
// bad --init is one clear line with exit 1, and that a checkpointed run
// stopped after one epoch and resumed ends bit-identical to a straight run.
func TestTrainSaveInitAndResume(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	dir := t.TempDir()
	common := []string{"train", "--data", data, "--train-limit", "2000", "--sizes", "784,20,10", "--quiet"}

	straight := filepath.Join(dir, "straight.json")
	code, out, errs := runCLI(append(common, "--epochs", "3", "--save", straight)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "Epoch 0: ") || !strings.Contains(lines[0], " / 10000 (") || !strings.HasPrefix(lines[3], "Best validation accuracy ") {
		t.Fatalf("output %q: want the book's three epoch lines and network3's report", out)
	}

	ck := filepath.Join(dir, "ck")
	if code, _, errs = runCLI(append(common, "--epochs", "1", "--checkpoint", ck)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	resumed := filepath.Join(dir, "resumed.json")
	code, out, errs = runCLI("train", "--data", data, "--quiet", "--resume", ck, "--epochs", "3", "--save", resumed)
	if code != 0 || !strings.HasPrefix(out, "Epoch 1: ") {
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
	if !a.Equal(b) {
		t.Fatal("stopped and resumed, the parameters differ from a straight run")
	}

	code, _, errs = runCLI("train", "--data", data, "--resume", ck, "--eta", "0.5")
	if code != exitUsage || !strings.Contains(errs, "--eta 0.5 differs from the checkpoint's 3") {
		t.Fatalf("conflicting resume flag: exit %d, %q", code, errs)
	}

	code, out, errs = runCLI(append(common, "--epochs", "1", "--init", straight, "--eval", "none", "--log-format", "json")...)
	if code != 0 || !strings.HasPrefix(out, `{"accuracy":0,"correct":0,"cost":`) {
		t.Fatalf("--init: exit %d, output %q, %s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"sizes":[784,10],"weights":[[[1,2]]],"biases":[[[0]]]}`), 0o644)
	code, _, errs = runCLI(append(common, "--init", bad)...)
	if code != exitRuntime || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, bad+": weights[0]: want 10 rows") {
		t.Fatalf("bad --init: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI("train", "--data", data, "--init", straight, "--sizes", "784,30,10")
	if code != exitUsage || !strings.Contains(errs, "differs from") {
		t.Fatalf("--init with other --sizes: exit %d, %q", code, errs)
	}
}

// TestDataErrors: a bad MNIST directory is one line naming the file.
func TestDataErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "train-images-idx3-ubyte.gz"), 0o755)
	code, _, errs := runCLI("train", "--data", dir)
	if code != exitRuntime || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "train-images-idx3-ubyte.gz: is a directory") {
		t.Fatalf("exit %d, %q", code, errs)
	}
}

// TestActivations: --activation tanh and relu train and save a model that
// names its neurons in network2's file, and predict, eval and --init read
// it back as the same network (eval counts what the last epoch counted).
func TestActivations(t *testing.T) {
	t.Parallel()
	for _, act := range []string{"tanh", "relu"} {
		t.Run(act, func(t *testing.T) {
			dir := t.TempDir()
			model := filepath.Join(dir, "m.json")
			code, out, errs := runCLI("train", "--data", dataDir(t), "--quiet", "--epochs", "1", "--train-limit", "2000",
				"--eta", "0.1", "--cost", "cross-entropy", "--weight-init", "scaled", "--activation", act, "--eval", "validation", "--save", model)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			net, err := network.Load(model)
			if err != nil {
				t.Fatal(err)
			}
			if string(net.Activation) != act {
				t.Fatalf("the model's activation is %q", net.Activation)
			}
			var correct, total int
			fmt.Sscanf(out, "Epoch 0: %d / %d", &correct, &total)
			code, evalOut, errs := runCLI("eval", "--data", dataDir(t), "--model", model, "--split", "validation")
			if code != 0 || !strings.Contains(evalOut, fmt.Sprintf("%d / %d", correct, total)) {
				t.Fatalf("eval: exit %d: %s%s; training's last epoch counted %d / %d", code, evalOut, errs, correct, total)
			}
			code, _, errs = runCLI("train", "--data", dataDir(t), "--quiet", "--epochs", "1", "--train-limit", "100", "--eval", "none", "--init", model)
			if code != 0 {
				t.Fatalf("train --init: exit %d: %s", code, errs)
			}
		})
	}
}

// TestLogLikelihood: --cost log-likelihood trains chapter 3's softmax
// output layer; its model file says "output": "softmax" beside network2's
// CrossEntropyCost, reads back as the same network, and eval counts what
// the last epoch counted.
func TestLogLikelihood(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	code, out, errs := runCLI("train", "--data", dataDir(t), "--quiet", "--epochs", "1", "--train-limit", "2000",
		"--eta", "0.1", "--cost", "log-likelihood", "--weight-init", "scaled", "--eval", "validation", "--save", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, _ := os.ReadFile(model)
	if !bytes.Contains(data, []byte(`"output":"softmax"`)) || !bytes.Contains(data, []byte(`"cost":"CrossEntropyCost"`)) {
		t.Fatalf("the model file does not say softmax with network2's CrossEntropyCost")
	}
	net, err := network.Load(model)
	if err != nil || net.Cost != network.LogLikelihood {
		t.Fatalf("read back: %v, spec %v", err, net.Spec)
	}
	var correct, total int
	fmt.Sscanf(out, "Epoch 0: %d / %d", &correct, &total)
	code, evalOut, errs := runCLI("eval", "--data", dataDir(t), "--model", model, "--split", "validation")
	if code != 0 || !strings.Contains(evalOut, fmt.Sprintf("%d / %d", correct, total)) || correct < 7000 {
		t.Fatalf("eval: exit %d: %s%s; training's last epoch counted %d / %d", code, evalOut, errs, correct, total)
	}
}

// TestTrainChapter3: --cost cross-entropy --lambda --weight-init scaled
// train and save a model whose file names network2's CrossEntropyCost; the
// run's checkpoint keeps the settings, and resuming with another cost is
// refused as another run.
func TestTrainChapter3(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model, ck := filepath.Join(dir, "m.json"), filepath.Join(dir, "ck")
	code, out, errs := runCLI("train", "--data", dataDir(t), "--quiet", "--epochs", "2", "--train-limit", "2000",
		"--sizes", "784,30,10", "--eta", "0.5", "--cost", "cross-entropy", "--lambda", "5", "--weight-init", "scaled",
		"--save", model, "--checkpoint", ck)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Epoch 1: ") {
		t.Fatalf("stdout %q", out)
	}
	net, err := network.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if net.Cost != network.CrossEntropy || net.Lambda != 5 {
		t.Fatalf("the saved model's spec is %v", net.Spec)
	}
	data, _ := os.ReadFile(model)
	if !bytes.Contains(data, []byte(`"cost":"CrossEntropyCost"`)) {
		t.Fatalf("the model file does not name network2's CrossEntropyCost")
	}
	code, _, errs = runCLI("train", "--resume", ck, "--cost", "quadratic", "--epochs", "3")
	if code != exitUsage || !strings.Contains(errs, "--cost quadratic differs from the checkpoint's cross-entropy") {
		t.Fatalf("resume with another cost: exit %d: %s", code, errs)
	}
}

// TestEarlyStop: with --early-stop 1 a run ends after the first epoch that
// does not beat every earlier one, as network2's early_stopping_n does,
// says so, and saves its model.
func TestEarlyStop(t *testing.T) {
	t.Parallel()
	model := filepath.Join(t.TempDir(), "m.json")
	// η 100 makes a 200-image run wander: an epoch soon fails to improve.
	code, out, errs := runCLI("train", "--data", dataDir(t), "--quiet", "--epochs", "30", "--train-limit", "200",
		"--eta", "100", "--early-stop", "1", "--eval", "validation", "--save", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var correct []int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e, c, n int
		if _, err := fmt.Sscanf(line, "Epoch %d: %d / %d", &e, &c, &n); err == nil {
			correct = append(correct, c)
		}
	}
	if len(correct) < 2 || len(correct) == 30 {
		t.Fatalf("%d epochs ran: %q", len(correct), out)
	}
	// Every epoch but the last beat all before it; the last did not.
	for i := 1; i < len(correct)-1; i++ {
		if correct[i] <= slices.Max(correct[:i]) {
			t.Fatalf("epoch %d did not improve (%v) yet the run went on", i, correct)
		}
	}
	if last := correct[len(correct)-1]; last > slices.Max(correct[:len(correct)-1]) {
		t.Fatalf("the last epoch improved (%v) yet the run stopped", correct)
	}
	if !strings.Contains(errs, "early stop: the validation accuracy has not improved for 1 epochs") {
		t.Fatalf("stderr %q", errs)
	}
	if _, err := os.Stat(model); err != nil {
		t.Fatalf("no model saved: %v", err)
	}
}

// TestMonitor: --monitor adds network2's four monitors to each epoch's
// JSON line and, in text, network2's four lines after the book's; the
// last epoch's are what the saved model measures (a CPU predictor's
// Monitor, checked against network2's total_cost in package cpu).
func TestMonitor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	base := []string{"train", "--data", dataDir(t), "--quiet", "--epochs", "2", "--train-limit", "1000", "--eta", "0.5",
		"--cost", "cross-entropy", "--lambda", "2", "--eval", "validation", "--monitor", "--save", model}
	code, out, errs := runCLI(append(base, "--log-format", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	data, err := mnist.Ensure(dataDir(t), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	net, err := network.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		cost, acc string
		set       *mnist.Set
	}{{"training_cost", "training_accuracy", data.Training.Slice(0, 1000)}, {"evaluation_cost", "evaluation_accuracy", data.Validation}} {
		p, err := openPredictor("cpu", net, graph.Float32)
		if err != nil {
			t.Fatal(err)
		}
		cost, correct, err := p.Monitor(m.set)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(last[m.cost]-cost) > 1e-6*cost || last[m.acc] != float64(correct)/float64(m.set.Len()) {
			t.Errorf("%s %v, %s %v; the saved model measures %v and %d / %d", m.cost, last[m.cost], m.acc, last[m.acc], cost, correct, m.set.Len())
		}
	}
	code, out, errs = runCLI(base...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Epoch 1: ", "Cost on training data: ", "Accuracy on training data: ", " / 1000\n",
		"Cost on evaluation data: ", "Accuracy on evaluation data: ", " / 10000\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}
