package main

import (
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/train"
)

// colourPixels counts the pixels close to the accuracy line's blue and
// the cost line's red.
func colourPixels(img image.Image) (blue, red int) {
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
			}
		}
	}
	return blue, red
}

// TestTrainingPlot: the PNG has both panels when there is an accuracy to
// plot and the cost panel alone when there is not, any number of epochs.
func TestTrainingPlot(t *testing.T) {
	results := func(n, total int) []train.Result {
		var rs []train.Result
		for e := range n {
			c := 9000 + 50*e
			rs = append(rs, train.Result{Epoch: e, Correct: c * total / 10000, Total: total, Cost: 0.1 / float64(e+1)})
		}
		return rs
	}
	cases := []struct {
		name     string
		results  []train.Result
		accuracy bool
	}{
		{"one epoch", results(1, 10000), true},
		{"ten epochs", results(10, 10000), true},
		{"sixty epochs", results(60, 10000), true},
		{"no evaluation", results(5, 0), false},
		{"resumed", results(8, 10000)[3:], true},
		{"flat", []train.Result{{Epoch: 0, Correct: 5, Total: 10, Cost: 0.5}, {Epoch: 1, Correct: 5, Total: 10, Cost: 0.5}}, true},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".png")
			if err := writeTrainingPlot(path, c.results); err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, path)
			if img.Bounds().Dx() != 768 || img.Bounds().Dy() != 576 {
				t.Errorf("size %v, want 768×576", img.Bounds().Size())
			}
			blue, red := colourPixels(img)
			if red < 15 || (blue >= 15) != c.accuracy { // one epoch is one dot of about 30 pixels
				t.Errorf("%d blue (accuracy) and %d red (cost) pixels: want accuracy drawn %v, cost drawn", blue, red, c.accuracy)
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
	if err := writeTrainingPlot(path, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("no results: %v, want an error naming %s", err, path)
	}
	if after, _ := os.ReadFile(path); !slices.Equal(before, after) {
		t.Error("a failed plot changed the previous file")
	}
	missing := filepath.Join(dir, "no-such-dir", "plot.png")
	if err := writeTrainingPlot(missing, results(2, 100)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("unwritable: %v, want an error naming %s", err, missing)
	}
}

func TestEpochTicks(t *testing.T) {
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
	plot := filepath.Join(t.TempDir(), "train.png")
	trainModel(t, 2, "--plot", plot, "--train-limit", "5000")
	img := decodePNG(t, plot)
	if blue, red := colourPixels(img); blue < 50 || red < 50 {
		t.Errorf("%d blue and %d red pixels: want both panels", blue, red)
	}
}
