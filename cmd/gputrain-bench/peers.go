package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph"
)

// peer is one program of the side-by-side table.
type peer struct {
	id     string   // the name --epochs and --only use
	name   string   // the table's label
	dtypes []string // what it can run
	needs  string   // the Python module it needs, if any
	argv   func(a trainArgs, dtype string) []string
}

// env is where the peers are found.
type env struct {
	gputrain, cudaBin, self string
	python, scripts         string
}

// commonArgs is the command line every peer takes.
func commonArgs(a trainArgs, dtype string) []string {
	args := []string{
		"--sizes", a.Sizes.String(),
		"--epochs", strconv.Itoa(a.Epochs),
		"--batch-size", strconv.Itoa(a.BatchSize),
		"--eta", strconv.FormatFloat(a.Eta, 'g', -1, 64),
		"--dtype", dtype,
		"--data", a.Data,
		"--seed", strconv.FormatUint(a.Seed, 10),
		"--train-limit", strconv.Itoa(a.TrainLimit),
		"--eval", a.Eval,
	}
	if a.Init != "" {
		args = append(args, "--init", a.Init)
	}
	return args
}

func (e env) peers() []peer {
	both := []string{"float32", "float64"}
	py := func(script string, extra ...string) func(trainArgs, string) []string {
		return func(a trainArgs, dt string) []string {
			argv := append([]string{e.python, filepath.Join(e.scripts, script)}, commonArgs(a, dt)...)
			return append(argv, extra...)
		}
	}
	return []peer{
		{"gputrain", "gputrain CPU", both, "", func(a trainArgs, dt string) []string {
			return append(append([]string{e.gputrain, "train"}, commonArgs(a, dt)...), "--log-format", "json", "--quiet")
		}},
		{"gputrain-cuda", "gputrain CUDA", both, "", func(a trainArgs, dt string) []string {
			return append(append([]string{e.cudaBin, "train"}, commonArgs(a, dt)...), "--device", "cuda", "--log-format", "json", "--quiet")
		}},
		{"network.py", "book's network.py (numpy, per sample)", both, "numpy", py("network.py")},
		{"batched-numpy", "batched numpy", both, "numpy", py("batched_numpy.py")},
		{"torch-autograd", "PyTorch CPU, autograd", both, "torch", py("torch_sgd.py", "--grad", "autograd")},
		{"torch-explicit", "PyTorch CPU, explicit backprop", both, "torch", py("torch_sgd.py", "--grad", "explicit")},
		{"tapemachine", "Gorgonia TapeMachine", both, "", func(a trainArgs, dt string) []string {
			return append([]string{e.self, "tapemachine"}, commonArgs(a, dt)...)
		}},
	}
}

// peerIDs lists the ids of every peer.
func (e env) peerIDs() []string {
	var ids []string
	for _, p := range e.peers() {
		ids = append(ids, p.id)
	}
	return ids
}

// defaultEpochs gives each peer, in each round, enough epochs for a stable
// median while keeping make bench within about twenty minutes on two
// cores: the slow peers get three, the fast ones more.
const defaultEpochs = "gputrain=10,gputrain-cuda=10,network.py=3,batched-numpy=5,torch-autograd=5,torch-explicit=5,tapemachine=3"

// parseEpochSpec reads "id=N,id=N" into a map, checking every id against known.
func parseEpochSpec(spec string, known []string) (map[string]int, error) {
	out := map[string]int{}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		id, n, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want id=epochs", f)
		}
		if !contains(known, id) {
			return nil, fmt.Errorf("unknown peer %q (known: %s)", id, strings.Join(known, ", "))
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: epochs must be a whole number ≥ 1", f)
		}
		out[id] = v
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// pythonModules reports which of numpy and torch the interpreter imports,
// with the reason for each that it does not.
func pythonModules(python string) map[string]string {
	missing := map[string]string{}
	for _, mod := range []string{"numpy", "torch"} {
		if command(python, "-c", "import "+mod) == "" && command(python, "-c", "import "+mod+"; print(1)") != "1" {
			missing[mod] = fmt.Sprintf("%s cannot import %s (apt-get install python3-%s)", python, mod, mod)
		}
	}
	return missing
}

// cudaProblem says why the CUDA peer cannot run here, or "" if it can.
func cudaProblem(bin string) string {
	if command("nvidia-smi", "-L") == "" {
		return "no NVIDIA GPU (nvidia-smi lists none)"
	}
	if bin == "" {
		return "no CUDA build of gputrain (make cuda, or pass --cuda-bin)"
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Sprintf("no CUDA build of gputrain at %s (make cuda)", bin)
	}
	return ""
}

// peerRow is one measured line of the table.
type peerRow struct {
	peer    peer
	dtype   string
	res     runResult
	med, lo float64
}

func runPeers(args []string, stdout, stderr io.Writer) error {
	a := trainArgs{Sizes: cli.IntList{784, 30, 10}}
	var e env
	fs := cli.NewFlags("gputrain-bench peers")
	fs.StringVar(&e.gputrain, "gputrain", "bin/gputrain", "the gputrain binary")
	fs.StringVar(&e.cudaBin, "cuda-bin", "", "a CUDA build of gputrain (default: bin/gputrain-cuda if present, else --gputrain)")
	fs.StringVar(&e.python, "python", "/usr/bin/python3", "the Python with numpy and torch")
	fs.StringVar(&e.scripts, "scripts", "cmd/gputrain-bench/peers", "directory of the Python peers")
	fs.Var(&a.Sizes, "sizes", "layer sizes")
	fs.IntVar(&a.BatchSize, "batch-size", 10, "mini-batch size")
	fs.Float64Var(&a.Eta, "eta", 3.0, "learning rate η")
	fs.Uint64Var(&a.Seed, "seed", 1, "seed of the shared initial network and of each peer's shuffling")
	fs.StringVar(&a.Data, "data", "data/mnist", "directory of the MNIST files")
	fs.IntVar(&a.TrainLimit, "train-limit", 0, "train on the first N images (0: all 50,000)")
	epochSpec := fs.String("epochs", defaultEpochs, "epochs per peer, id=N comma-separated")
	only := fs.String("only", "", "run only these peers (comma-separated ids)")
	dtypes := fs.String("dtypes", "float32,float64", "dtypes to run")
	out := fs.String("out", "BENCHMARKS.md", "the markdown file whose machine section and --section are rewritten")
	section := fs.String("section", "peers", "the section of --out that the table replaces (<!-- bench:NAME -->)")
	rounds := fs.Int("rounds", 2, "how many times each program runs, in turn with the others")
	q := quietFlags(fs)
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	e.self = self
	if e.cudaBin == "" {
		e.cudaBin = e.gputrain
		if _, err := os.Stat("bin/gputrain-cuda"); err == nil {
			e.cudaBin = "bin/gputrain-cuda"
		}
	}
	if _, err := os.Stat(e.gputrain); err != nil {
		return cli.Usagef("--gputrain: %v (make build)", err)
	}
	if *rounds < 1 {
		return cli.Usagef("--rounds: %d: must be at least 1", *rounds)
	}
	peers := e.peers()
	ids := e.peerIDs()
	epochs, err := parseEpochSpec(*epochSpec, ids)
	if err != nil {
		return cli.Usagef("--epochs: %v", err)
	}
	var want []string
	if *only != "" {
		want = strings.Split(*only, ",")
		for _, id := range want {
			if !contains(ids, id) {
				return cli.Usagef("--only: unknown peer %q (known: %s)", id, strings.Join(ids, ", "))
			}
		}
	}
	a.Eval = "test"

	m := describeMachine(e.python)
	fmt.Fprintf(stderr, "machine:\n%s", m.markdown())
	missing := pythonModules(e.python)

	// Every peer starts from the same parameters: gputrain's N(0,1) draw,
	// saved in network2.py's format, which all of them read.
	dir, err := os.MkdirTemp("", "gputrain-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	net, err := graph.New(a.Sizes, a.Seed)
	if err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	a.Init = filepath.Join(dir, "init.json")
	if err := net.Save(a.Init); err != nil {
		return err
	}

	// The runs to make, in table order.
	type job struct {
		p     peer
		dt    string
		args  trainArgs
		label string
	}
	var jobs []job
	var skipped []string
	for _, p := range peers {
		if want != nil && !contains(want, p.id) {
			continue
		}
		why := missing[p.needs]
		if p.id == "gputrain-cuda" {
			why = cudaProblem(e.cudaBin)
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%s: %s", p.name, why))
			fmt.Fprintf(stderr, "skipping %s: %s\n", p.name, why)
			continue
		}
		for _, dt := range strings.Split(*dtypes, ",") {
			if !contains(p.dtypes, dt) {
				continue
			}
			pa := a
			pa.Epochs = epochs[p.id]
			if pa.Epochs == 0 {
				pa.Epochs = 3
			}
			jobs = append(jobs, job{p, dt, pa, p.id + " " + dt})
		}
	}

	// Every program runs once a round, in turn with the others, so that a
	// slow spell of this shared machine falls on all of them rather than
	// on whichever ran through it.
	results := make([][]runResult, len(jobs))
	failed := make([]bool, len(jobs))
	ctx := context.Background()
	for round := 1; round <= *rounds; round++ {
		for i, j := range jobs {
			if failed[i] {
				continue
			}
			fmt.Fprintf(stderr, "%s: %d epochs (round %d of %d)\n", j.label, j.args.Epochs, round, *rounds)
			res, err := runQuiet(ctx, *q, j.p.argv(j.args, j.dt), nil, stderr, j.label)
			if err != nil {
				// One broken peer should not cost the others' numbers.
				failed[i] = true
				skipped = append(skipped, fmt.Sprintf("%s %s: failed: %v", j.p.name, j.dt, err))
				fmt.Fprintf(stderr, "%v\n", err)
				continue
			}
			results[i] = append(results[i], res)
		}
	}
	var rows []peerRow
	for i, j := range jobs {
		if !failed[i] && len(results[i]) > 0 {
			rows = append(rows, mergeRounds(j.p, j.dt, results[i]))
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no peer ran")
	}
	body := peersMarkdown(a, rows, skipped, *rounds)
	fmt.Fprint(stdout, body)
	if *out == "" {
		return nil
	}
	if err := updateSection(*out, "machine", m.markdown()); err != nil {
		return err
	}
	return updateSection(*out, *section, body)
}

// mergeRounds makes one row of a program's runs: its minimum and median
// over the epochs of every run; accuracy from the first run (every run
// starts from the same network and shuffles alike); the largest peak RSS
// and share of the CPU taken by others.
func mergeRounds(p peer, dtype string, runs []runResult) peerRow {
	r := peerRow{peer: p, dtype: dtype, res: runs[0]}
	var s []float64
	for _, run := range runs {
		s = append(s, run.secs()...)
		r.res.PeakRSS = max(r.res.PeakRSS, run.PeakRSS)
		r.res.Others = max(r.res.Others, run.Others)
	}
	r.med, r.lo = median(s), minimum(s)
	return r
}

// baseline is gputrain CPU's median seconds per epoch for each dtype.
func baseline(rows []peerRow) map[string]float64 {
	b := map[string]float64{}
	for _, r := range rows {
		if r.peer.id == "gputrain" {
			b[r.dtype] = r.med
		}
	}
	return b
}

// accuracyEpoch is the epoch whose test accuracy the table compares: the
// third, which every peer reaches, so that the column compares like with
// like although the peers run different numbers of epochs.
const accuracyEpoch = 3

func peersMarkdown(a trainArgs, rows []peerRow, skipped []string, rounds int) string {
	base := baseline(rows)
	// Rows by dtype, then in the order the peers ran.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].dtype < rows[j].dtype })
	var cells [][]string
	for _, r := range rows {
		ratio := "—"
		if b, ok := base[r.dtype]; ok && b > 0 {
			ratio = fmt.Sprintf("%.1f×", r.med/b)
			if r.peer.id == "gputrain" {
				ratio = "1.0× (baseline)"
			}
		}
		acc := "—"
		if n := len(r.res.Epochs); n > 0 {
			at := r.res.Epochs[min(accuracyEpoch, n)-1]
			if at.Total > 0 {
				acc = fmt.Sprintf("%.2f %%", 100*float64(at.Correct)/float64(at.Total))
				if last := r.res.last(); n > accuracyEpoch && last.Total > 0 {
					acc += fmt.Sprintf(" (%.2f %% after %d)", 100*float64(last.Correct)/float64(last.Total), n)
				}
			}
		}
		cells = append(cells, []string{
			r.peer.name, r.dtype, strconv.Itoa(len(r.res.Epochs)),
			fmtSecs(r.lo), fmtSecs(r.med), ratio, acc, fmt.Sprintf("%.0f", float64(r.res.PeakRSS)/(1<<20)), fmtShare(r.res.Others),
		})
	}
	var b strings.Builder
	n := "50,000"
	if a.TrainLimit > 0 {
		n = strconv.Itoa(a.TrainLimit)
	}
	fmt.Fprintf(&b, "Sizes %s, mini-batch %d, η %g, %s training images per epoch, test set evaluated after every epoch (not timed). "+
		"Every program starts from the same initial network (gputrain's N(0,1) draw for seed %d, passed as `--init`) and shuffles with its own generator. "+
		"%s\n\n",
		a.Sizes.String(), a.BatchSize, a.Eta, n, a.Seed, roundsSentence(rounds))
	b.WriteString(table(
		[]string{"program", "dtype", "epochs", "s/epoch min", "s/epoch median", "median ÷ gputrain", "test accuracy after epoch 3", "peak RSS MiB", "CPU taken by others"},
		"llrrrrrrr", cells))
	if len(skipped) > 0 {
		b.WriteString("\nSkipped:\n\n")
		for _, s := range skipped {
			b.WriteString("- " + strings.ReplaceAll(s, "\n", " ") + "\n")
		}
	}
	return b.String()
}

// roundsSentence says how the programs took turns.
func roundsSentence(rounds int) string {
	if rounds == 1 {
		return "Each program ran once, one after another."
	}
	return fmt.Sprintf("Each program ran %d times, in %d rounds that run every program in turn; "+
		"min and median are over the epochs of all its runs.", rounds, rounds)
}

// fmtShare prints a share of the CPU as a percentage, "?" when unknown.
func fmtShare(x float64) string {
	if x < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f %%", 100*x)
}

// quietFlags adds the flags of the rerun policy.
func quietFlags(fs *flag.FlagSet) *quietPolicy {
	q := &quietPolicy{}
	fs.Float64Var(&q.MaxOthers, "max-others", 0.15, "rerun a peer when other processes took more than this share of the CPU during its run")
	fs.IntVar(&q.Retries, "retries", 2, "reruns at most per peer")
	return q
}

// fmtSecs prints seconds with three significant digits but no exponent.
func fmtSecs(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f", s)
	case s >= 10:
		return fmt.Sprintf("%.1f", s)
	case s >= 1:
		return fmt.Sprintf("%.2f", s)
	case s >= 0.01:
		return fmt.Sprintf("%.3f", s)
	}
	return fmt.Sprintf("%.4f", s)
}
