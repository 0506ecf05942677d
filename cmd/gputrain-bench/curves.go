package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
)

// epochFLOPs counts the floating-point operations in the matrix products
// of one epoch of the book's algorithm over n images in mini-batches of
// batch, as network.py performs them. Per image and layer of in inputs and
// out outputs: forward, z = w·a, 2·in·out; the weight gradient δ·aᵀ summed
// into nabla_w, 2·in·out; the δ of the layer below, wᵀ·δ, 2·in·out, for
// every layer but the first (backprop stops at the input). Per mini-batch,
// the update w − (η/m)·nabla_w, 2·in·out. Bias terms and element-wise work
// (σ, σ', the cost) are O(out) per layer and left out: at these sizes they
// are under 2% of the count.
func epochFLOPs(sizes []int, n, batch int) float64 {
	var perImage, perStep float64
	for l := 0; l+1 < len(sizes); l++ {
		w := float64(sizes[l]) * float64(sizes[l+1])
		perImage += 4 * w
		if l > 0 {
			perImage += 2 * w
		}
		perStep += 2 * w
	}
	steps := (n + batch - 1) / batch
	return float64(n)*perImage + float64(steps)*perStep
}

// fullEpoch is the training-set size that timings are scaled to.
const fullEpoch = 50000

// curvePoint is one configuration of a curve.
type curvePoint struct{ Hidden, Batch int }

func (c curvePoint) sizes() []int { return []int{784, c.Hidden, 10} }

// curve is one sweep: its points and which coordinate varies.
type curve struct {
	Title, XLabel string
	Points        []curvePoint
	X             func(curvePoint) int
}

// timings are each program's median seconds per full epoch at each point
// it ran, by program id and point; a point that failed is absent.
type timings map[timing]float64

type timing struct {
	id string
	pt curvePoint
}

// curvesRun is what the curves were measured with.
type curvesRun struct {
	programs      []program
	curves        []curve
	limit, epochs int
	peaks         []peakResult
	peak          peakResult
	skipped       string // the markdown list
	plots         string
	worstOthers   float64
}

func runCurves(args []string, stdout, stderr io.Writer) error {
	b := &bench{parallel: 1, log: stderr}
	c := curvesRun{}
	hiddens, batches := cli.IntList{30, 100, 300, 1000}, cli.IntList{1, 10, 100, 1000}
	fs := cli.NewFlags("gputrain-bench curves")
	b.register(fs)
	b.timingFlags(fs, " at each point, every point and program")
	fs.IntVar(&c.limit, "train-limit", 10000, "images trained on per epoch; times are scaled to 50,000")
	fs.IntVar(&c.epochs, "epochs", 3, "epochs per run (the median counts)")
	fs.Var(&hiddens, "hidden", "hidden sizes of the first curve (batch 10)")
	fs.Var(&batches, "batches", "batch sizes of the second curve (hidden 30)")
	peerIDs := fs.String("peers", "batched-numpy,torch-explicit,torch-autograd", "peers measured beside gputrain")
	fs.StringVar(&b.out, "out", "BENCHMARKS.md", "the markdown file whose curves section is rewritten")
	fs.StringVar(&c.plots, "plots", "docs", "directory of cost-hidden.png and cost-batch.png")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if c.limit < 1 || c.limit > fullEpoch || c.epochs < 1 || len(hiddens) == 0 || len(batches) == 0 ||
		slices.Min(hiddens) < 1 || slices.Min(batches) < 1 {
		return cli.Usagef("--train-limit must be 1..%d, --epochs at least 1, --hidden and --batches sizes of at least 1", fullEpoch)
	}
	ids, _, err := parseSpec(*peerIDs, []string{"batched-numpy", "torch-explicit", "torch-autograd"}, false)
	if err != nil {
		return cli.Usagef("--peers: %v", err)
	}
	var plots []string
	if c.plots != "" {
		plots = []string{filepath.Join(c.plots, "cost-hidden.png"), filepath.Join(c.plots, "cost-batch.png")}
	}
	if err := b.check(plots...); err != nil {
		return err
	}
	for _, id := range append([]string{"gputrain"}, ids...) {
		c.programs = append(c.programs, b.program(id))
	}
	c.curves = []curve{
		{Title: "hidden size", XLabel: "hidden neurons (batch 10)", X: func(c curvePoint) int { return c.Hidden }},
		{Title: "batch size", XLabel: "mini-batch size (784,30,10)", X: func(c curvePoint) int { return c.Batch }},
	}
	for _, h := range hiddens {
		c.curves[0].Points = append(c.curves[0].Points, curvePoint{h, 10})
	}
	for _, n := range batches {
		c.curves[1].Points = append(c.curves[1].Points, curvePoint{30, n})
	}
	python := b.python
	if b.availability()["numpy"] != "" {
		python = ""
	}
	if c.peaks, c.peak = measurePeaks(python, stderr); c.peak.Flops == 0 {
		return fmt.Errorf("no peak measured")
	}
	tm := c.measure(b)
	for i, path := range plots {
		if err := writeCurvePlot(path, c.curves[i], c.programs, tm, c.peak.Flops); err != nil {
			return err
		}
		fmt.Fprintf(b.log, "wrote %s\n", path)
	}
	body := c.markdown(tm, b.rounds)
	return b.write(stdout, body, "curves", body)
}

// measure runs every program at every point of both curves, the book's
// point (on both) once, and returns the median epochs scaled to a full one.
func (c *curvesRun) measure(b *bench) timings {
	var points []curvePoint
	for _, pt := range append(slices.Clone(c.curves[0].Points), c.curves[1].Points...) {
		if !slices.Contains(points, pt) {
			points = append(points, pt)
		}
	}
	var settings []setting
	for _, pt := range points {
		for _, p := range c.programs {
			a := trainflags.Peer{Flags: trainflags.Book(), Data: b.data}
			a.Sizes, a.Epochs, a.BatchSize, a.TrainLimit, a.Eval = pt.sizes(), c.epochs, pt.Batch, c.limit, "none"
			settings = append(settings, setting{prog: p, args: a, label: fmt.Sprintf("%s hidden=%d batch=%d", p.id, pt.Hidden, pt.Batch)})
		}
	}
	results := b.run(settings)
	c.skipped = skippedList(results)
	tm := timings{}
	c.worstOthers = -1
	for _, r := range results {
		if r.ok() {
			tm[timing{r.prog.id, curvePoint{r.args.Sizes[1], r.args.BatchSize}}], _ = r.perEpoch(fullEpoch)
			_, others := r.worst()
			c.worstOthers = max(c.worstOthers, others)
		}
	}
	return tm
}

func (c *curvesRun) markdown(tm timings, rounds int) string {
	var b strings.Builder
	runs := "one run per program and point"
	if rounds > 1 {
		runs = fmt.Sprintf("%d runs per program and point, in %d rounds over every point and program", rounds, rounds)
	}
	fmt.Fprintf(&b, "float32, η 3.0, %d epochs of the first %d training images per run, no evaluation, %s; "+
		"the median epoch is scaled to a full %d-image epoch (×%g). "+
		"The floor is the FLOPs of the book's algorithm per epoch (see below) over the best measured peak, %.0f GFLOP/s (%s, %d cores).\n\n",
		c.epochs, c.limit, runs, fullEpoch, float64(fullEpoch)/float64(c.limit), c.peak.Flops/1e9, c.peak.What, c.peak.Cores)
	for _, cv := range c.curves {
		header := []string{cv.XLabel, "GFLOP per epoch", "floor s"}
		for _, p := range c.programs {
			header = append(header, p.name+" s")
		}
		header = append(header, "gputrain ÷ floor", "gputrain µs per step")
		var rows [][]string
		for _, pt := range cv.Points {
			fl := epochFLOPs(pt.sizes(), fullEpoch, pt.Batch)
			row := []string{strconv.Itoa(cv.X(pt)), fmt.Sprintf("%.1f", fl/1e9), fmtSecs(fl / c.peak.Flops)}
			for _, p := range c.programs {
				row = append(row, tm.orDash(p.id, pt, fmtSecs))
			}
			steps := float64((fullEpoch + pt.Batch - 1) / pt.Batch)
			row = append(row,
				tm.orDash("gputrain", pt, func(s float64) string { return fmt.Sprintf("%.1f×", s/(fl/c.peak.Flops)) }),
				tm.orDash("gputrain", pt, func(s float64) string { return fmt.Sprintf("%.1f", 1e6*s/steps) }))
			rows = append(rows, row)
		}
		fmt.Fprintf(&b, "Seconds per 50,000-image epoch against %s:\n\n", cv.Title)
		b.WriteString(table(header, strings.Repeat("r", len(header)), rows))
		b.WriteString("\n")
	}
	if c.worstOthers >= 0 {
		fmt.Fprintf(&b, "Other processes took at most %s of the CPU during any of these runs.\n\n", fmtShare(c.worstOthers))
	}
	if c.plots != "" {
		d := filepath.ToSlash(c.plots)
		fmt.Fprintf(&b, "![seconds per epoch against hidden size](%s/cost-hidden.png)\n![seconds per epoch against batch size](%s/cost-batch.png)\n\n", d, d)
	}
	b.WriteString("Measured peak of this CPU (best single call of a large float32 product):\n\n")
	b.WriteString(peaksMarkdown(c.peaks))
	b.WriteString(c.skipped)
	return b.String()
}

// orDash formats a program's time at a point, or a dash where there is none.
func (tm timings) orDash(id string, pt curvePoint, f func(float64) string) string {
	if s, ok := tm[timing{id, pt}]; ok {
		return f(s)
	}
	return "—"
}
