package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/gputrain/gputrain/cmd/internal/cli"
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

// reproRun is one training run of the reproduction.
type reproRun struct {
	Exp     int    // index into bookExperiments
	Program string // "gputrain" or "network.py"
	Dtype   string
	Seed    uint64
	Acc     []float64 // test accuracy per epoch, in [0,1]
	Err     error
}

// peakEpoch returns the best accuracy and its epoch.
func peakEpoch(acc []float64) (float64, int) {
	best, at := -1.0, -1
	for i, a := range acc {
		if a > best {
			best, at = a, i
		}
	}
	return best, at
}

func runReproduce(args []string, stdout, stderr io.Writer) error {
	var e env
	fs := cli.NewFlags("gputrain-bench reproduce")
	fs.StringVar(&e.gputrain, "gputrain", "bin/gputrain", "the gputrain binary")
	fs.StringVar(&e.python, "python", "/usr/bin/python3", "the Python with numpy")
	fs.StringVar(&e.scripts, "scripts", "cmd/gputrain-bench/peers", "directory of the Python peers")
	data := fs.String("data", "data/mnist", "directory of the MNIST files")
	epochs := fs.Int("epochs", 30, "epochs per run")
	seeds := cli.IntList{1, 2, 3}
	fs.Var(&seeds, "seeds", "seeds of gputrain's float32 runs (the book took the best of three)")
	f64 := fs.Bool("float64", true, "also run gputrain in float64 (first seed)")
	book := fs.Bool("book", true, "also run the book's network.py port (float64, first seed) when numpy is there")
	jobs := fs.Int("jobs", 2, "runs at a time (accuracy does not depend on timing)")
	out := fs.String("out", "BENCHMARKS.md", "the markdown file whose reproduce section is rewritten")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *epochs < 1 || len(seeds) == 0 || *jobs < 1 {
		return cli.Usagef("--epochs, --seeds and --jobs need at least one")
	}
	if _, err := os.Stat(e.gputrain); err != nil {
		return cli.Usagef("--gputrain: %v (make build)", err)
	}
	var note []string
	if *book {
		if why := pythonModules(e.python)["numpy"]; why != "" {
			*book = false
			note = append(note, "The network.py column was skipped: "+why+".")
		}
	}
	byID := map[string]peer{}
	for _, p := range e.peers() {
		byID[p.id] = p
	}

	var runs []*reproRun
	for i := range bookExperiments {
		for _, s := range seeds {
			runs = append(runs, &reproRun{Exp: i, Program: "gputrain", Dtype: "float32", Seed: uint64(s)})
		}
		if *f64 {
			runs = append(runs, &reproRun{Exp: i, Program: "gputrain", Dtype: "float64", Seed: uint64(seeds[0])})
		}
		if *book {
			runs = append(runs, &reproRun{Exp: i, Program: "network.py", Dtype: "float64", Seed: uint64(seeds[0])})
		}
	}
	// Slow runs first, so that the pool does not end on one long straggler.
	for i, r := range runs {
		if r.Program == "network.py" {
			copy(runs[1:i+1], runs[:i])
			runs[0] = r
		}
	}
	ctx := context.Background()
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	var logMu sync.Mutex
	for _, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ex := bookExperiments[r.Exp]
			a := trainArgs{Sizes: ex.Sizes, Epochs: *epochs, BatchSize: 10, Eta: 3, Data: *data, Seed: r.Seed, Eval: "test"}
			label := fmt.Sprintf("%s %s %s seed %d", r.Program, ex.Sizes.String(), r.Dtype, r.Seed)
			var env []string
			if r.Program == "network.py" {
				// Per-sample products are too small to split; one BLAS
				// thread keeps the other core for the run beside it.
				env = append(os.Environ(), "OPENBLAS_NUM_THREADS=1")
			}
			res, err := runPeer(ctx, byID[r.Program].argv(a, r.Dtype), env, &lockedWriter{w: stderr, mu: &logMu}, label)
			r.Err = err
			for _, ep := range res.Epochs {
				if ep.Total > 0 {
					r.Acc = append(r.Acc, float64(ep.Correct)/float64(ep.Total))
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.Err != nil {
			return r.Err
		}
	}
	body := reproduceMarkdown(runs, seeds, *epochs, note)
	fmt.Fprint(stdout, body)
	if *out == "" {
		return nil
	}
	return updateSection(*out, "reproduce", body)
}

// lockedWriter serialises the progress lines of runs going side by side.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func pct(a float64) string { return fmt.Sprintf("%.2f", 100*a) }

func reproduceMarkdown(runs []*reproRun, seeds cli.IntList, epochs int, note []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d epochs, mini-batch 10, η 3.0, the full 50,000 training images, accuracy on the 10,000 test images after every epoch. "+
		"gputrain runs in float32 with seeds %s (the book reports the best of three runs) and in float64 with seed %d; "+
		"the book's network.py (its Python 3 port here, float64) with seed %d. Each seed draws its own initial network.\n\n",
		epochs, seeds.String(), seeds[0], seeds[0])
	// Summary: the peak of each run against the book.
	var rows [][]string
	for i, ex := range bookExperiments {
		var f32 []string
		bestOf := -1.0
		row := []string{"[" + ex.Sizes.String() + "]", ex.Book}
		var f64, py string = "—", "—"
		for _, r := range runs {
			if r.Exp != i || len(r.Acc) == 0 {
				continue
			}
			p, at := peakEpoch(r.Acc)
			cell := fmt.Sprintf("%s (epoch %d)", pct(p), at)
			switch {
			case r.Program == "gputrain" && r.Dtype == "float32":
				f32 = append(f32, cell)
				bestOf = max(bestOf, p)
			case r.Program == "gputrain":
				f64 = cell
			default:
				py = cell
			}
		}
		row = append(row, strings.Join(f32, ", "), pct(bestOf), f64, py)
		rows = append(rows, row)
	}
	b.WriteString("Peak test accuracy (%) of each run, against the book:\n\n")
	b.WriteString(table([]string{"sizes", "book", "gputrain float32, seeds " + seeds.String(), "best of those", "gputrain float64", "network.py float64"},
		"llrrrr", rows))

	// Per epoch: the first seed of every program and dtype.
	type col struct {
		name string
		acc  []float64
	}
	var cols []col
	for i, ex := range bookExperiments {
		for _, kind := range [][2]string{{"gputrain", "float32"}, {"gputrain", "float64"}, {"network.py", "float64"}} {
			for _, r := range runs {
				if r.Exp == i && r.Seed == uint64(seeds[0]) && r.Program == kind[0] && r.Dtype == kind[1] {
					cols = append(cols, col{fmt.Sprintf("[%s] %s %s", ex.Sizes.String(), r.Program, r.Dtype), r.Acc})
				}
			}
		}
	}
	header := []string{"epoch"}
	align := "r"
	for _, c := range cols {
		header = append(header, c.name)
		align += "r"
	}
	rows = nil
	for ep := 0; ep < epochs; ep++ {
		row := []string{strconv.Itoa(ep)}
		for _, c := range cols {
			if ep < len(c.acc) {
				row = append(row, pct(c.acc[ep]))
			} else {
				row = append(row, "—")
			}
		}
		rows = append(rows, row)
	}
	fmt.Fprintf(&b, "\nTest accuracy (%%) per epoch, seed %d:\n\n", seeds[0])
	b.WriteString(table(header, align, rows))
	for _, n := range note {
		b.WriteString("\n" + n + "\n")
	}
	return b.String()
}
