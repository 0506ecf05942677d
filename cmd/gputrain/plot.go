package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
)

// The training plot's size: 768×576 pixels at vgimg's 96 dots per inch.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 6 * vg.Inch
)

// writeTrainingPlot draws accuracy (%) and training cost per epoch as a PNG,
// one panel above the other, sharing the epoch axis; without evaluation
// results (--eval none) the cost alone. train calls it after every epoch,
// so the file is replaced atomically: a viewer never sees half a PNG.
func writeTrainingPlot(path string, results []train.Result) error {
	c, err := trainingPlot(results)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return graph.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

func trainingPlot(results []train.Result) (*vgimg.Canvas, error) {
	if len(results) == 0 {
		return nil, fmt.Errorf("no epochs to plot")
	}
	var acc, cost plotter.XYs
	for _, r := range results {
		cost = append(cost, plotter.XY{X: float64(r.Epoch), Y: r.Cost})
		if r.Total > 0 {
			acc = append(acc, plotter.XY{X: float64(r.Epoch), Y: 100 * r.Accuracy()})
		}
	}
	first, last := results[0].Epoch, results[len(results)-1].Epoch

	costPlot, err := panel(cost, color.RGBA{R: 200, G: 60, B: 30, A: 255}, first, last)
	if err != nil {
		return nil, err
	}
	costPlot.X.Label.Text = "epoch"
	costPlot.Y.Label.Text = "mean training cost"
	plots := [][]*plot.Plot{{costPlot}}
	title := fmt.Sprintf("gputrain: training cost after epoch %d: %.4f", last, results[len(results)-1].Cost)
	if len(acc) > 0 {
		accPlot, err := panel(acc, color.RGBA{R: 30, G: 90, B: 200, A: 255}, first, last)
		if err != nil {
			return nil, err
		}
		accPlot.Y.Label.Text = "accuracy (%)"
		best := results[0]
		for _, r := range results {
			if r.Total > 0 && (best.Total == 0 || r.Accuracy() > best.Accuracy()) {
				best = r
			}
		}
		end := results[len(results)-1]
		if end.Total > 0 {
			title = fmt.Sprintf("gputrain: epoch %d: %d / %d correct (%.2f%%)", end.Epoch, end.Correct, end.Total, 100*end.Accuracy())
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

// panel is a line with points over epochs first..last, with whole-epoch ticks.
func panel(xys plotter.XYs, col color.Color, first, last int) (*plot.Plot, error) {
	p := plot.New()
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, err
	}
	line.Color = col
	line.Width = vg.Points(1.5)
	points.Color = col
	points.Shape = draw.CircleGlyph{}
	points.Radius = vg.Points(2.5)
	p.Add(plotter.NewGrid(), line, points)
	// Both panels span the same epochs, so that they line up; a single
	// epoch gets room on either side instead of a zero-width axis.
	p.X.Min, p.X.Max = float64(first)-0.5, float64(last)+0.5
	if last-first >= 4 {
		p.X.Min, p.X.Max = float64(first), float64(last)
	}
	p.X.Tick.Marker = plot.TickerFunc(epochTicks)
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
