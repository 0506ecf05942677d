package main

import (
	"fmt"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gputrain/gputrain/graph"
)

// curveColors: gputrain first, then the peers, then the floor in black.
var curveColors = []color.RGBA{
	{R: 30, G: 90, B: 200, A: 255},
	{R: 220, G: 120, B: 20, A: 255},
	{R: 40, G: 160, B: 70, A: 255},
	{R: 190, G: 40, B: 40, A: 255},
	{R: 130, G: 70, B: 170, A: 255},
}

// writeCurvePlot draws seconds per epoch against the curve's variable, on
// log-log axes (sizes and times span three decades), one line per program
// and the arithmetic floor, as a PNG written atomically.
func writeCurvePlot(path string, c curve, programs []curveProgram, timings map[string]map[curvePoint]curveTiming, peak float64) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("seconds per 50,000-image epoch against %s (float32)", c.Title)
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = "seconds per epoch"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	// Ticks at the measured sizes, which are not all powers of ten.
	var xt []plot.Tick
	for _, pt := range c.Points {
		xt = append(xt, plot.Tick{Value: float64(c.X(pt)), Label: strconv.Itoa(c.X(pt))})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = float64(c.X(c.Points[0]))/1.3, float64(c.X(c.Points[len(c.Points)-1]))*1.3
	// The legend goes in the empty upper corner: left when the times
	// rise with x, right when they fall.
	p.Legend.Top, p.Legend.Left = true, !falling(c, programs, timings)
	p.Add(plotter.NewGrid())

	lo, hi := 0.0, 0.0
	span := func(y float64) {
		if lo == 0 || y < lo {
			lo = y
		}
		if y > hi {
			hi = y
		}
	}
	for i, prog := range programs {
		var xys plotter.XYs
		for _, pt := range c.Points {
			if t := timings[prog.id][pt]; t.OK && t.Median > 0 {
				xys = append(xys, plotter.XY{X: float64(c.X(pt)), Y: t.Median})
				span(t.Median)
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		col := curveColors[i%len(curveColors)]
		line.Color, points.Color = col, col
		line.Width = vg.Points(2)
		if i > 0 {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			line.Width = vg.Points(1.5)
		}
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(prog.name, line, points)
	}
	var floor plotter.XYs
	for _, pt := range c.Points {
		f := epochFLOPs(pt.sizes(), fullEpoch, pt.Batch) / peak
		floor = append(floor, plotter.XY{X: float64(c.X(pt)), Y: f})
		span(f)
	}
	fl, err := plotter.NewLine(floor)
	if err != nil {
		return err
	}
	fl.Color = color.Black
	fl.Width = vg.Points(1.5)
	fl.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	p.Add(fl)
	p.Legend.Add(fmt.Sprintf("arithmetic floor (FLOPs / %.0f GFLOP/s)", peak/1e9), fl)
	// Whole decades, with room above the highest line for the legend.
	p.Y.Min, p.Y.Max = lo/2, hi*8

	cv := vgimg.New(8*vg.Inch, 5.5*vg.Inch)
	p.Draw(draw.New(cv))
	return graph.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: cv}.WriteTo(w)
		return err
	})
}

// falling reports whether gputrain's time is lower at the curve's last
// point than at its first.
func falling(c curve, programs []curveProgram, timings map[string]map[curvePoint]curveTiming) bool {
	if len(programs) == 0 || len(c.Points) < 2 {
		return false
	}
	t := timings[programs[0].id]
	first, last := t[c.Points[0]], t[c.Points[len(c.Points)-1]]
	return first.OK && last.OK && last.Median < first.Median
}
