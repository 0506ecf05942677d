package main

import (
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

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

func TestDescribeCPU(t *testing.T) {
	const info = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\ncpu family\t: 25\nmodel\t\t: 17\ncpu MHz\t\t: 2445.123\n" +
		"flags\t\t: fpu sse avx avx2 fma avx512f hypervisor\n\nprocessor\t: 1\nmodel name\t: other\n"
	want := fmt.Sprintf("AMD EPYC 9B14 (family 25, model 17), 2445 MHz; %d cores; AVX, AVX2, FMA, AVX512F; virtual machine", runtime.NumCPU())
	if got := describeCPU(info); got != want {
		t.Errorf("describeCPU = %q, want %q", got, want)
	}
	if got := vectorFlags("fpu sse2"); got != "no AVX" {
		t.Errorf("vectorFlags without AVX = %q", got)
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

// dataDir is the MNIST directory for the tests that train, or "" to skip.
// TestNetworkPyPeer runs the book's network.py port for one short epoch
// and checks that the driver reads its report.
// TestTapeMachine trains a few steps in Gorgonia's TapeMachine and checks
// the JSON line that the driver reads.
func TestParseEpochs(t *testing.T) {
	for _, c := range []struct {
		name, out string
		epochs    []int
		secs      []float64
		err       bool
	}{
		{"gputrain", `{"accuracy":0.9114,"correct":9114,"cost":0.12,"epoch":0,"eval_seconds":0.01,"seconds":0.147,"total":10000}`, []int{0}, []float64{0.147}, false},
		{"python", `{"epoch": 2, "correct": 9300, "total": 10000, "accuracy": 0.93, "seconds": 2.5}`, []int{2}, []float64{2.5}, false},
		{"no evaluation, indented", "  {\"epoch\":1,\"correct\":0,\"total\":0,\"seconds\":0.5}\n", []int{1}, []float64{0.5}, false},
		{"log lines between", "fetching MNIST\n{\"epoch\":0,\"seconds\":1.5}\n\nEpoch 0: 9081 / 10000\n{\"epoch\":1,\"seconds\":1.25}\n", []int{0, 1}, []float64{1.5, 1.25}, false},
		{"no seconds", `{"epoch":0,"correct":1,"total":2}`, nil, nil, true},
		{"negative seconds", `{"epoch":0,"seconds":-1}`, nil, nil, true},
		{"more correct than total", `{"epoch":0,"correct":11,"total":10,"seconds":1}`, nil, nil, true},
		{"broken JSON", `{"epoch":0,"seconds":`, nil, nil, true},
		{"seconds as string", `{"epoch":0,"seconds":"1"}`, nil, nil, true},
		{"an epoch skipped", "{\"epoch\":0,\"seconds\":1}\n{\"epoch\":2,\"seconds\":1}\n", []int{0}, []float64{1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var seen []int
			es, err := parseEpochs(strings.NewReader(c.out), func(e epochLine) { seen = append(seen, e.Epoch) })
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %v", err, c.err)
			}
			var epochs []int
			var secs []float64
			for _, e := range es {
				epochs, secs = append(epochs, e.Epoch), append(secs, *e.Seconds)
			}
			if !slices.Equal(epochs, c.epochs) || !slices.Equal(secs, c.secs) || !slices.Equal(seen, c.epochs) {
				t.Errorf("epochs %v seconds %v (callback saw %v), want %v %v", epochs, secs, seen, c.epochs, c.secs)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct{ xs []float64 }{{[]float64{3}}, {[]float64{3, 1, 2}}, {[]float64{4, 1, 3, 2}}, {[]float64{0.2, 0.2, 9}}} {
		in := slices.Clone(c.xs)
		// The oracle: the middle of the sorted values, or the mean of the middle two.
		s := slices.Sorted(slices.Values(in))
		want := s[len(s)/2]
		if len(s)%2 == 0 {
			want = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		if got := median(c.xs); got != want {
			t.Errorf("median(%v) = %v, want %v", in, got, want)
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("median reordered its argument: %v, was %v", c.xs, in)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestParseSpec(t *testing.T) {
	known := []string{"gputrain", "network.py", "torch-autograd"}
	ids, n, err := parseSpec("gputrain=10, network.py=3,", known, true)
	if err != nil || !slices.Equal(ids, []string{"gputrain", "network.py"}) || n["gputrain"] != 10 || n["network.py"] != 3 {
		t.Errorf("got %v %v %v", ids, n, err)
	}
	if ids, _, err := parseSpec("torch-autograd,gputrain", known, false); err != nil || !slices.Equal(ids, []string{"torch-autograd", "gputrain"}) {
		t.Errorf("ids alone: %v %v", ids, err)
	}
	for _, bad := range []struct {
		spec  string
		withN bool
	}{{"gputrain", true}, {"gputrain=0", true}, {"gputrain=x", true}, {"numpy=3", true}, {"gputrain=3", false}, {"numpy", false}} {
		if _, _, err := parseSpec(bad.spec, known, bad.withN); err == nil {
			t.Errorf("%q (with N %v): no error", bad.spec, bad.withN)
		}
	}
	if _, _, err := parseSpec(defaultEpochs, (tools{}).ids(), true); err != nil {
		t.Errorf("the default epoch spec: %v", err)
	}
}

// TestFlagArgs: the command line every program gets parses back, through
// the flags gputrain's trainers register, to the same settings.
func TestFlagArgs(t *testing.T) {
	for _, a := range []trainflags.Peer{
		{Config: train.Config{Spec: network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}}, Epochs: 30, BatchSize: 10, Eta: 3, Seed: 1, Eval: "test"}, Data: "d"},
		{Config: train.Config{Spec: network.Spec{Arch: network.Arch{Sizes: []int{784, 100, 20, 10}}}, Epochs: 2, BatchSize: 7, Eta: 0.25, Seed: 9, Dtype: graph.Float64,
			TrainLimit: 205, NoShuffle: true, Eval: "none"}, Data: "d", Init: "i.json", Save: "s.json"},
	} {
		var got trainflags.Peer
		fs := cli.NewFlags("test")
		got.Register(fs)
		if err := cli.Parse(fs, flagArgs(a), io.Discard); err != nil {
			t.Fatalf("%v: %v", flagArgs(a), err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%v parses to %+v, want %+v", flagArgs(a), got, a)
		}
	}
}

// fakeResult is a result of runs with the given seconds per epoch, RSS and
// disturbance, accuracy 90% + epoch/1000.
func fakeResult(id, dtype string, limit int, runs ...[]float64) result {
	r := result{setting: setting{prog: program{id: id, name: id + " name"}, args: trainflags.Peer{Config: train.Config{Dtype: mustDtype(dtype), TrainLimit: limit}}}}
	for i, secs := range runs {
		run := runResult{PeakRSS: int64(i+1) << 20, Others: 0.01 * float64(i+1)}
		for e, s := range secs {
			run.Epochs = append(run.Epochs, epochLine{Epoch: e, Correct: 900 + e, Total: 1000, Seconds: &s})
		}
		r.runs = append(r.runs, run)
	}
	return r
}

// TestPeerRow: a row pools the epochs of all runs, takes accuracy from the
// first, the worst RSS and disturbance, its ratio to gputrain in the same
// dtype, and scales a program timed on fewer images.
func TestPeerRow(t *testing.T) {
	all := []result{
		fakeResult("gputrain", "float32", 0, []float64{0.1, 0.1, 0.1, 0.1}),
		fakeResult("gputrain", "float64", 0, []float64{0.2, 0.2, 0.2}),
		fakeResult("torch", "float32", 0, []float64{0.9, 0.3, 0.5}, []float64{0.2, 0.8, 0.4}),
		fakeResult("torch", "float64", 0, []float64{0.7, 0.6, 0.6}),
		fakeResult("gomlx", "float32", 5000, []float64{1, 2, 3}),
	}
	for i, want := range []string{
		"gputrain name | float32 | 4 | 0.100 | 0.100 | 1.0× (baseline) | 90.20 % (90.30 % after 4) | 1 | 1 %",
		"gputrain name | float64 | 3 | 0.200 | 0.200 | 1.0× (baseline) | 90.20 % | 1 | 1 %",
		// All six epochs: 0.2 0.3 0.4 0.5 0.8 0.9, median (0.4+0.5)/2.
		"torch name | float32 | 3 | 0.200 | 0.450 | 4.5× | 90.20 % | 2 | 2 %",
		"torch name | float64 | 3 | 0.600 | 0.600 | 3.0× | 90.20 % | 1 | 1 %",
		"gomlx name (timed on 5000 images an epoch, ×10) | float32 | 3 | 10.0 | 20.0 | 200.0× | 90.20 % | 1 | 1 %",
	} {
		if got := strings.Join(peerRow(all[i], all, fullEpoch), " | "); got != want {
			t.Errorf("row\n%s\nwant\n%s", got, want)
		}
	}
}

func TestCurvePlot(t *testing.T) {
	pts := []curvePoint{{30, 10}, {100, 10}, {1000, 10}}
	progs := []program{{id: "gputrain", name: "gputrain CPU"}, {id: "batched-numpy", name: "batched numpy"}}
	tm := timings{{"gputrain", pts[0]}: 0.1, {"gputrain", pts[1]}: 0.3, {"gputrain", pts[2]}: 2.5,
		{"batched-numpy", pts[0]}: 0.3, {"batched-numpy", pts[2]}: 6} // a failed point is left out
	path := filepath.Join(t.TempDir(), "c.png")
	c := curve{Title: "hidden size", XLabel: "hidden", Points: pts, X: func(p curvePoint) int { return p.Hidden }}
	if err := writeCurvePlot(path, c, progs, tm, 100e9); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("plot is %v", b)
	}
}

// TestBadFlags: every bad command line is one line naming the flag or file
// and exit status 2, before anything runs.
func TestBadFlags(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "gputrain"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "gputrain-bench measures"},
		{[]string{"bogus"}, `gputrain-bench: unknown command "bogus"`},
		{[]string{"peers", "--only", "bogus"}, `gputrain-bench peers: --only: unknown program "bogus"`},
		{[]string{"peers", "--epochs", "gomlx"}, `gputrain-bench peers: --epochs: "gomlx": want id=N`},
		{[]string{"peers", "--limits", "gomlx=0"}, `gputrain-bench peers: --limits: "gomlx=0": want a whole number ≥ 1`},
		{[]string{"peers", "--dtypes", "float16"}, `gputrain-bench peers: --dtypes: `},
		{[]string{"peers", "--sizes", "784,10,9"}, `gputrain-bench peers: --sizes: `},
		{[]string{"peers", "--rounds", "0"}, `gputrain-bench peers: --rounds 0: must be at least 1`},
		{[]string{"peers", "--eta", "-1"}, `gputrain-bench peers: --eta -1: must be a finite number > 0`},
		{[]string{"peers", "--bin", filepath.Join(bin, "none")}, `gputrain-bench peers: --bin: `},
		{[]string{"peers", "--bin", bin, "--out", filepath.Join(bin, "no", "B.md")}, `gputrain-bench peers: ` + filepath.Join(bin, "no", "B.md")},
		{[]string{"curves", "--hidden", "0"}, `gputrain-bench curves: --train-limit must be`},
		{[]string{"curves", "--peers", "gomlx"}, `gputrain-bench curves: --peers: unknown program "gomlx"`},
		{[]string{"curves", "--bin", bin, "--plots", filepath.Join(bin, "no")}, `gputrain-bench curves: ` + filepath.Join(bin, "no", "cost-hidden.png")},
		{[]string{"reproduce", "--jobs", "0"}, `gputrain-bench reproduce: --epochs, --seeds and --jobs need at least one`},
		{[]string{"reproduce", "stray"}, `gputrain-bench reproduce: unexpected argument "stray"`},
		{[]string{"conv", "--nets", "lenet"}, `gputrain-bench conv: --nets: unknown program "lenet" (known: shallow, two-conv, relu, expanded, dropout, ensemble)`},
		{[]string{"conv", "--batch-sizes", "10,0"}, `gputrain-bench conv: --batch-sizes "10,0": want whole numbers ≥ 1, comma-separated`},
		{[]string{"conv", "--train-limit", "60000"}, `gputrain-bench conv: --nets needs one, --epochs and --threads at least 1, --train-limit 0 to 50000`},
		{[]string{"reproduce-ch6", "--device", "tpu"}, `gputrain-bench reproduce-ch6: --device "tpu": want cpu or cuda`},
		{[]string{"reproduce-ch6", "--nets", ""}, `gputrain-bench reproduce-ch6: --nets, --seeds and --jobs need at least one`},
		{[]string{"reproduce-ch6", "--epochs", "-1"}, `gputrain-bench reproduce-ch6: --epochs and --train-limit: 0 or more`},
	} {
		var stdout, stderr strings.Builder
		code := run(c.args, &stdout, &stderr)
		lines := strings.Count(stderr.String(), "\n")
		if c.args == nil {
			lines = 1 // the usage, on stderr
		}
		if code != 2 || !strings.HasPrefix(stderr.String(), c.want) || lines != 1 || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line %q…", c.args, code, stderr.String(), c.want)
		}
	}
}

// TestSweepBenchTable: the sweep table's ratios from figures worked out
// by hand: 16 networks; one after another 24 s (16 s training), two at a
// time 14 s (10 s), the sweep 4.5 s (4 s), 64 networks 16.5 s (16 s).
func TestSweepBenchTable(t *testing.T) {
	s := &sweepBench{networks: 16, big: 64, epochs: 2, rounds: 1, etas: []string{"0.5", "1", "2", "3"},
		starts: []float64{0.5}, seq: []float64{24}, pair: []float64{14}, sw: []float64{4.5}, bg: []float64{16.5},
		trSeq: []float64{16}, trPair: []float64{10}, trSw: []float64{4}, trBg: []float64{16}}
	md := s.markdown("")
	for _, want := range []string{
		"| `gputrain train` × 16, one after another | 24.0 | 1.00 | 16.0 | 1.00 | 0.500 |",
		"| `gputrain train` × 16, two processes at a time | 14.0 | 0.58 | 10.0 | 0.62 | 0.312 |",
		"| `gputrain sweep`, 16 networks | 4.50 | 0.19 | 4.00 | 0.25 | 0.125 |",
		"| `gputrain sweep`, 64 networks | 16.5 | 0.69 | 16.0 | 1.00 | 0.125 |",
		"(measured 0.25×; 0.19× end to end)", "(measured 2.50×; 3.11× end to end)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

// mustDtype is the dtype a test names.
func mustDtype(name string) graph.Dtype {
	dt, err := graph.ParseDtype(name)
	if err != nil {
		panic(err)
	}
	return dt
}
