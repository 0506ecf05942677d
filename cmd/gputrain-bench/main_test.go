package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/cli"
)

func TestParseEpochLine(t *testing.T) {
	for _, c := range []struct {
		name, line string
		ok, err    bool
		epoch      int
		secs       float64
	}{
		{"gputrain", `{"accuracy":0.9114,"correct":9114,"cost":0.12,"epoch":0,"eval_seconds":0.01,"seconds":0.147,"total":10000}`, true, false, 0, 0.147},
		{"python", `{"epoch": 2, "correct": 9300, "total": 10000, "accuracy": 0.93, "seconds": 2.5}`, true, false, 2, 2.5},
		{"no evaluation", `{"epoch":1,"correct":0,"total":0,"seconds":0.5}`, true, false, 1, 0.5},
		{"indented", "  {\"epoch\":3,\"seconds\":1}\n", true, false, 3, 1},
		{"log line", "Epoch 0: 9081 / 10000", false, false, 0, 0},
		{"empty", "", false, false, 0, 0},
		{"no seconds", `{"epoch":0,"correct":1,"total":2}`, false, true, 0, 0},
		{"negative seconds", `{"epoch":0,"seconds":-1}`, false, true, 0, 0},
		{"more correct than total", `{"epoch":0,"correct":11,"total":10,"seconds":1}`, false, true, 0, 0},
		{"broken JSON", `{"epoch":0,"seconds":`, false, true, 0, 0},
		{"seconds as string", `{"epoch":0,"seconds":"1"}`, false, true, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok, err := parseEpochLine(c.line)
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %v", err, c.err)
			}
			if ok != c.ok {
				t.Fatalf("ok %v, want %v", ok, c.ok)
			}
			if ok && (e.Epoch != c.epoch || *e.Seconds != c.secs) {
				t.Errorf("got epoch %d seconds %v, want %d %v", e.Epoch, *e.Seconds, c.epoch, c.secs)
			}
		})
	}
}

func TestParseEpochs(t *testing.T) {
	out := "fetching MNIST\n" +
		`{"epoch":0,"correct":90,"total":100,"seconds":1.5}` + "\n" +
		"\n" +
		`{"epoch":1,"correct":95,"total":100,"seconds":1.25}` + "\n"
	var seen []int
	es, err := parseEpochs(strings.NewReader(out), func(e epochLine) { seen = append(seen, e.Epoch) })
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[1].Correct != 95 || *es[0].Seconds != 1.5 {
		t.Errorf("parsed %+v", es)
	}
	if len(seen) != 2 || seen[0] != 0 || seen[1] != 1 {
		t.Errorf("callback saw epochs %v, want [0 1]", seen)
	}
	if got := (runResult{Epochs: es}).secs(); len(got) != 2 || got[1] != 1.25 {
		t.Errorf("secs() = %v", got)
	}

	skip := `{"epoch":0,"seconds":1}` + "\n" + `{"epoch":2,"seconds":1}` + "\n"
	if _, err := parseEpochs(strings.NewReader(skip), nil); err == nil {
		t.Error("epoch 2 after epoch 0: no error")
	}
}

func TestMedianMinimum(t *testing.T) {
	for _, c := range []struct {
		xs       []float64
		med, min float64
	}{
		{[]float64{3}, 3, 3},
		{[]float64{3, 1, 2}, 2, 1},
		{[]float64{4, 1, 3, 2}, 2.5, 1},
		{[]float64{0.2, 0.2, 9}, 0.2, 0.2},
	} {
		in := append([]float64(nil), c.xs...)
		if got := median(c.xs); got != c.med {
			t.Errorf("median(%v) = %v, want %v", in, got, c.med)
		}
		if got := minimum(c.xs); got != c.min {
			t.Errorf("minimum(%v) = %v, want %v", in, got, c.min)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Fatalf("median reordered its argument: %v, was %v", c.xs, in)
			}
		}
	}
	if !math.IsNaN(median(nil)) || !math.IsNaN(minimum(nil)) {
		t.Error("median or minimum of nothing is not NaN")
	}
}

func TestReplaceSection(t *testing.T) {
	const doc = "# Benchmarks\n\nProse before.\n\n<!-- bench:peers -->\nold table\n<!-- /bench:peers -->\n\nProse after.\n\n<!-- bench:curves -->\nold curves\n<!-- /bench:curves -->\n"
	for _, c := range []struct {
		name, doc, section, body, want string
		err                            bool
	}{
		{
			name: "replace keeps the prose and the other section", doc: doc, section: "peers", body: "new table\n",
			want: "# Benchmarks\n\nProse before.\n\n<!-- bench:peers -->\nnew table\n<!-- /bench:peers -->\n\nProse after.\n\n<!-- bench:curves -->\nold curves\n<!-- /bench:curves -->\n",
		},
		{
			name: "append when absent", doc: "# B\n\ntext", section: "reproduce", body: "runs",
			want: "# B\n\ntext\n\n<!-- bench:reproduce -->\nruns\n<!-- /bench:reproduce -->\n",
		},
		{
			name: "empty document", doc: "", section: "peers", body: "\n\nx\n\n",
			want: "<!-- bench:peers -->\nx\n<!-- /bench:peers -->\n",
		},
		{
			name: "empty section", doc: "a\n<!-- bench:peers --><!-- /bench:peers -->\nb\n", section: "peers", body: "t",
			want: "a\n<!-- bench:peers -->\nt\n<!-- /bench:peers -->\nb\n",
		},
		{name: "only the begin marker", doc: "<!-- bench:peers -->\nx\n", section: "peers", err: true},
		{name: "only the end marker", doc: "x\n<!-- /bench:peers -->\n", section: "peers", err: true},
		{name: "markers reversed", doc: "<!-- /bench:peers -->\n<!-- bench:peers -->\n", section: "peers", err: true},
		{name: "markers twice", doc: doc + "<!-- bench:peers -->\n<!-- /bench:peers -->\n", section: "peers", err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := replaceSection(c.doc, c.section, c.body)
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %v", err, c.err)
			}
			if !c.err && got != c.want {
				t.Errorf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestUpdateSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := updateSection(path, "peers", "one"); err != nil {
		t.Fatal(err)
	}
	if err := updateSection(path, "curves", "two"); err != nil {
		t.Fatal(err)
	}
	if err := updateSection(path, "peers", "three"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\n<!-- bench:peers -->\nthree\n<!-- /bench:peers -->\n\n<!-- bench:curves -->\ntwo\n<!-- /bench:curves -->\n"
	if string(b) != want {
		t.Errorf("file is\n%q\nwant\n%q", b, want)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".bench-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestEpochFLOPs(t *testing.T) {
	for _, c := range []struct {
		sizes    []int
		n, batch int
		want     float64
	}{
		// Per image: 4·(784·30 + 30·10) + 2·(30·10) = 95,880; per step
		// 2·(784·30 + 30·10) = 47,640, 5,000 steps.
		{[]int{784, 30, 10}, 50000, 10, 50000*95880 + 5000*47640},
		// No hidden layer: no δ goes back to the input.
		{[]int{784, 10}, 1, 1, 4*7840 + 2*7840},
		// A last, shorter mini-batch is a step too.
		{[]int{784, 100, 10}, 2500, 1000, 2500*(4*(78400+1000)+2*1000) + 3*2*(78400+1000)},
		{[]int{784, 20, 20, 10}, 1, 1, 4*(15680+400+200) + 2*(400+200) + 2*(15680+400+200)},
	} {
		if got := epochFLOPs(c.sizes, c.n, c.batch); got != c.want {
			t.Errorf("epochFLOPs(%v, %d, %d) = %v, want %v", c.sizes, c.n, c.batch, got, c.want)
		}
	}
}

func TestParseEpochSpec(t *testing.T) {
	known := []string{"gputrain", "network.py", "torch-autograd"}
	got, err := parseEpochSpec("gputrain=10, network.py=3,", known)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["gputrain"] != 10 || got["network.py"] != 3 {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"gputrain", "gputrain=0", "gputrain=x", "numpy=3"} {
		if _, err := parseEpochSpec(bad, known); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := parseEpochSpec(defaultEpochs, (env{}).peerIDs()); err != nil {
		t.Errorf("the default epoch spec: %v", err)
	}
}

func TestProcStat(t *testing.T) {
	const stat = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1\n"
	got, ok := parseProcStat(stat)
	if !ok || got.busy != 160 || got.total != 1000 {
		t.Errorf("parseProcStat = %+v, %v; want busy 160 of 1000", got, ok)
	}
	if _, ok := parseProcStat("intr 1\n"); ok {
		t.Error("no cpu line: ok")
	}
	// 2 cores for 10 s = 2000 ticks at 100 Hz; 1500 busy, 1200 of them (12 s) the peer's.
	before, after := cpuTimes{0, 0}, cpuTimes{1500, 2000}
	if got := othersShare(before, after, 12, 10, 2); math.Abs(got-0.15) > 1e-9 {
		t.Errorf("othersShare = %v, want 0.15", got)
	}
	if got := othersShare(before, after, 20, 10, 2); got != 0 {
		t.Errorf("othersShare with the peer above the measured busy time = %v, want 0", got)
	}
	if got := othersShare(before, before, 1, 1, 2); got != -1 {
		t.Errorf("othersShare over no time = %v, want -1", got)
	}
}

func TestCPUInfo(t *testing.T) {
	const info = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\ncpu family\t: 25\nflags\t\t: fpu sse avx avx2 fma avx512f hypervisor\n\nprocessor\t: 1\nmodel name\t: other\n"
	ci := cpuInfo(info)
	if ci["model name"] != "AMD EPYC 9B14" || ci["cpu family"] != "25" {
		t.Errorf("cpuInfo = %v", ci)
	}
	if got := vectorFlags(ci["flags"]); got != "AVX, AVX2, FMA, AVX512F" {
		t.Errorf("vectorFlags = %q", got)
	}
	if got := vectorFlags("fpu sse2"); got != "no AVX" {
		t.Errorf("vectorFlags without AVX = %q", got)
	}
}

func TestPeersMarkdownRatios(t *testing.T) {
	secs := func(xs ...float64) runResult {
		var r runResult
		for i, x := range xs {
			x := x
			r.Epochs = append(r.Epochs, epochLine{Epoch: i, Correct: 900 + i, Total: 1000, Seconds: &x})
		}
		r.Others = 0.05
		return r
	}
	g := peer{id: "gputrain", name: "gputrain CPU"}
	p := peer{id: "torch-autograd", name: "PyTorch"}
	rows := []peerRow{
		{peer: g, dtype: "float64", res: secs(0.2, 0.2, 0.2), med: 0.2, lo: 0.2},
		{peer: g, dtype: "float32", res: secs(0.1, 0.1, 0.1, 0.1), med: 0.1, lo: 0.1},
		{peer: p, dtype: "float32", res: secs(0.6, 0.5, 0.5), med: 0.5, lo: 0.5},
		{peer: p, dtype: "float64", res: secs(0.7, 0.6, 0.6), med: 0.6, lo: 0.6},
	}
	md := peersMarkdown(trainArgs{Sizes: cli.IntList{784, 30, 10}, BatchSize: 10, Eta: 3, Seed: 1}, rows, []string{"CUDA: no GPU"}, 2)
	for _, want := range []string{
		"| PyTorch | float32 | 3 | 0.500 | 0.500 | 5.0× | 90.20 % | 0 | 5 % |",
		"| PyTorch | float64 | 3 | 0.600 | 0.600 | 3.0× |",
		"| gputrain CPU | float32 | 4 | 0.100 | 0.100 | 1.0× (baseline) | 90.20 % (90.30 % after 4) |",
		"- CUDA: no GPU",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if i, j := strings.Index(md, "| gputrain CPU | float32"), strings.Index(md, "| gputrain CPU | float64"); i < 0 || j < i {
		t.Errorf("float32 rows do not come first:\n%s", md)
	}
}

// TestMergeRounds: a program's row pools the epochs of all its runs, keeps
// the first run's accuracy and the worst RSS and disturbance.
func TestMergeRounds(t *testing.T) {
	run := func(rss int64, others float64, secs ...float64) runResult {
		r := runResult{PeakRSS: rss, Others: others}
		for i, x := range secs {
			x := x
			r.Epochs = append(r.Epochs, epochLine{Epoch: i, Correct: 900 + int(rss), Total: 1000, Seconds: &x})
		}
		return r
	}
	row := mergeRounds(peer{id: "gputrain"}, "float32", []runResult{run(1, 0.02, 0.9, 0.3, 0.5), run(2, 0.01, 0.2, 0.8, 0.4)})
	// All six epochs: 0.2 0.3 0.4 0.5 0.8 0.9, median (0.4+0.5)/2.
	if row.lo != 0.2 || math.Abs(row.med-0.45) > 1e-12 {
		t.Errorf("min, median = %v, %v; want 0.2, 0.45", row.lo, row.med)
	}
	if row.res.PeakRSS != 2 || row.res.Others != 0.02 || row.res.Epochs[0].Correct != 901 || len(row.res.Epochs) != 3 {
		t.Errorf("merged run = %+v; want RSS 2, others 0.02, the first run's 3 epochs", row.res)
	}
	md := peersMarkdown(trainArgs{Sizes: cli.IntList{784, 30, 10}, BatchSize: 10, Eta: 3, Seed: 1}, []peerRow{row}, nil, 2)
	if !strings.Contains(md, "ran 2 times") {
		t.Errorf("table does not say the programs ran twice:\n%s", md)
	}
}

func TestFmtSecs(t *testing.T) {
	for in, want := range map[float64]string{123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.1234: "0.123", 0.001234: "0.0012"} {
		if got := fmtSecs(in); got != want {
			t.Errorf("fmtSecs(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestPeakEpoch(t *testing.T) {
	best, at := peakEpoch([]float64{0.9, 0.95, 0.94, 0.95})
	if best != 0.95 || at != 1 {
		t.Errorf("peakEpoch = %v at %d, want 0.95 at 1 (the first of equals)", best, at)
	}
	if _, at := peakEpoch(nil); at != -1 {
		t.Errorf("peakEpoch(nil) at %d, want -1", at)
	}
}

func TestCurvePlot(t *testing.T) {
	pts := []curvePoint{{30, 10}, {100, 10}, {1000, 10}}
	progs := []curveProgram{{id: "gputrain", name: "gputrain CPU"}, {id: "batched-numpy", name: "batched numpy"}}
	timings := map[string]map[curvePoint]curveTiming{
		"gputrain":      {pts[0]: {Median: 0.1, OK: true}, pts[1]: {Median: 0.3, OK: true}, pts[2]: {Median: 2.5, OK: true}},
		"batched-numpy": {pts[0]: {Median: 0.3, OK: true}, pts[2]: {Median: 6, OK: true}}, // a failed point is left out
	}
	path := filepath.Join(t.TempDir(), "c.png")
	c := curve{Title: "hidden size", XLabel: "hidden", Points: pts, X: func(p curvePoint) int { return p.Hidden }}
	if err := writeCurvePlot(path, c, progs, timings, 100e9); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10000 {
		t.Errorf("not a plausible PNG: %d bytes", len(b))
	}
}

// dataDir is the MNIST directory for the tests that train, or "" to skip.
func dataDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("GPUTRAIN_DATA"), "../../data/mnist"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "train-images-idx3-ubyte.gz")); err == nil {
			return d
		}
	}
	t.Skip("no MNIST files (run `go run ./cmd/gputrain data` or set GPUTRAIN_DATA)")
	return ""
}

// TestNetworkPyPeer runs the book's network.py port for one short epoch
// and checks that the driver reads its report.
func TestNetworkPyPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import numpy").Run() != nil {
		t.Skip(python + " has no numpy")
	}
	data := dataDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := trainArgs{Sizes: cli.IntList{784, 30, 10}, Epochs: 1, BatchSize: 10, Eta: 3, Data: data, Seed: 1, TrainLimit: 1000, Eval: "test"}
	e := env{python: python, scripts: "peers"}
	var p peer
	for _, q := range e.peers() {
		if q.id == "network.py" {
			p = q
		}
	}
	var log bytes.Buffer
	res, err := runPeer(ctx, p.argv(a, "float64"), nil, &log, "network.py")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Epochs) != 1 {
		t.Fatalf("%d epochs reported, want 1", len(res.Epochs))
	}
	e0 := res.Epochs[0]
	if e0.Total != 10000 || *e0.Seconds <= 0 {
		t.Errorf("epoch %+v: want 10000 evaluated and positive seconds", e0)
	}
	// 100 steps from the seeded N(0,1) start are enough to beat chance (10%).
	if acc := float64(e0.Correct) / float64(e0.Total); acc < 0.15 {
		t.Errorf("accuracy %.3f after 1,000 images: the port does not learn", acc)
	}
	if res.PeakRSS <= 0 {
		t.Errorf("peak RSS %d", res.PeakRSS)
	}
	if !strings.Contains(log.String(), "network.py: epoch 0") {
		t.Errorf("no progress line in %q", log.String())
	}
}

// TestTapeMachine trains a few steps in Gorgonia's TapeMachine and checks
// the JSON line that the driver reads.
func TestTapeMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := dataDir(t)
	var out, errb bytes.Buffer
	err := runTapeMachine([]string{"--data", data, "--epochs", "2", "--train-limit", "205", "--batch-size", "10", "--eval", "validation"}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	es, err := parseEpochs(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[1].Total != 10000 || es[1].Correct < 1500 {
		t.Errorf("epochs %+v: want 2, evaluated on 10,000 validation images, above chance", es)
	}
}
