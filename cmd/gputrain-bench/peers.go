package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

// defaultEpochs gives each program, in each round, enough epochs for a
// stable median while keeping make bench within about twenty-five minutes on
// two cores: the slow programs get three, the fast ones more.
const defaultEpochs = "gputrain=10,gputrain-cuda=10,network.py=3,batched-numpy=5,torch-autograd=5,torch-explicit=5,tapemachine=3,gomlx=3"

// accuracyEpoch is the epoch whose test accuracy the table compares: the
// third, which every program reaches, so that the column compares like
// with like although the programs run different numbers of epochs.
const accuracyEpoch = 3

func runPeers(args []string, stdout, stderr io.Writer) error {
	b := &bench{parallel: 1, log: stderr}
	a := trainflags.Peer{Config: train.Book()}
	fs := cli.NewFlags("gputrain-bench peers")
	b.register(fs, "the markdown file whose machine section and --section are rewritten")
	b.timingFlags(fs, "")
	fs.Var((*cli.IntList)(&a.Sizes), "sizes", "layer sizes")
	fs.IntVar(&a.BatchSize, "batch-size", 10, "mini-batch size")
	fs.Float64Var(&a.Eta, "eta", 3.0, "learning rate η")
	fs.Uint64Var(&a.Seed, "seed", 1, "seed of the shared initial network and of each program's shuffling")
	fs.IntVar(&a.TrainLimit, "train-limit", 0, "train on the first N images (0: all 50,000)")
	epochSpec := fs.String("epochs", defaultEpochs, "epochs per program, id=N comma-separated (3 for one not named)")
	limitSpec := fs.String("limits", "", "programs timed on fewer images, their times scaled to the others', id=N comma-separated")
	only := fs.String("only", "", "run only these programs (comma-separated ids)")
	dtypes := fs.String("dtypes", "float32,float64", "dtypes to run")
	section := fs.String("section", "peers", "the section of --out that the table replaces (<!-- bench:NAME -->)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	_, epochs, err1 := parseSpec(*epochSpec, b.ids(), true)
	_, limits, err2 := parseSpec(*limitSpec, b.ids(), true)
	want, _, err3 := parseSpec(*only, b.ids(), false)
	for i, err := range []error{err1, err2, err3} {
		if err != nil {
			return cli.Usagef("--%s: %v", []string{"epochs", "limits", "only"}[i], err)
		}
	}
	if err := network.CheckSizes(a.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	} else if err := trainflags.Check(a.Config); err != nil {
		return err
	}
	// Every program starts from the same parameters: gputrain's N(0,1)
	// draw, saved in network2.py's format, which all of them read.
	dir, err := os.MkdirTemp("", "gputrain-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a.Data, a.Init = b.data, filepath.Join(dir, "init.json")
	if net, err := network.New(a.Sizes, a.Seed); err != nil {
		return err
	} else if err := net.Save(a.Init); err != nil {
		return err
	}
	var settings []setting
	for _, name := range strings.Split(*dtypes, ",") {
		dt, err := graph.ParseDtype(name)
		if err != nil {
			return cli.Usagef("--dtypes: %v", err)
		}
		for _, p := range b.programs() {
			if want == nil || slices.Contains(want, p.id) {
				pa := a
				pa.Dtype, pa.Epochs, pa.TrainLimit = dt, cmp.Or(epochs[p.id], 3), cmp.Or(limits[p.id], a.TrainLimit)
				settings = append(settings, setting{prog: p, args: pa, label: p.id + " " + name})
			}
		}
	}
	if err := b.check(); err != nil {
		return err
	}
	return b.peers(a, settings, *section, stdout)
}

// peers runs the settings (each from the initial network a.Init) and writes the table.
func (b *bench) peers(a trainflags.Peer, settings []setting, section string, stdout io.Writer) error {
	m := describeMachine(b.python)
	fmt.Fprintf(b.log, "machine:\n%s", m)
	results := b.run(settings)
	var rows [][]string
	for _, r := range results {
		if r.ok() {
			rows = append(rows, peerRow(r, results, cmp.Or(a.TrainLimit, fullEpoch)))
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no program ran")
	}
	each := "Each program ran once, one after another."
	if b.rounds > 1 {
		each = fmt.Sprintf("Each program ran %d times, in %d rounds that run every program in turn; "+
			"min and median are over the epochs of all its runs.", b.rounds, b.rounds)
	}
	body := fmt.Sprintf("Sizes %s, mini-batch %d, η %g, %s training images per epoch, test set evaluated after every epoch (not timed). "+
		"Every program starts from the same initial network (gputrain's N(0,1) draw for seed %d, passed as `--init`) "+
		"and shuffles with its own generator. %s\n\n", cli.Ints(a.Sizes), a.BatchSize, a.Eta, map[bool]string{true: "50,000", false: strconv.Itoa(a.TrainLimit)}[a.TrainLimit == 0], a.Seed, each) +
		table([]string{"program", "dtype", "epochs", "s/epoch min", "s/epoch median", "median ÷ gputrain",
			"test accuracy after epoch 3", "peak RSS MiB", "CPU taken by others"}, "llrrrrrrr", rows) +
		skippedList(results)
	return b.write(stdout, body, "machine", m, section, body)
}

// peerRow is one line of the table: a program's min and median seconds
// per epoch over every run (scaled to full epochs of the table when it
// trained on fewer images), its ratio to gputrain CPU's in the same dtype,
// accuracy from the first run (every run starts from the same network and
// shuffles alike), and the largest peak RSS and share of the CPU taken by
// others.
func peerRow(r result, all []result, full int) []string {
	med, least := r.perEpoch(full)
	name, ratio := r.prog.name, "—"
	if r.args.TrainLimit != 0 && r.args.TrainLimit != full {
		name += fmt.Sprintf(" (timed on %d images an epoch, ×%g)", r.args.TrainLimit, float64(full)/float64(r.args.TrainLimit))
	}
	for _, g := range all {
		if g.ok() && g.prog.id == "gputrain" && g.args.Dtype == r.args.Dtype {
			base, _ := g.perEpoch(full)
			ratio = fmt.Sprintf("%.1f×", med/base)
		}
	}
	if r.prog.id == "gputrain" {
		ratio = "1.0× (baseline)"
	}
	acc, epochs := "—", r.runs[0].Epochs
	if n, at := len(epochs), epochs[min(accuracyEpoch, len(epochs))-1]; at.Total > 0 {
		acc = fmt.Sprintf("%.2f %%", 100*float64(at.Correct)/float64(at.Total))
		if last := epochs[n-1]; n > accuracyEpoch {
			acc += fmt.Sprintf(" (%.2f %% after %d)", 100*float64(last.Correct)/float64(last.Total), n)
		}
	}
	rss, others := r.worst()
	return []string{name, r.args.Dtype.String(), strconv.Itoa(len(epochs)), fmtSecs(least), fmtSecs(med), ratio, acc,
		fmt.Sprintf("%.0f", float64(rss)/(1<<20)), fmtShare(others)}
}
