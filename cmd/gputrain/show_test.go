package main

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

// TestShowErrors: bad command lines are exit 2 with one line naming the
// flag, before any file is read or written.
func TestShowErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "grid.png")
	noData := filepath.Join(dir, "no-mnist-here")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, exitUsage, "no output file given"},
		{[]string{"a.png", "b.png"}, exitUsage, "2 output files given (a.png b.png): want one PNG file"},
		{[]string{"grid.jpg"}, exitUsage, "grid.jpg: the output is a PNG image"},
		{[]string{"--n", "0", out}, exitUsage, "--n 0: must be at least 1"},
		{[]string{"--n", "-3", out}, exitUsage, "--n -3: must be at least 1"},
		{[]string{"--misclassified", out}, exitUsage, "--misclassified needs --model"},
		{[]string{"--offset", "-1", out}, exitUsage, "--offset -1: must be 0 or more"},
		{[]string{"--scale", "0", out}, exitUsage, "--scale 0: want 1 to 16"},
		{[]string{"--split", "tests", out}, exitUsage, `--split "tests"`},
		{[]string{"--dtype", "half", out}, exitUsage, `--dtype: dtype "half"`},
		{[]string{"--device", "tpu", out}, exitUsage, `--device "tpu": want cpu or cuda`},
		{[]string{"--misclassified", "--model", "m.json", "--device", "cuda", "--data", noData, out}, exitUsage, "--device cuda: gputrain was built without CUDA support"},
		{[]string{"--model", filepath.Join(dir, "none.json"), "--data", noData, out}, exitRuntime, filepath.Join(dir, "none.json") + ": no such file or directory"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, errs := runCLI(append([]string{"show"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "gputrain show: ") || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q: want one line containing %q", errs, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

// tiles finds the digit tiles of a grid, in reading order: black squares
// of side 28·scale on the white page. MNIST's outermost rows and columns
// are background, so a tile's top row and left column are black, and
// nothing left of or above it is.
func tiles(img image.Image, scale int) []image.Point {
	b := img.Bounds()
	black := func(x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		return r == 0 && g == 0 && bl == 0
	}
	side := 28 * scale
	var out []image.Point
	for y := b.Min.Y + 1; y+side <= b.Max.Y; y++ {
	next:
		for x := b.Min.X + 1; x+side <= b.Max.X; x++ {
			if !black(x, y) || black(x-1, y) || black(x, y-1) {
				continue
			}
			for i := range side {
				if !black(x+i, y) || !black(x, y+i) {
					continue next
				}
			}
			out = append(out, image.Pt(x, y))
		}
	}
	return out
}

// tileMatches reports whether the tile at p shows the 784 pixels px,
// each as a scale×scale square.
func tileMatches(img image.Image, p image.Point, scale int, px []uint8) bool {
	for y := range 28 * scale {
		for x := range 28 * scale {
			if color.GrayModel.Convert(img.At(p.X+x, p.Y+y)).(color.Gray).Y != px[(y/scale)*28+x/scale] {
				return false
			}
		}
	}
	return true
}

// TestShow: the grid holds the requested digits, pixel for pixel, and the
// misclassified grid holds exactly the digits the network gets wrong, as
// many as training's own evaluation counts.
func TestShow(t *testing.T) {
	t.Parallel()
	model, epochs, data := trainModel(t, 1)
	dir := t.TempDir()

	grid := filepath.Join(dir, "grid.png")
	code, out, errs := runCLI("show", "--data", dataDir(t), "--n", "5", "--offset", "3", "--scale", "2", grid)
	if code != 0 || out != grid+": MNIST test images #3 to #7\n" {
		t.Fatalf("exit %d, output %q, %s", code, out, errs)
	}
	img := decodePNG(t, grid)
	found := tiles(img, 2)
	if len(found) != 5 {
		t.Fatalf("found %d digit tiles at %v, want 5", len(found), found)
	}
	for i, p := range found {
		if !tileMatches(img, p, 2, data.Test.Image(3+i)) {
			t.Errorf("tile %d at %v is not test image %d", i, p, 3+i)
		}
	}

	// Which digits the network gets wrong, from the backend directly.
	net, err := network.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cpu.Open(train.Config{Spec: net.Spec, BatchSize: 10, Eta: 3, Dtype: graph.Float32}, data.Test)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetNetwork(net)
	pred, err := b.Predict(data.Test)
	if err != nil {
		t.Fatal(err)
	}
	var wrong []int
	for i, p := range pred {
		if p != data.Test.Labels[i] {
			wrong = append(wrong, i)
		}
	}
	var correct, total int
	fmt.Sscanf(epochs[0], "Epoch 0: %d / %d", &correct, &total)
	if len(wrong) != total-correct {
		t.Fatalf("the backend gets %d wrong, training counted %d", len(wrong), total-correct)
	}

	mistakes := filepath.Join(dir, "mistakes.png")
	code, out, errs = runCLI("show", "--data", dataDir(t), "--misclassified", "--model", model, mistakes)
	want := fmt.Sprintf("%s: model.json: 36 of the %d test images it gets wrong (%.2f%% correct)\n",
		mistakes, len(wrong), 100*float64(correct)/float64(total))
	if code != 0 || out != want {
		t.Fatalf("exit %d, output %q, want %q; %s", code, out, want, errs)
	}
	img = decodePNG(t, mistakes)
	found = tiles(img, 3)
	if len(found) != 36 {
		t.Fatalf("found %d digit tiles, want 36", len(found))
	}
	for i, p := range found {
		if !tileMatches(img, p, 3, data.Test.Image(wrong[i])) {
			t.Errorf("tile %d is not test image %d, the %dth the network gets wrong", i, wrong[i], i+1)
		}
	}
	red := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if r, g, _, _ := img.At(x, y).RGBA(); r > 0x8000 && g < 0x4000 {
				red++
			}
		}
	}
	if red < 36*20 {
		t.Errorf("%d red pixels: want the 36 captions of mistakes in red", red)
	}

	// Past the last mistake there is nothing to draw: an error, no file.
	none := filepath.Join(dir, "none.png")
	code, _, errs = runCLI("show", "--data", dataDir(t), "--misclassified", "--model", model, "--offset", fmt.Sprint(wrong[len(wrong)-1]+1), none)
	if code != exitRuntime || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "right: no mistakes to draw") {
		t.Errorf("no mistakes: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI("show", "--data", dataDir(t), "--offset", "10000", none)
	if code != exitUsage || !strings.Contains(errs, "--offset 10000: the test set has 10000 images") {
		t.Errorf("offset past the end: exit %d, %q", code, errs)
	}
	unwritable := filepath.Join(dir, "no-such-dir", "grid.png")
	code, _, errs = runCLI("show", "--data", dataDir(t), unwritable)
	if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, unwritable+": directory ") {
		t.Errorf("unwritable output: exit %d, %q (checked before any work)", code, errs)
	}
	if _, err := os.Stat(none); err == nil {
		t.Errorf("%s written despite the error", none)
	}
}
