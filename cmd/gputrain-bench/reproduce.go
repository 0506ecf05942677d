package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
)

// experiment is one of the book's runs: 30 epochs at batch 10, η Eta,
// with gputrain's Flags beyond the shared ones (chapter 3's settings).
// Book is what the book reports; Target, when not 0, the best epoch the
// issue set for gputrain.
type experiment struct {
	Chapter int
	Sizes   cli.IntList
	Eta     float64
	Flags   []string
	Book    string
	Target  float64
}

// experiments are the chapter's runs. For chapter 1 the book quotes the peak
// of the best of three runs for the first two; the third is an exercise
// whose answer the book does not give.
var experiments = []experiment{
	{1, cli.IntList{784, 30, 10}, 3, nil, "95.42 % (peak, epoch 28, best of three runs)", 0},
	{1, cli.IntList{784, 100, 10}, 3, nil, "96.59 % (best of three runs)", 0},
	{1, cli.IntList{784, 10}, 3, nil, "none given (an exercise: \"What classification accuracy can you achieve?\")", 0},
	{3, cli.IntList{784, 30, 10}, 0.5, []string{"--cost", "cross-entropy"}, "95.49 %", 0.952},
	{3, cli.IntList{784, 100, 10}, 0.5, []string{"--cost", "cross-entropy"}, "96.82 %", 0.965},
	{3, cli.IntList{784, 100, 10}, 0.5, []string{"--cost", "cross-entropy", "--lambda", "5", "--weight-init", "scaled"}, "about 98 %", 0.978},
}

// ran reports whether r is a completed run of ex.
func (ex experiment) ran(r result) bool {
	return r.ok() && slices.Equal(r.args.Sizes, ex.Sizes) && r.args.Eta == ex.Eta && slices.Equal(r.extra, ex.Flags)
}

// peakEpoch returns the best accuracy and its (first) epoch; -1, -1 for none.
func peakEpoch(acc []float64) (float64, int) {
	if len(acc) == 0 {
		return -1, -1
	}
	at := slices.Index(acc, slices.Max(acc))
	return acc[at], at
}

func runReproduce(args []string, stdout, stderr io.Writer) error {
	b := &bench{rounds: 1, log: stderr}
	fs := cli.NewFlags("gputrain-bench reproduce")
	b.register(fs, "the markdown file whose reproduce sections are rewritten")
	o := reproduceOpts{seeds: cli.IntList{1, 2, 3}, chapters: cli.IntList{1, 3}}
	fs.IntVar(&o.epochs, "epochs", 30, "epochs per run")
	fs.Var(&o.seeds, "seeds", "seeds of gputrain's float32 runs (the book took the best of three)")
	fs.BoolVar(&o.f64, "float64", true, "also run gputrain in float64 (first seed)")
	fs.BoolVar(&o.book, "book", true, "also run the book's algorithm in float64 (first seed) when numpy is there: network.py's port, network2's in batched numpy")
	fs.IntVar(&b.parallel, "jobs", 2, "runs at a time (accuracy does not depend on timing)")
	fs.Var(&o.chapters, "chapters", "the book's chapters whose runs to make: 1 (network.py), 3 (network2.py)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	ch1, ch3 := slices.Contains(o.chapters, 1), slices.Contains(o.chapters, 3)
	switch {
	case o.epochs < 1 || len(o.seeds) == 0 || b.parallel < 1:
		return cli.Usagef("--epochs, --seeds and --jobs need at least one")
	case !ch1 && !ch3:
		return cli.Usagef("--chapters %s: want 1, 3 or both", o.chapters.String())
	}
	if err := b.check(); err != nil {
		return err
	}
	results := b.run(o.settings(b))
	note := ""
	for _, r := range results {
		if r.err != nil {
			return r.err
		} else if r.missing != "" {
			note = "\nThe book's algorithm (numpy) was skipped: " + r.missing + ".\n"
		}
	}
	var sections []string
	var all string
	if ch1 {
		body := reproduceMarkdown(results, o.seeds, o.epochs) + note
		sections, all = append(sections, "reproduce", body), all+body
	}
	if ch3 {
		body := chapter3Markdown(results, o.seeds, o.epochs) + note
		sections, all = append(sections, "reproduce-ch3", body), all+body
	}
	return b.write(stdout, all, sections...)
}

// reproduceOpts are reproduce's own flags.
type reproduceOpts struct {
	epochs          int
	seeds, chapters cli.IntList
	f64, book       bool
}

// settings are the runs of the chosen chapters: gputrain in float32 for
// every seed, and for the first gputrain in float64 and the book's
// algorithm in float64: network.py for chapter 1, network2.py's in
// batched numpy for chapter 3. network.py's runs go first, so that the
// pool does not end on one long straggler, with one BLAS thread each:
// per-sample products are too small to split, and the other core runs
// the run beside it.
func (o reproduceOpts) settings(b *bench) []setting {
	var slow, fast []setting
	add := func(ex experiment, id, dtype string, seed int) {
		a := trainflags.Peer{Config: train.Book(), Data: b.data}
		a.Sizes, a.Epochs, a.Eta, a.Seed = ex.Sizes, o.epochs, ex.Eta, uint64(seed)
		a.Dtype, _ = graph.ParseDtype(dtype) // one of the two names
		s := setting{prog: b.program(id), args: a, extra: ex.Flags,
			label: fmt.Sprintf("%s [%s] η %g %s %s seed %d", id, cli.Ints(a.Sizes), ex.Eta, strings.Join(ex.Flags, " "), dtype, seed)}
		if id == "network.py" {
			s.env = append(os.Environ(), "OPENBLAS_NUM_THREADS=1")
			slow = append(slow, s)
		} else {
			fast = append(fast, s)
		}
	}
	for _, ex := range experiments {
		if !slices.Contains(o.chapters, ex.Chapter) {
			continue
		}
		for _, seed := range o.seeds {
			add(ex, "gputrain", "float32", seed)
		}
		if o.f64 {
			add(ex, "gputrain", "float64", o.seeds[0])
		}
		if o.book {
			add(ex, map[int]string{1: "network.py", 3: "batched-numpy"}[ex.Chapter], "float64", o.seeds[0])
		}
	}
	return append(slow, fast...)
}

// chapter3Markdown is the chapter-3 table: each run's best epoch on the
// test set per seed, the best of them, the book's figure and the target.
func chapter3Markdown(runs []result, seeds cli.IntList, epochs int) string {
	var rows [][]string
	for _, ex := range chapter(3) {
		cells, best := ex.peaks(runs)
		met := map[bool]string{true: "yes", false: "no"}[best >= ex.Target]
		rows = append(rows, []string{"gputrain train --sizes " + ex.Sizes.String() + fmt.Sprintf(" --eta %g ", ex.Eta) + strings.Join(ex.Flags, " "),
			ex.Book, strings.Join(cells["gputrain float32"], ", "), pct(best), "≥ " + pct(ex.Target), met,
			cmp.Or(strings.Join(cells["gputrain float64"], ", "), "—"), cmp.Or(strings.Join(cells["batched-numpy float64"], ", "), "—")})
	}
	return fmt.Sprintf("Chapter 3's runs (network2.py's settings): %d epochs, mini-batch 10, the full 50,000 training images, "+
		"accuracy on the 10,000 test images after every epoch; gputrain float32 with seeds %s, and with seed %d gputrain float64 and "+
		"network2.py's algorithm in batched numpy (float64, its own draw of the initial network and shuffles). "+
		"The target is the issue's for the best epoch of gputrain float32.\n\n",
		epochs, seeds.String(), seeds[0]) +
		table([]string{"run", "book", "gputrain float32, best epoch per seed", "best of those", "target", "met", "gputrain float64", "network2 (numpy) float64"},
			"llrrrlrr", rows)
}

func pct(a float64) string { return fmt.Sprintf("%.2f", 100*a) }

// reproduceMarkdown is chapter 1's tables: each run's peak against the book's,
// then the accuracy per epoch of the first seed of every program and dtype.
func reproduceMarkdown(runs []result, seeds cli.IntList, epochs int) string {
	var peaks [][]string
	for _, ex := range chapter(1) {
		cells, best := ex.peaks(runs)
		peaks = append(peaks, []string{"[" + ex.Sizes.String() + "]", ex.Book, strings.Join(cells["gputrain float32"], ", "), pct(best),
			cmp.Or(strings.Join(cells["gputrain float64"], ", "), "—"), cmp.Or(strings.Join(cells["network.py float64"], ", "), "—")})
	}
	header := []string{"epoch"}
	var cols [][]float64
	for _, ex := range chapter(1) {
		for _, kind := range []string{"gputrain float32", "gputrain float64", "network.py float64"} {
			for _, r := range runs {
				if ex.ran(r) && r.args.Seed == uint64(seeds[0]) && r.prog.id+" "+r.args.Dtype.String() == kind {
					header = append(header, fmt.Sprintf("[%s] %s", ex.Sizes.String(), kind))
					cols = append(cols, r.runs[0].accuracies())
				}
			}
		}
	}
	var rows [][]string
	for ep := range epochs {
		row := []string{strconv.Itoa(ep)}
		for _, c := range cols {
			if row = append(row, "—"); ep < len(c) {
				row[len(row)-1] = pct(c[ep])
			}
		}
		rows = append(rows, row)
	}
	return fmt.Sprintf("%d epochs, mini-batch 10, η 3.0, the full 50,000 training images, accuracy on the 10,000 test images after every epoch. "+
		"gputrain runs in float32 with seeds %s (the book reports the best of three runs) and in float64 with seed %d; "+
		"the book's network.py (its Python 3 port here, float64) with seed %d. Each seed draws its own initial network.\n\n",
		epochs, seeds.String(), seeds[0], seeds[0]) +
		"Peak test accuracy (%) of each run, against the book:\n\n" +
		table([]string{"sizes", "book", "gputrain float32, seeds " + seeds.String(), "best of those", "gputrain float64", "network.py float64"},
			"llrrrr", peaks) +
		fmt.Sprintf("\nTest accuracy (%%) per epoch, seed %d:\n\n", seeds[0]) + table(header, strings.Repeat("r", len(header)), rows)
}

// peaks is the peak test accuracy and its epoch of each completed run of
// ex, by program and dtype ("gputrain float32"), and the best of
// gputrain's float32 peaks (-1 for none).
func (ex experiment) peaks(runs []result) (cells map[string][]string, best float64) {
	cells, best = map[string][]string{}, -1
	for _, r := range runs {
		if ex.ran(r) {
			p, at := peakEpoch(r.runs[0].accuracies())
			kind := r.prog.id + " " + r.args.Dtype.String()
			cells[kind] = append(cells[kind], fmt.Sprintf("%s (epoch %d)", pct(p), at))
			if kind == "gputrain float32" {
				best = max(best, p)
			}
		}
	}
	return cells, best
}

// chapter is the experiments of the book's chapter n.
func chapter(n int) []experiment {
	return slices.DeleteFunc(slices.Clone(experiments), func(ex experiment) bool { return ex.Chapter != n })
}
