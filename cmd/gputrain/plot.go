package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/internal/safefile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// The training plot's size: 768×576 pixels at vgimg's 96 dots per inch.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 6 * vg.Inch
)

// plotInfo is what the training plot's title says about the run: the
// settings and the split evaluated.
type plotInfo struct {
	sizes     []int
	layers    string // --layers, in place of the sizes
	eta       float64
	batchSize int
	split     string          // test, validation or none
	cost      string          // the cost and λ, "quadratic cost" when empty
	best      *bestValidation // network3's report, marked on the accuracy line; nil for none
}

func (c *trainCmd) plotInfo(results []train.Result) plotInfo {
	spec := c.spec()
	cost := string(spec.Cost) + " cost"
	if spec.Lambda != 0 {
		cost += fmt.Sprintf(", λ = %g", spec.Lambda)
	}
	return plotInfo{sizes: c.Sizes, layers: c.Layers.String(), eta: c.Eta, batchSize: c.BatchSize, split: c.Eval, cost: cost, best: findBest(c.Eval, results, c.held)}
}

func (p plotInfo) costName() string {
	if p.cost == "" {
		return "quadratic cost"
	}
	return p.cost
}

// title is the plot's first line: "[784, 30, 10], η = 3, mini-batch 10,
// quadratic cost, evaluated on test".
func (p plotInfo) title() string {
	sizes := make([]string, len(p.sizes))
	for i, n := range p.sizes {
		sizes[i] = strconv.Itoa(n)
	}
	arch := "[" + strings.Join(sizes, ", ") + "]"
	if p.layers != "" {
		arch = p.layers
	}
	t := fmt.Sprintf("%s, η = %s, mini-batch %d, %s", arch,
		strconv.FormatFloat(p.eta, 'g', -1, 64), p.batchSize, p.costName())
	if p.split != "" && p.split != "none" {
		t += ", evaluated on " + p.split
	}
	return t
}

// plotEpoch redraws --plot after an epoch, with the evaluation cost of the
// network b holds now beside the training cost: network2.py's total cost
// (its own cost, quadratic or cross-entropy, plus the L2 term) measured by
// b, on its device and in its dtype. (The backends report the training
// cost as they train; this is what the same measure says about images the
// network does not learn from.)
func (c *trainCmd) plotEpoch(b train.Trainer, eval *mnist.Set, results []train.Result) error {
	if eval != nil {
		last := results[len(results)-1]
		cost := 0.0
		if last.Monitors != nil {
			cost = last.Monitors.EvalCost
		} else {
			var err error
			if cost, _, err = b.Monitor(eval); err != nil {
				return err
			}
		}
		if c.evalCosts == nil {
			c.evalCosts = map[int]float64{}
		}
		c.evalCosts[last.Epoch] = cost
	}
	return writeTrainingPlot(c.Plot, c.plotInfo(results), results, c.evalCosts)
}

// writeTrainingPlot draws accuracy (%) per epoch above the training cost
// and, where there is one for the epoch, the evaluation cost, sharing the
// epoch axis; without evaluation results (--eval none) the cost alone.
// train calls it after every epoch, so the file is replaced atomically: a
// viewer never sees half a PNG.
func writeTrainingPlot(path string, info plotInfo, results []train.Result, evalCosts map[int]float64) error {
	c, err := trainingPlot(info, results, evalCosts)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

// The lines' colours: accuracy blue, training cost red, evaluation cost
// green.
var (
	accuracyColor = color.RGBA{R: 30, G: 90, B: 200, A: 255}
	costColor     = color.RGBA{R: 200, G: 60, B: 30, A: 255}
	evalCostColor = color.RGBA{R: 30, G: 150, B: 60, A: 255}
	bestColor     = color.RGBA{R: 230, G: 140, B: 0, A: 255}
)

func trainingPlot(info plotInfo, results []train.Result, evalCosts map[int]float64) (*vgimg.Canvas, error) {
	if len(results) == 0 {
		return nil, fmt.Errorf("no epochs to plot")
	}
	var acc, trainAcc, cost, evalCost plotter.XYs
	for _, r := range results {
		cost = append(cost, plotter.XY{X: float64(r.Epoch), Y: r.Cost})
		if m := r.Monitors; m != nil {
			// --monitor: the training set's total cost after the epoch, and its accuracy.
			cost[len(cost)-1].Y = m.TrainingCost
			trainAcc = append(trainAcc, plotter.XY{X: float64(r.Epoch), Y: 100 * float64(m.TrainingCorrect) / float64(m.TrainingTotal)})
		}
		if r.Total > 0 {
			acc = append(acc, plotter.XY{X: float64(r.Epoch), Y: 100 * r.Accuracy()})
		}
		if ec, ok := evalCosts[r.Epoch]; ok {
			evalCost = append(evalCost, plotter.XY{X: float64(r.Epoch), Y: ec})
		}
	}
	first, last := results[0].Epoch, results[len(results)-1].Epoch

	costPlot, err := panel(cost, costColor, first, last)
	if err != nil {
		return nil, err
	}
	costPlot.X.Label.Text = "epoch"
	costPlot.Y.Label.Text = "mean " + info.costName()
	if len(evalCost) > 0 {
		line, points, err := linePoints(evalCost, evalCostColor)
		if err != nil {
			return nil, err
		}
		line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		costPlot.Add(line, points)
		trainLine, _, _ := linePoints(cost, costColor)
		costPlot.Legend.Add("training", trainLine)
		costPlot.Legend.Add("evaluation ("+info.split+")", line)
		costPlot.Legend.Top = true
		// The evaluation cost may lie outside the training cost's range.
		for _, xy := range evalCost {
			costPlot.Y.Min, costPlot.Y.Max = min(costPlot.Y.Min, xy.Y), max(costPlot.Y.Max, xy.Y)
		}
	}
	plots := [][]*plot.Plot{{costPlot}}
	title := info.title() + fmt.Sprintf("\nepoch %d: training cost %.4f", last, results[len(results)-1].Cost)
	if len(acc) > 0 {
		accPlot, err := panel(acc, accuracyColor, first, last)
		if err != nil {
			return nil, err
		}
		accPlot.Y.Label.Text = "accuracy on " + info.split + " (%)"
		if len(trainAcc) > 0 {
			line, points, err := linePoints(trainAcc, costColor)
			if err != nil {
				return nil, err
			}
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			accPlot.Add(line, points)
			evalLine, _, _ := linePoints(acc, accuracyColor)
			accPlot.Legend.Add("evaluation ("+info.split+")", evalLine)
			accPlot.Legend.Add("training", line)
			accPlot.Legend.Top, accPlot.Legend.Left = false, false
			accPlot.Y.Label.Text = "accuracy (%)"
			for _, xy := range trainAcc {
				accPlot.Y.Min, accPlot.Y.Max = min(accPlot.Y.Min, xy.Y), max(accPlot.Y.Max, xy.Y)
			}
		}
		if err := markBest(accPlot, info, acc); err != nil {
			return nil, err
		}
		best := results[0]
		for _, r := range results {
			if r.Total > 0 && (best.Total == 0 || r.Accuracy() > best.Accuracy()) {
				best = r
			}
		}
		end := results[len(results)-1]
		if end.Total > 0 {
			title = info.title() + fmt.Sprintf("\nepoch %d: %d / %d correct (%.2f%%)", end.Epoch, end.Correct, end.Total, 100*end.Accuracy())
			if best.Epoch != end.Epoch {
				title += fmt.Sprintf(", best %.2f%% in epoch %d", 100*best.Accuracy(), best.Epoch)
			}
		}
		plots = [][]*plot.Plot{{accPlot}, {costPlot}}
	}
	plots[0][0].Title.Text = title

	c := vgimg.New(plotWidth, plotHeight)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		row[0].Draw(canvases[i][0])
	}
	return c, nil
}

// markBest marks the epoch of best validation accuracy on the accuracy
// line acc with an orange dot, the test accuracy there in the legend.
func markBest(p *plot.Plot, info plotInfo, acc plotter.XYs) error {
	b := info.best
	if b == nil {
		return nil
	}
	for _, xy := range acc {
		if xy.X != float64(b.Epoch) {
			continue
		}
		dot, err := plotter.NewScatter(plotter.XYs{xy})
		if err != nil {
			return err
		}
		dot.Shape = draw.CircleGlyph{}
		dot.Color = bestColor
		dot.Radius = vg.Points(5)
		p.Add(dot)
		p.Legend.Add(fmt.Sprintf("best validation %.2f%% (epoch %d): test %.2f%%", 100*b.ValidationAccuracy(), b.Epoch, 100*b.TestAccuracy()), dot)
		p.Legend.Top, p.Legend.Left = false, false
	}
	return nil
}

// linePoints is a line through xys with a dot at each point.
func linePoints(xys plotter.XYs, col color.Color) (*plotter.Line, *plotter.Scatter, error) {
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, nil, err
	}
	line.Color = col
	line.Width = vg.Points(1.5)
	points.Color = col
	points.Shape = draw.CircleGlyph{}
	points.Radius = vg.Points(2.5)
	return line, points, nil
}

// panel is a line with points over epochs first..last, with whole-epoch ticks.
func panel(xys plotter.XYs, col color.Color, first, last int) (*plot.Plot, error) {
	p := plot.New()
	line, points, err := linePoints(xys, col)
	if err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid(), line, points)
	// Both panels span the same epochs, so that they line up; a single
	// epoch gets room on either side instead of a zero-width axis.
	p.X.Min, p.X.Max = float64(first)-0.5, float64(last)+0.5
	if last-first >= 4 {
		p.X.Min, p.X.Max = float64(first), float64(last)
	}
	p.X.Tick.Marker = plot.TickerFunc(epochTicks)
	p.Y.Tick.Marker = labelledTicks{}
	if p.Y.Min == p.Y.Max {
		// One value (or several equal ones): a range of ±5% around it, not
		// a zero-height axis, and no negative costs.
		pad := max(math.Abs(p.Y.Min)*0.05, 1e-3)
		p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
	}
	return p, nil
}

// epochTicks labels whole epochs only, every 1, 2, 5, 10, 20, 50... so
// that there are at most about ten labels.
func epochTicks(lo, hi float64) []plot.Tick {
	span := hi - lo
	step := 1.0
	for i := 0; span/step > 10; i++ {
		step *= []float64{2, 2.5, 2}[i%3] // 1, 2, 5, 10, 20, 50, ...
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return ticks
}

// labelledTicks are gonum's default ticks without the unlabelled minor
// ones: every tick drawn says its value.
type labelledTicks struct{}

func (labelledTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Label != "" {
			out = append(out, t)
		}
	}
	return out
}
