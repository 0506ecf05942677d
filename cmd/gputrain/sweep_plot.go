package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gputrain/gputrain/internal/safefile"
	"github.com/gputrain/gputrain/sweep"
)

// maxLegend bounds the legend: past it the lines are drawn unlabelled,
// and the title says how many networks there are.
const maxLegend = 16

// writeSweepPlot draws chapter 3's figures from a sweep's lines: accuracy
// per epoch above the training cost per epoch, one line per network in
// both, labelled by the settings that differ across the sweep ("η 0.25,
// λ 5"). The file is replaced atomically.
func writeSweepPlot(path string, grid []sweep.Setting, lines []sweep.Epoch) error {
	c, err := sweepPlot(grid, lines)
	if err != nil {
		return fmt.Errorf("--plot %s: %w", path, err)
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

func sweepPlot(grid []sweep.Setting, lines []sweep.Epoch) (*vgimg.Canvas, error) {
	byNet := map[string][]sweep.Epoch{}
	for _, l := range lines {
		if l.Diverged == "" {
			byNet[l.Name()] = append(byNet[l.Name()], l)
		}
	}
	// The grid's order, whatever order the networks finished in, so that
	// a network keeps its colour from one redraw to the next.
	var order []string
	for _, s := range grid {
		if _, ok := byNet[s.Name()]; ok {
			order = append(order, s.Name())
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no epochs to plot")
	}
	var settings []sweep.Setting
	for _, name := range order {
		settings = append(settings, byNet[name][0].Setting)
	}
	label := labeller(settings)
	acc, cost := plot.New(), plot.New()
	acc.Add(plotter.NewGrid())
	cost.Add(plotter.NewGrid())
	hasAcc := false
	first, last := lines[0].Epoch, lines[0].Epoch
	for k, name := range order {
		var a, c plotter.XYs
		for _, l := range byNet[name] {
			first, last = min(first, l.Epoch), max(last, l.Epoch)
			y := l.EpochCost
			if l.TrainingCost != nil {
				y = *l.TrainingCost
			}
			c = append(c, plotter.XY{X: float64(l.Epoch), Y: y})
			if l.Total > 0 {
				a = append(a, plotter.XY{X: float64(l.Epoch), Y: 100 * float64(l.Correct) / float64(l.Total)})
			}
		}
		col := plotutil.Color(k)
		for _, panel := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{cost, c}, {acc, a}} {
			if len(panel.xys) == 0 {
				continue
			}
			line, points, err := linePoints(panel.xys, col)
			if err != nil {
				return nil, err
			}
			line.Dashes = plotutil.Dashes(k / 7) // colours repeat after seven
			panel.p.Add(line, points)
			if panel.p == acc {
				hasAcc = true
				if k < maxLegend && len(order) > 1 {
					acc.Legend.Add(label(settings[k]), line)
				}
			}
		}
	}
	for _, p := range []*plot.Plot{acc, cost} {
		p.X.Min, p.X.Max = float64(first)-0.5, float64(last)+0.5
		p.X.Tick.Marker = plot.TickerFunc(epochTicks)
		p.Y.Tick.Marker = labelledTicks{}
	}
	cost.X.Label.Text = "epoch"
	cost.Y.Label.Text = "training cost"
	acc.Y.Label.Text = "accuracy (%)"
	acc.Legend.Top, acc.Legend.Left = false, false
	title := fmt.Sprintf("sweep of %d networks: %s", len(order), label(sweep.Setting{}))
	if len(order) == 1 {
		title = "sweep of one network: " + label(sweep.Setting{})
	}
	if len(order) > maxLegend {
		title += fmt.Sprintf(" (legend: the first %d)", maxLegend)
	}
	plots := [][]*plot.Plot{{acc}, {cost}}
	if !hasAcc {
		plots = [][]*plot.Plot{{cost}}
	}
	plots[0][0].Title.Text = title
	c := vgimg.New(plotWidth, plotHeight)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, draw.New(c))
	for i, row := range plots {
		row[0].Draw(canvases[i][0])
	}
	return c, nil
}

// labeller returns a function naming a setting by the fields that differ
// across settings; given the zero Setting it names the fields that do not
// differ, with their common values (the plot's title).
func labeller(settings []sweep.Setting) func(sweep.Setting) string {
	fields := []struct {
		name string
		of   func(sweep.Setting) string
	}{
		{"", func(s sweep.Setting) string {
			if s.Layers != "" {
				return s.Layers
			}
			return sizesText(s.Sizes)
		}},
		{"mini-batch ", func(s sweep.Setting) string { return fmt.Sprint(s.BatchSize) }},
		{"η ", func(s sweep.Setting) string { return formatG(s.Eta) }},
		{"λ ", func(s sweep.Setting) string { return formatG(s.Lambda) }},
		{"seed ", func(s sweep.Setting) string { return fmt.Sprint(s.Seed) }},
		{"", func(s sweep.Setting) string { return s.Cost }},
		{"", func(s sweep.Setting) string { return s.Activation }},
		{"init ", func(s sweep.Setting) string { return s.WeightInit }},
	}
	varies := make([]bool, len(fields))
	for i, f := range fields {
		var seen []string
		for _, s := range settings {
			if v := f.of(s); !slices.Contains(seen, v) {
				seen = append(seen, v)
			}
		}
		varies[i] = len(seen) > 1
	}
	return func(s sweep.Setting) string {
		common := s.BatchSize == 0 // the zero Setting
		if common {
			s = settings[0]
		}
		var parts []string
		for i, f := range fields {
			if v := f.of(s); varies[i] != common && v != "" { // a network of layers has no activation or init
				parts = append(parts, f.name+v)
			}
		}
		return strings.Join(parts, ", ")
	}
}

func sizesText(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = fmt.Sprint(n)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func formatG(v float64) string { return fmt.Sprintf("%g", v) }
