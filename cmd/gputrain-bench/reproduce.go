package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
)

// experiment is one of the chapter's runs.
type experiment struct {
	Sizes cli.IntList
	Book  string // what the book reports for it
}

// bookExperiments are the chapter's runs at 30 epochs, batch 10, η 3.0.
// The book quotes the peak of the best of three runs for the first two;
// the third is an exercise whose answer the book does not give.
var bookExperiments = []experiment{
	{cli.IntList{784, 30, 10}, "95.42 % (peak, epoch 28, best of three runs)"},
	{cli.IntList{784, 100, 10}, "96.59 % (best of three runs)"},
	{cli.IntList{784, 10}, "none given (an exercise: \"What classification accuracy can you achieve?\")"},
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
	b.register(fs)
	epochs := fs.Int("epochs", 30, "epochs per run")
	seeds := cli.IntList{1, 2, 3}
	fs.Var(&seeds, "seeds", "seeds of gputrain's float32 runs (the book took the best of three)")
	f64 := fs.Bool("float64", true, "also run gputrain in float64 (first seed)")
	book := fs.Bool("book", true, "also run the book's network.py port (float64, first seed) when numpy is there")
	fs.IntVar(&b.parallel, "jobs", 2, "runs at a time (accuracy does not depend on timing)")
	fs.StringVar(&b.out, "out", "BENCHMARKS.md", "the markdown file whose reproduce section is rewritten")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *epochs < 1 || len(seeds) == 0 || b.parallel < 1 {
		return cli.Usagef("--epochs, --seeds and --jobs need at least one")
	}
	if err := b.check(); err != nil {
		return err
	}
	var settings []setting
	add := func(ex experiment, id, dtype string, seed int) {
		a := trainflags.Peer{Flags: trainflags.Book(), Data: b.data}
		a.Sizes, a.Epochs, a.Dtype, a.Seed = ex.Sizes, *epochs, dtype, uint64(seed)
		s := setting{prog: b.program(id), args: a, label: fmt.Sprintf("%s %s %s seed %d", id, a.Sizes.String(), dtype, seed)}
		if id != "network.py" {
			settings = append(settings, s)
			return
		}
		// Per-sample products are too small to split; one BLAS thread
		// keeps the other core for the run beside it. Slow runs go first,
		// so that the pool does not end on one long straggler.
		s.env = append(os.Environ(), "OPENBLAS_NUM_THREADS=1")
		settings = append([]setting{s}, settings...)
	}
	for _, ex := range bookExperiments {
		for _, s := range seeds {
			add(ex, "gputrain", "float32", s)
		}
		if *f64 {
			add(ex, "gputrain", "float64", seeds[0])
		}
		if *book {
			add(ex, "network.py", "float64", seeds[0])
		}
	}
	results := b.run(settings)
	note := ""
	for _, r := range results {
		if r.err != nil {
			return r.err
		} else if r.missing != "" {
			note = "\nThe network.py column was skipped: " + r.missing + ".\n"
		}
	}
	body := reproduceMarkdown(results, seeds, *epochs) + note
	return b.write(stdout, body, "reproduce", body)
}

func pct(a float64) string { return fmt.Sprintf("%.2f", 100*a) }

func reproduceMarkdown(runs []result, seeds cli.IntList, epochs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d epochs, mini-batch 10, η 3.0, the full 50,000 training images, accuracy on the 10,000 test images after every epoch. "+
		"gputrain runs in float32 with seeds %s (the book reports the best of three runs) and in float64 with seed %d; "+
		"the book's network.py (its Python 3 port here, float64) with seed %d. Each seed draws its own initial network.\n\n",
		epochs, seeds.String(), seeds[0], seeds[0])
	b.WriteString("Peak test accuracy (%) of each run, against the book:\n\n")
	b.WriteString(table([]string{"sizes", "book", "gputrain float32, seeds " + seeds.String(), "best of those", "gputrain float64", "network.py float64"},
		"llrrrr", peakRows(runs)))
	// Per epoch: the first seed of every program and dtype.
	header := []string{"epoch"}
	var cols [][]float64
	for _, ex := range bookExperiments {
		for _, kind := range [][2]string{{"gputrain", "float32"}, {"gputrain", "float64"}, {"network.py", "float64"}} {
			for _, r := range runs {
				if r.ok() && slices.Equal(r.args.Sizes, ex.Sizes) && r.args.Seed == uint64(seeds[0]) && r.prog.id == kind[0] && r.args.Dtype == kind[1] {
					header = append(header, fmt.Sprintf("[%s] %s %s", ex.Sizes.String(), kind[0], kind[1]))
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
	fmt.Fprintf(&b, "\nTest accuracy (%%) per epoch, seed %d:\n\n", seeds[0])
	b.WriteString(table(header, strings.Repeat("r", len(header)), rows))
	return b.String()
}

// peakRows is the summary: each run's peak against the book's.
func peakRows(runs []result) [][]string {
	var rows [][]string
	for _, ex := range bookExperiments {
		var f32 []string
		bestOf, f64, py := -1.0, "—", "—"
		for _, r := range runs {
			if !r.ok() || !slices.Equal(r.args.Sizes, ex.Sizes) {
				continue
			}
			p, at := peakEpoch(r.runs[0].accuracies())
			cell := fmt.Sprintf("%s (epoch %d)", pct(p), at)
			switch {
			case r.prog.id == "gputrain" && r.args.Dtype == "float32":
				f32 = append(f32, cell)
				bestOf = max(bestOf, p)
			case r.prog.id == "gputrain":
				f64 = cell
			default:
				py = cell
			}
		}
		rows = append(rows, []string{"[" + ex.Sizes.String() + "]", ex.Book, strings.Join(f32, ", "), pct(bestOf), f64, py})
	}
	return rows
}
