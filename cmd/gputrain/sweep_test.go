package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"gonum.org/v1/plot/plotutil"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/sweep"
)

// sweepLines reads the sweep's JSON lines from its stdout.
func sweepLines(t *testing.T, stdout string) []sweep.Epoch {
	t.Helper()
	var out []sweep.Epoch
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var l sweep.Epoch
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// maxRelDiff is the largest |a−b| / max(|a|,|b|,1) over two networks' parameters.
func maxRelDiff(t *testing.T, a, b *network.Network) float64 {
	t.Helper()
	worst := 0.0
	for l := range a.Weights {
		for _, pair := range [][2][]float64{{a.Weights[l], b.Weights[l]}, {a.Biases[l], b.Biases[l]}} {
			if len(pair[0]) != len(pair[1]) {
				t.Fatalf("layer %d: %d against %d parameters", l, len(pair[0]), len(pair[1]))
			}
			for i := range pair[0] {
				x, y := pair[0][i], pair[1][i]
				worst = max(worst, math.Abs(x-y)/max(math.Abs(x), math.Abs(y), 1))
			}
		}
	}
	return worst
}

// TestSweepEqualsSoloRuns: each network of a 2×2×2 sweep (η × λ × seed)
// ends where `gputrain train` with its settings ends, with the same test
// count: ≤ 1e-12 relative in float64, ≤ 1e-5 in float32.
func TestSweepEqualsSoloRuns(t *testing.T) {
	data := dataDir(t)
	for _, tc := range []struct {
		dtype string
		tol   float64
	}{{"float64", 1e-12}, {"float32", 1e-5}} {
		t.Run(tc.dtype, func(t *testing.T) {
			dir := t.TempDir()
			common := []string{"--data", data, "--train-limit", "5000", "--epochs", "1", "--dtype", tc.dtype, "--cost", "cross-entropy"}
			code, stdout, stderr := runCLI(append([]string{"sweep", "--eta", "0.5,3", "--lambda", "0,5", "--seed", "1,2", "--save-dir", dir}, common...)...)
			if code != 0 {
				t.Fatalf("sweep: exit %d: %s", code, stderr)
			}
			lines := sweepLines(t, stdout)
			if len(lines) != 8 {
				t.Fatalf("%d lines, want 8 networks × 1 epoch", len(lines))
			}
			for _, l := range lines {
				matchesSolo(t, dir, l, tc.tol, append([]string{"--eta", fmt.Sprint(l.Eta), "--lambda", fmt.Sprint(l.Lambda), "--seed", fmt.Sprint(l.Seed)}, common...)...)
			}
		})
	}
}

// matchesSolo holds network l of a sweep, its model saved in dir, to its
// own `gputrain train` run with args: the same test count in its last
// epoch, parameters within tol relative.
func matchesSolo(t *testing.T, dir string, l sweep.Epoch, tol float64, args ...string) {
	t.Helper()
	solo := filepath.Join(dir, "solo.json")
	args = append(append([]string{"train"}, args...), "--log-format", "json", "--quiet", "--save", solo)
	code, out, errs := runCLI(args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	var r struct{ Correct int }
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
	}
	if r.Correct != l.Correct {
		t.Errorf("%s: the sweep counts %d, its solo run %d", l.Name(), l.Correct, r.Correct)
	}
	a, err := network.Load(filepath.Join(dir, l.Name()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := network.Load(solo)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(t, a, b); d > tol {
		t.Errorf("%s: parameters differ from the solo run's by %.3g relative, more than %g", l.Name(), d, tol)
	}
}

// TestSweepLayersEqualsSoloRuns: chapter 6's networks in a sweep (two
// stacks of layers × λ × seed, float64) each end bit for bit where
// `gputrain train --layers` ends them, with the same test counts; the
// table names each by its layers.
func TestSweepLayersEqualsSoloRuns(t *testing.T) {
	data, dir := dataDir(t), t.TempDir()
	stacks := []string{"conv:3x5x5:relu,pool:2,fc:20:dropout=0.5,softmax:10", "fc:20:relu,softmax:10"}
	common := []string{"--data", data, "--train-limit", "1000", "--epochs", "1", "--dtype", "float64", "--eta", "0.1"}
	code, stdout, stderr := runCLI(append([]string{"sweep", "--layers", stacks[0], "--layers", stacks[1], "--lambda", "0,1", "--seed", "1,2", "--save-dir", dir}, common...)...)
	if code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	lines := sweepLines(t, stdout)
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 2 stacks × 2 λ × 2 seeds", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(tableOf(stderr), l.Layers) {
			t.Errorf("the table does not name %s:\n%s", l.Layers, tableOf(stderr))
		}
		matchesSolo(t, dir, l, 0, append([]string{"--layers", l.Layers, "--lambda", fmt.Sprint(l.Lambda), "--seed", fmt.Sprint(l.Seed)}, common...)...)
	}
}

// timeColumn is the table's last column, the only one that differs
// between two runs of the same networks.
var timeColumn = regexp.MustCompile(`\s+\S+s\s*$`)

func withoutTimes(table string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
		out = append(out, timeColumn.ReplaceAllString(l, ""))
	}
	return strings.Join(out, "\n")
}

// tableOf is the ranked table in a sweep's stderr (the lines before Time:).
func tableOf(stderr string) string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "rank ") || len(out) > 0 {
			if strings.HasPrefix(l, "Time:") {
				break
			}
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSweepShardsMerge: the grid run as shards, each a subprocess in a
// Kubernetes Indexed Job's or a Slurm array task's environment, merges
// into the unsharded sweep's table.
func TestSweepShardsMerge(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--data", data, "--train-limit", "1000", "--epochs", "2", "--eta", "0.5,3", "--seed", "1..3", "--sizes", "784,20,10", "--sizes", "784,30,10"}
	code, _, stderr := runCLI(append(grid, "--out", filepath.Join(dir, "whole"))...)
	if code != 0 {
		t.Fatalf("unsharded: exit %d: %s", code, stderr)
	}
	whole := withoutTimes(tableOf(stderr))
	for _, engine := range []struct {
		name string
		env  func(i int) []string
		args []string
	}{
		{"kubernetes", func(i int) []string { return []string{"JOB_COMPLETION_INDEX=" + fmt.Sprint(i)} }, []string{"--shards", "3"}},
		{"slurm", func(i int) []string {
			return []string{"SLURM_ARRAY_TASK_ID=" + fmt.Sprint(10+2*i), "SLURM_ARRAY_TASK_MIN=10", "SLURM_ARRAY_TASK_STEP=2", "SLURM_ARRAY_TASK_COUNT=3"}
		}, nil},
	} {
		var dirs []string
		for i := range 3 {
			out := filepath.Join(dir, engine.name, fmt.Sprint(i))
			cmd := exec.Command(os.Args[0], append(append(grid, engine.args...), "--out", out)...)
			cmd.Env = append(append(os.Environ(), asMain+"=1"), engine.env(i)...)
			got, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s shard %d: %v: %s", engine.name, i, err, got)
			}
			if want := fmt.Sprintf("shard %d of 3", i); !strings.Contains(string(got), want) {
				t.Errorf("%s shard %d does not say %q: %s", engine.name, i, want, got)
			}
			dirs = append(dirs, out)
		}
		code, merged, errs := runCLI(append([]string{"sweep", "merge"}, dirs...)...)
		if code != 0 || !strings.Contains(errs, "12 of 12 networks complete") {
			t.Fatalf("%s merge: exit %d: %s", engine.name, code, errs)
		}
		if got := withoutTimes(merged); got != whole {
			t.Errorf("%s: merged table\n%s\nwant the unsharded one\n%s", engine.name, got, whole)
		}
		// A shard left out is named, and the merge fails.
		code, _, errs = runCLI("sweep", "merge", dirs[0], dirs[2])
		if code != exitRuntime || strings.Count(errs, "missing: ") != 4 || !strings.Contains(errs, "(shard 1 of 3 has no line of it)") {
			t.Errorf("%s merge without shard 1: exit %d: %s", engine.name, code, errs)
		}
	}
}

// TestSweepDivergence: a network whose η makes it overflow is reported
// and ranked last; the others train on, in its group (--parallel 1) or
// in their own.
func TestSweepDivergence(t *testing.T) {
	data := dataDir(t)
	for _, parallel := range []string{"1", "2"} { // one group of both; a group each
		t.Run("parallel="+parallel, func(t *testing.T) { sweepDivergence(t, data, parallel) })
	}
}

func sweepDivergence(t *testing.T, data, parallel string) {
	code, stdout, stderr := runCLI("sweep", "--data", data, "--train-limit", "500", "--epochs", "2", "--eta", "3,1e39", "--sizes", "784,10,10", "--parallel", parallel)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var fine, diverged int
	for _, l := range sweepLines(t, stdout) {
		switch {
		case l.Eta == 3 && l.Diverged == "":
			fine++
		case l.Eta == 1e39 && l.Diverged != "":
			diverged++
		}
	}
	if fine != 2 || diverged != 1 {
		t.Errorf("%d epochs of η 3 and %d divergences of η 1e39, want 2 and 1:\n%s", fine, diverged, stdout)
	}
	table := strings.Split(strings.TrimSpace(tableOf(stderr)), "\n")
	if len(table) != 3 || !strings.Contains(table[2], "diverged epoch 0") || !strings.Contains(stderr, "Diverged: 1 networks") {
		t.Errorf("table:\n%s", stderr)
	}
}

// TestSweepResume: a sweep interrupted by a signal and resumed ends with
// the same models, bit for bit, and the same lines as one never stopped.
func TestSweepResume(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--data", data, "--train-limit", "6000", "--epochs", "3", "--eta", "0.5,3", "--seed", "1,2", "--sizes", "784,60,10", "--parallel", "1"}
	straight := filepath.Join(dir, "straight")
	if code, _, errs := runCLI(append(grid, "--save-dir", straight)...); code != 0 {
		t.Fatalf("straight: exit %d: %s", code, errs)
	}
	out, models := filepath.Join(dir, "out"), filepath.Join(dir, "models")
	cmd := exec.Command(os.Args[0], append(grid, "--out", out, "--save-dir", models)...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	var stdout syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &stdout, `"epoch":1`)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Logf("the sweep ended before the signal (%v): resuming a finished sweep", err)
	} else if !strings.Contains(stdout.String(), "gputrain sweep --resume "+out) {
		t.Errorf("the interruption does not say how to resume: %s", stdout.String())
	}
	code, _, errs := runCLI("sweep", "--resume", out, "--save-dir", models)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errs)
	}
	sameModels(t, straight, models, 4, "the straight sweep", "resumed")
	lines, err := sweep.ReadResults(filepath.Join(out, sweep.ResultsFile))
	if err != nil || len(lines) != 12 {
		t.Errorf("%d lines kept in --out, want 4 networks × 3 epochs (%v)", len(lines), err)
	}
	if _, err := os.Stat(filepath.Join(out, checkpointsDir)); !os.IsNotExist(err) {
		t.Errorf("the networks' checkpoints outlive the finished sweep: %v", err)
	}
}

// TestSweepBadFlags: one line naming the flag and the fault, exit 2,
// before any data is read.
func TestSweepBadFlags(t *testing.T) {
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept")
	os.MkdirAll(kept, 0o755)
	os.WriteFile(filepath.Join(kept, sweep.PlanFile), []byte(`{}`), 0o644)
	grid := filepath.Join(dir, "g.json")
	os.WriteFile(grid, []byte(`[{"eta": 1}]`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--eta", "0,1"}, "--eta 0: must be a finite number > 0"},
		{[]string{"--eta", "1,1"}, `invalid value "1,1" for flag -eta: 1 is listed twice`},
		{[]string{"--seed", "5..1"}, "runs backwards"},
		{[]string{"--seed", "1..1000000000"}, "more than 100000 values"},
		{[]string{"--sizes", "783,10"}, `invalid value "783,10" for flag -sizes: sizes [783 10]: must start with 784`},
		{[]string{"--cost", "hinge"}, `invalid value "hinge" for flag -cost: "hinge" is not one of`},
		{[]string{"--shard", "3/3"}, "--shard 3/3: shard 3 of 3: want 0 to 2"},
		{[]string{"--shard", "0/2", "--shards", "2"}, "--shard and --shards: give one"},
		{[]string{"--shards", "2"}, "no shard index in the environment"},
		{[]string{"--shard", "0/5", "--seed", "1..3"}, "5 shards of a grid of 3 networks"},
		{[]string{"--grid", grid, "--eta", "3"}, "--eta and --grid"},
		{[]string{"--resume", kept, "--eta", "3"}, "--eta: --resume continues the sweep with the settings it was started with"},
		{[]string{"--epochs", "0"}, "--epochs 0"},
		{[]string{"--device", "tpu"}, `--device "tpu"`},
		{[]string{"--parallel", "-1"}, "--parallel -1"},
		{[]string{"--train-set", "big"}, `--train-set "big": want standard or expanded`},
		{[]string{"--layers", "fc:30,softmax:10", "--cost", "quadratic"}, "--cost with --layers alone"},
		{[]string{"--layers", "fc:30"}, `invalid value "fc:30" for flag -layers: the last layer must be softmax:10`},
		{[]string{"--layers", "fc:30,softmax:10", "--layers", "fc:30,softmax:10"}, "is listed twice"},
	} {
		code, _, errs := runCLI(append([]string{"sweep"}, c.args...)...)
		if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := runCLI("sweep", "--data", dataDir(t), "--out", kept); code != exitRuntime || !strings.Contains(errs, "holds a sweep already: --resume") {
		t.Errorf("--out of another sweep: exit %d: %s", code, errs)
	}
	if code, _, errs := runCLI("sweep", "merge"); code != exitUsage || !strings.Contains(errs, "name the shards' --out folders") {
		t.Errorf("merge alone: exit %d: %s", code, errs)
	}
}

// TestSweepMonitorAndPlot: --monitor gives each network the monitors its
// solo run's --monitor prints; --plot draws one coloured line per network,
// labelled by what differs.
func TestSweepMonitorAndPlot(t *testing.T) {
	data := dataDir(t)
	png := filepath.Join(t.TempDir(), "sweep.png")
	common := []string{"--data", data, "--train-limit", "2000", "--epochs", "2", "--sizes", "784,20,10"}
	code, stdout, errs := runCLI(append([]string{"sweep", "--eta", "0.5,3", "--monitor", "--plot", png}, common...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, l := range sweepLines(t, stdout) {
		code, out, errs := runCLI(append([]string{"train", "--eta", fmt.Sprint(l.Eta), "--monitor", "--log-format", "json", "--quiet"}, common...)...)
		if code != 0 {
			t.Fatalf("solo: exit %d: %s", code, errs)
		}
		var solo struct {
			TrainingCost       float64 `json:"training_cost"`
			TrainingAccuracy   float64 `json:"training_accuracy"`
			EvaluationCost     float64 `json:"evaluation_cost"`
			EvaluationAccuracy float64 `json:"evaluation_accuracy"`
		}
		if err := json.Unmarshal([]byte(strings.Split(out, "\n")[l.Epoch]), &solo); err != nil {
			t.Fatal(err)
		}
		if l.TrainingCost == nil || *l.TrainingCost != solo.TrainingCost || *l.TrainingAccuracy != solo.TrainingAccuracy ||
			*l.EvaluationCost != solo.EvaluationCost || *l.EvaluationAccuracy != solo.EvaluationAccuracy {
			t.Errorf("η %g epoch %d: monitors %v %v %v %v, the solo run's %+v", l.Eta, l.Epoch,
				*l.TrainingCost, *l.TrainingAccuracy, *l.EvaluationCost, *l.EvaluationAccuracy, solo)
		}
	}
	img := decodePNG(t, png)
	if b := img.Bounds(); b.Dx() != 768 || b.Dy() != 576 {
		t.Errorf("plot is %v, want 768×576", b)
	}
	for k := range 2 {
		want := plotutil.Color(k)
		wr, wg, wb, _ := want.RGBA()
		n := 0
		for y := range img.Bounds().Dy() {
			for x := range img.Bounds().Dx() {
				r, g, b, _ := img.At(x, y).RGBA()
				if r>>8 == wr>>8 && g>>8 == wg>>8 && b>>8 == wb>>8 {
					n++
				}
			}
		}
		if n < 200 {
			t.Errorf("network %d's colour covers %d pixels: its lines are missing", k, n)
		}
	}
}

func TestSweepLabels(t *testing.T) {
	a, b, c := sweep.Book(), sweep.Book(), sweep.Book()
	b.Eta, c.Seed = 0.25, 2
	label := labeller([]sweep.Setting{a, b, c})
	for _, tc := range []struct {
		s    sweep.Setting
		want string
	}{
		{a, "η 3, seed 1"},
		{b, "η 0.25, seed 1"},
		{c, "η 3, seed 2"},
		{sweep.Setting{}, "[784,30,10], mini-batch 10, λ 0, quadratic, sigmoid, init large"},
	} {
		if got := label(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.s.Name(), got, tc.want)
		}
	}
	// A network of layers beside one of sizes: no empty activation or init.
	d, err := sweep.Setting{BatchSize: 10, Eta: 3, Seed: 1}.WithLayers("fc:20,softmax:10")
	if err != nil {
		t.Fatal(err)
	}
	label = labeller([]sweep.Setting{a, d})
	for s, want := range map[*sweep.Setting]string{&a: "[784,30,10], quadratic, sigmoid, init large", &d: "fc:20,softmax:10, log-likelihood"} {
		if got := label(*s); got != want {
			t.Errorf("%s: %q, want %q", s.Name(), got, want)
		}
	}
}

// TestSweepMemoryPasses: a sweep whose networks do not all fit in
// --max-memory beside the data trains them in passes that do, with a
// note, and ends with the same models, bit for bit, as in one pass.
func TestSweepMemoryPasses(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--data", data, "--train-limit", "500", "--epochs", "1", "--eta", "0.5,3", "--seed", "1,2", "--eval", "none"}
	one, passes := filepath.Join(dir, "one"), filepath.Join(dir, "passes")
	if code, _, errs := runCLI(append(grid, "--save-dir", one)...); code != 0 {
		t.Fatalf("one pass: exit %d: %s", code, errs)
	}
	shared := baseBytes + datasetBytes()
	each := trainEstimate([]int{784, 30, 10}, 10, 500, graph.Float32, false, true) - shared
	limit := fmt.Sprintf("%.0f", shared+2.5*each) // two networks, not three
	code, _, errs := runCLI(append(grid, "--save-dir", passes, "--max-memory", limit)...)
	if code != 0 {
		t.Fatalf("passes: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "4 networks at once would not fit in memory: training them in passes of 2") {
		t.Errorf("no note of the passes: %s", errs)
	}
	sameModels(t, one, passes, 4, "one pass", "trained in passes")
}

// sameModels checks that folder got holds the n models of folder want,
// byte for byte.
func sameModels(t *testing.T, want, got string, n int, wantWhat, gotWhat string) {
	t.Helper()
	entries, _ := os.ReadDir(want)
	if len(entries) != n {
		t.Fatalf("%d models from %s, want %d", len(entries), wantWhat, n)
	}
	for _, e := range entries {
		a, _ := os.ReadFile(filepath.Join(want, e.Name()))
		b, err := os.ReadFile(filepath.Join(got, e.Name()))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s: %s, the model differs from %s's (%v)", e.Name(), gotWhat, wantWhat, err)
		}
	}
}
