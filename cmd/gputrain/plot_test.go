package main

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// colourPixels counts the pixels close to the accuracy line's blue, the
// training cost's red and the evaluation cost's green.
func colourPixels(img image.Image) (blue, red, green int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case bl > 150 && r < 80 && g < 130:
				blue++
			case r > 150 && g < 100 && bl < 80:
				red++
			case g > 120 && r < 80 && bl < 100:
				green++
			}
		}
	}
	return blue, red, green
}

// TestTrainingPlotMarksBest: the epoch of best validation accuracy is
// marked in orange on the accuracy line, and nothing is without one.
func TestTrainingPlotMarksBest(t *testing.T) {
	t.Parallel()
	var rs []train.Result
	for e := range 6 {
		rs = append(rs, train.Result{Epoch: e, Correct: 9000 + 10*e, Total: 10000, Cost: 0.1})
	}
	dir := t.TempDir()
	for _, best := range []*bestValidation{nil, {Epoch: 3, ValidationCorrect: 9100, ValidationTotal: 10000, TestCorrect: 9030, TestTotal: 10000}} {
		path := filepath.Join(dir, fmt.Sprint(best != nil)+".png")
		if err := writeTrainingPlot(path, plotInfo{sizes: []int{784, 30, 10}, eta: 3, batchSize: 10, split: "test", best: best}, rs, nil); err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, path)
		orange := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if r>>8 > 200 && g>>8 > 110 && g>>8 < 170 && bl>>8 < 60 {
					orange++
				}
			}
		}
		if (orange >= 20) != (best != nil) {
			t.Errorf("best %+v: %d orange pixels", best, orange)
		}
	}
}

// TestTrainingPlot: the PNG has both panels when there is an accuracy to
// plot and the cost panel alone when there is not, any number of epochs.
func TestTrainingPlot(t *testing.T) {
	t.Parallel()
	results := func(n, total int) []train.Result {
		var rs []train.Result
		for e := range n {
			c := 9000 + 50*e
			rs = append(rs, train.Result{Epoch: e, Correct: c * total / 10000, Total: total, Cost: 0.1 / float64(e+1)})
		}
		return rs
	}
	evalCosts := func(from, to int) map[int]float64 {
		m := map[int]float64{}
		for e := from; e < to; e++ {
			m[e] = 0.12 / float64(e+1)
		}
		return m
	}
	cases := []struct {
		name      string
		results   []train.Result
		evalCosts map[int]float64
		accuracy  bool
	}{
		{"one epoch", results(1, 10000), evalCosts(0, 1), true},
		{"ten epochs", results(10, 10000), evalCosts(0, 10), true},
		{"sixty epochs", results(60, 10000), evalCosts(0, 60), true},
		{"no evaluation", results(5, 0), nil, false},
		{"resumed, evaluation cost since", results(8, 10000)[3:], evalCosts(5, 8), true},
		{"flat", []train.Result{{Epoch: 0, Correct: 5, Total: 10, Cost: 0.5}, {Epoch: 1, Correct: 5, Total: 10, Cost: 0.5}}, nil, true},
	}
	info := plotInfo{sizes: []int{784, 30, 10}, eta: 3, batchSize: 10, split: "test"}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".png")
			if err := writeTrainingPlot(path, info, c.results, c.evalCosts); err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, path)
			if img.Bounds().Dx() != 768 || img.Bounds().Dy() != 576 {
				t.Errorf("size %v, want 768×576", img.Bounds().Size())
			}
			blue, red, green := colourPixels(img)
			// one epoch is one dot of about 30 pixels
			if red < 15 || (blue >= 15) != c.accuracy || (green >= 15) != (c.evalCosts != nil) {
				t.Errorf("%d blue (accuracy), %d red (training cost), %d green (evaluation cost) pixels: want accuracy drawn %v, evaluation cost drawn %v",
					blue, red, green, c.accuracy, c.evalCosts != nil)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(cases) {
		t.Errorf("%d files in %s, want %d: temporary files left behind?", len(entries), dir, len(cases))
	}

	// A failed write leaves the previous plot untouched.
	path := filepath.Join(dir, "ten-epochs.png")
	before, _ := os.ReadFile(path)
	if err := writeTrainingPlot(path, info, nil, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("no results: %v, want an error naming %s", err, path)
	}
	if after, _ := os.ReadFile(path); !slices.Equal(before, after) {
		t.Error("a failed plot changed the previous file")
	}
	missing := filepath.Join(dir, "no-such-dir", "plot.png")
	if err := writeTrainingPlot(missing, info, results(2, 100), nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("unwritable: %v, want an error naming %s", err, missing)
	}
}

func TestEpochTicks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		lo, hi float64
		want   []string
	}{
		{-0.5, 0.5, []string{"0"}},
		{0, 9, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{3, 7, []string{"3", "4", "5", "6", "7"}},
		{0, 29, []string{"0", "5", "10", "15", "20", "25"}},
		{0, 59, []string{"0", "10", "20", "30", "40", "50"}},
		{0, 199, []string{"0", "20", "40", "60", "80", "100", "120", "140", "160", "180"}},
	}
	for _, c := range cases {
		var got []string
		for _, tk := range epochTicks(c.lo, c.hi) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("epochTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
}

// TestTrainPlotFlag: train --plot writes the plot of the run.
func TestTrainPlotFlag(t *testing.T) {
	t.Parallel()
	plot := filepath.Join(t.TempDir(), "train.png")
	trainModel(t, 2, "--plot", plot, "--train-limit", "5000")
	img := decodePNG(t, plot)
	if blue, red, green := colourPixels(img); blue < 50 || red < 50 || green < 50 {
		t.Errorf("%d blue, %d red and %d green pixels: want both panels and both costs", blue, red, green)
	}
}

func TestPlotTitle(t *testing.T) {
	t.Parallel()
	cases := []struct {
		info plotInfo
		want string
	}{
		{plotInfo{[]int{784, 30, 10}, "", 3, 10, "test", "", nil}, "[784, 30, 10], η = 3, mini-batch 10, quadratic cost, evaluated on test"},
		{plotInfo{[]int{784, 100, 30, 10}, "", 0.5, 100, "validation", "", nil}, "[784, 100, 30, 10], η = 0.5, mini-batch 100, quadratic cost, evaluated on validation"},
		{plotInfo{[]int{784, 10}, "", 1e-3, 1, "none", "", nil}, "[784, 10], η = 0.001, mini-batch 1, quadratic cost"},
		{plotInfo{nil, "conv:20x5x5,pool:2,fc:100,softmax:10", 0.1, 10, "test", "log-likelihood cost", nil}, "conv:20x5x5,pool:2,fc:100,softmax:10, η = 0.1, mini-batch 10, log-likelihood cost, evaluated on test"},
	}
	for _, c := range cases {
		if got := c.info.title(); got != c.want {
			t.Errorf("title %q, want %q", got, c.want)
		}
	}
}

// TestLabelledTicks: every tick on the cost axis has a label.
func TestLabelledTicks(t *testing.T) {
	t.Parallel()
	for _, r := range [][2]float64{{0, 0.1}, {0.0071, 0.0423}, {0.5, 0.5001}, {0, 100}} {
		ticks := labelledTicks{}.Ticks(r[0], r[1])
		if len(ticks) < 2 {
			t.Errorf("%v: %d ticks", r, len(ticks))
		}
		for _, tk := range ticks {
			if tk.Label == "" {
				t.Errorf("%v: tick at %v has no label", r, tk.Value)
			}
		}
	}
}

// TestPlotEvaluationCost: the evaluation cost --plot draws beside the
// training cost, measured by the trainer on its device, is the book's
// ½‖y−a‖² of its feedforward, averaged over the images.
func TestPlotEvaluationCost(t *testing.T) {
	t.Parallel()
	_, net := randomModel(t)
	set := &mnist.Set{Images: make([]uint8, 3*784), Labels: []uint8{7, 0, 3}}
	for i := range set.Images {
		set.Images[i] = uint8(i * 31)
	}
	var want float64
	for i, label := range set.Labels {
		a := forward(net, set.Image(i))
		for d, v := range a {
			y := 0.0
			if d == int(label) {
				y = 1
			}
			want += (y - v) * (y - v) / 2 / 3
		}
	}
	b, err := cpu.Open(train.Config{Spec: net.Spec, BatchSize: 3, Eta: 1, Dtype: graph.Float32}, set)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetNetwork(net); err != nil {
		t.Fatal(err)
	}
	c := &trainCmd{trainFlags: trainFlags{Plot: filepath.Join(t.TempDir(), "plot.png")}}
	c.Sizes = net.Sizes
	if err := c.plotEpoch(b, set, []train.Result{{Epoch: 4, Total: 3}}); err != nil {
		t.Fatal(err)
	}
	if got := c.evalCosts[4]; math.Abs(got-want) > 1e-5*want {
		t.Errorf("evaluation cost %v, the feedforward's %v", got, want)
	}
}
