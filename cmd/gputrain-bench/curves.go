package main

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
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
	b.register(fs, "the markdown file whose curves section is rewritten")
	b.timingFlags(fs, " at each point, every point and program")
	fs.IntVar(&c.limit, "train-limit", 10000, "images trained on per epoch; times are scaled to 50,000")
	fs.IntVar(&c.epochs, "epochs", 3, "epochs per run (the median counts)")
	fs.Var(&hiddens, "hidden", "hidden sizes of the first curve (batch 10)")
	fs.Var(&batches, "batches", "batch sizes of the second curve (hidden 30)")
	peerIDs := fs.String("peers", "batched-numpy,torch-explicit,torch-autograd", "peers measured beside gputrain")
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
	if c.peaks, c.peak = measurePeaks(b.python, stderr); c.peak.Flops == 0 {
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
	var settings []setting
	points := slices.Concat(c.curves[0].Points, c.curves[1].Points)
	for i, pt := range points {
		if slices.Index(points, pt) < i {
			continue // the book's point, on both curves, runs once
		}
		for _, p := range c.programs {
			a := trainflags.Peer{Config: train.Book(), Data: b.data}
			a.Sizes, a.Epochs, a.BatchSize, a.TrainLimit, a.Eval = pt.sizes(), c.epochs, pt.Batch, c.limit, "none"
			settings = append(settings, setting{prog: p, args: a, label: fmt.Sprintf("%s hidden=%d batch=%d", p.id, pt.Hidden, pt.Batch)})
		}
	}
	results := b.run(settings)
	tm := timings{}
	c.skipped, c.worstOthers = skippedList(results), -1
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
		fmt.Fprintf(&b, "Seconds per 50,000-image epoch against %s:\n\n%s\n", cv.Title,
			table(header, strings.Repeat("r", len(header)), rows))
	}
	if c.worstOthers >= 0 {
		fmt.Fprintf(&b, "Other processes took at most %s of the CPU during any of these runs.\n\n", fmtShare(c.worstOthers))
	}
	if d := filepath.ToSlash(c.plots); d != "" {
		fmt.Fprintf(&b, "![seconds per epoch against hidden size](%s/cost-hidden.png)\n![seconds per epoch against batch size](%s/cost-batch.png)\n\n", d, d)
	}
	var rows [][]string
	for _, r := range c.peaks {
		rows = append(rows, []string{r.What, strconv.Itoa(r.Cores), fmt.Sprintf("%.1f", r.Flops/1e9)})
	}
	return b.String() + "Measured peak of this CPU (best single call of a large float32 product):\n\n" +
		table([]string{"float32 matrix product", "cores", "GFLOP/s (best call)"}, "lrr", rows) + c.skipped
}

// orDash formats a program's time at a point, or a dash where there is none.
func (tm timings) orDash(id string, pt curvePoint, f func(float64) string) string {
	if s, ok := tm[timing{id, pt}]; ok {
		return f(s)
	}
	return "—"
}

// curveColors: gputrain first, then the peers.
var curveColors = []color.RGBA{
	{R: 30, G: 90, B: 200, A: 255}, {R: 220, G: 120, B: 20, A: 255}, {R: 40, G: 160, B: 70, A: 255},
	{R: 190, G: 40, B: 40, A: 255}, {R: 130, G: 70, B: 170, A: 255},
}

// writeCurvePlot draws seconds per epoch against the curve's variable, on
// log-log axes (sizes and times span three decades), one line per program
// and the arithmetic floor in black, as a PNG written atomically.
func writeCurvePlot(path string, c curve, programs []program, tm timings, peak float64) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("seconds per 50,000-image epoch against %s (float32)", c.Title)
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, "seconds per epoch"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	// Ticks at the measured sizes, which are not all powers of ten.
	var xt []plot.Tick
	var floor plotter.XYs
	for _, pt := range c.Points {
		xt = append(xt, plot.Tick{Value: float64(c.X(pt)), Label: strconv.Itoa(c.X(pt))})
		floor = append(floor, plotter.XY{X: float64(c.X(pt)), Y: epochFLOPs(pt.sizes(), fullEpoch, pt.Batch) / peak})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = float64(c.X(c.Points[0]))/1.3, float64(c.X(c.Points[len(c.Points)-1]))*1.3
	// The legend goes in the upper corner where the times are lower:
	// left when they rise with x, right when they fall.
	p.Legend.Top, p.Legend.Left = true, tm[timing{"gputrain", c.Points[0]}] <= tm[timing{"gputrain", c.Points[len(c.Points)-1]}]
	p.Add(plotter.NewGrid())
	lo, hi := 0.0, 0.0
	addLine := func(xys plotter.XYs, label string, col color.Color, width float64, dashes ...vg.Length) error {
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color, points.Color, line.Width, line.Dashes = col, col, vg.Points(width), dashes
		points.Shape, points.Radius = draw.CircleGlyph{}, vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(label, line, points)
		for _, xy := range xys {
			lo, hi = min(cmp.Or(lo, xy.Y), xy.Y), max(hi, xy.Y)
		}
		return nil
	}
	for i, prog := range programs {
		var xys plotter.XYs
		for _, pt := range c.Points {
			if t, ok := tm[timing{prog.id, pt}]; ok && t > 0 {
				xys = append(xys, plotter.XY{X: float64(c.X(pt)), Y: t})
			}
		}
		width, dashes := 2.0, []vg.Length(nil)
		if i > 0 {
			width, dashes = 1.5, []vg.Length{vg.Points(6), vg.Points(3)}
		}
		if len(xys) > 0 {
			if err := addLine(xys, prog.name, curveColors[i%len(curveColors)], width, dashes...); err != nil {
				return err
			}
		}
	}
	if err := addLine(floor, fmt.Sprintf("arithmetic floor (FLOPs / %.0f GFLOP/s)", peak/1e9), color.Black, 1.5, vg.Points(2), vg.Points(3)); err != nil {
		return err
	}
	// Whole decades, with room above the highest line for the legend.
	p.Y.Min, p.Y.Max = lo/2, hi*8
	cv := vgimg.New(8*vg.Inch, 5.5*vg.Inch)
	p.Draw(draw.New(cv))
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: cv}.WriteTo(w)
		return err
	})
}
