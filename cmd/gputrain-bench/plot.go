package main

import (
	"cmp"
	"fmt"
	"github.com/gputrain/gputrain/internal/safefile"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

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
	for _, pt := range c.Points {
		xt = append(xt, plot.Tick{Value: float64(c.X(pt)), Label: strconv.Itoa(c.X(pt))})
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
	var floor plotter.XYs
	for _, pt := range c.Points {
		floor = append(floor, plotter.XY{X: float64(c.X(pt)), Y: epochFLOPs(pt.sizes(), fullEpoch, pt.Batch) / peak})
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
