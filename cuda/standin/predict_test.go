package standin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/mnist"
)

// TestPredictMatchesCPU runs eval, predict, show --misclassified and train
// --monitor and --plot of the unchanged CUDA binary with --device cuda on
// the stand-in, and the same commands of the CPU binary, in float64: every
// prediction is the same (eval's confusion matrices, an ensemble's mean of
// activations included, and predict's digits) and every cost and
// activation agrees to 1e-9 relative. --plot, whose evaluation cost the
// GPU measures after each epoch, runs in float32 on CUDA alone and must
// draw its PNG. The runs must break no rule.
func TestPredictMatchesCPU(t *testing.T) {
	cpuBin, cudaBin, data := binaries(t)
	dir := t.TempDir()
	model, other := filepath.Join(dir, "model.json"), filepath.Join(dir, "other.json")
	train(t, nil, cpuBin, data, model, "--train-limit", "1000", "--eval", "none")
	train(t, nil, cpuBin, data, other, "--train-limit", "500", "--eval", "none", "--seed", "7")
	// Both binaries run the same command line but --device: the CPU
	// build's is its default.
	both := func(t *testing.T, args ...string) (cpuOut, cudaOut string) {
		t.Helper()
		return cli(t, cpuBin, args...), cli(t, cudaBin, append(args, "--device", "cuda")...)
	}

	t.Run("eval", func(t *testing.T) {
		for _, m := range []string{model, model + "," + other + " --combine mean", model + "," + other} {
			args := append([]string{"eval", "--data", data, "--dtype", "float64", "--json", "--model"}, strings.Fields(m)...)
			c, g := both(t, args...)
			var ce, ge map[string]any
			decode(t, c, &ce)
			decode(t, g, &ge)
			if !reflect.DeepEqual(ce, ge) {
				t.Errorf("eval --model %s: CPU %s, CUDA %s", m, c, g)
			}
		}
	})

	t.Run("predict", func(t *testing.T) {
		d, err := mnist.Ensure(data, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"predict", "--json", "--model", model}
		for i := range 20 {
			args = append(args, writeDigit(t, dir, i, d.Test.Image(i)))
		}
		c, g := both(t, args...)
		type prediction struct {
			File        string
			Digit       int
			Activations []float64
		}
		cs, gs := bufio.NewScanner(strings.NewReader(c)), bufio.NewScanner(strings.NewReader(g))
		n := 0
		for cs.Scan() {
			if !gs.Scan() {
				t.Fatalf("CUDA predicted %d images, the CPU more", n)
			}
			var cp, gp prediction
			decode(t, cs.Text(), &cp)
			decode(t, gs.Text(), &gp)
			if cp.File != gp.File || cp.Digit != gp.Digit || len(cp.Activations) != 10 || len(gp.Activations) != 10 {
				t.Errorf("CPU %s, CUDA %s", cs.Text(), gs.Text())
				continue
			}
			for k := range cp.Activations {
				if d := relDiff(gp.Activations[k], cp.Activations[k]); d > 1e-9 {
					t.Errorf("%s: activation %d: CPU %v, CUDA %v: %.3g apart (relative)", cp.File, k, cp.Activations[k], gp.Activations[k], d)
				}
			}
			n++
		}
		if gs.Scan() || n != 20 {
			t.Errorf("CPU predicted %d of 20 images, CUDA more", n)
		}
	})

	t.Run("show", func(t *testing.T) {
		c, g := filepath.Join(dir, "cpu.png"), filepath.Join(dir, "cuda.png")
		args := []string{"show", "--data", data, "--dtype", "float64", "--misclassified", "--model", model}
		cli(t, cpuBin, append(args, c)...)
		cli(t, cudaBin, append(args, "--device", "cuda", g)...)
		ci, gi := readFile(t, c), readFile(t, g)
		if string(ci) != string(gi) {
			t.Errorf("show --misclassified drew different images on the CPU and on CUDA")
		}
	})

	t.Run("monitor", func(t *testing.T) {
		args := []string{"train", "--data", data, "--quiet", "--epochs", "2", "--init", model, "--dtype", "float64", "--no-shuffle",
			"--train-limit", "1000", "--eval", "validation", "--cost", "cross-entropy", "--lambda", "2", "--eta", "0.5",
			"--monitor", "--log-format", "json"}
		c, g := both(t, args...)
		cl, gl := strings.Split(strings.TrimSpace(c), "\n"), strings.Split(strings.TrimSpace(g), "\n")
		if len(cl) != 2 || len(gl) != 2 {
			t.Fatalf("want two epochs' lines; CPU:\n%s\nCUDA:\n%s", c, g)
		}
		for i := range cl {
			var ce, ge map[string]float64
			decode(t, cl[i], &ce)
			decode(t, gl[i], &ge)
			for _, k := range []string{"training_accuracy", "evaluation_accuracy", "correct"} {
				if ce[k] != ge[k] {
					t.Errorf("epoch %d: %s: CPU %v, CUDA %v", i, k, ce[k], ge[k])
				}
			}
			for _, k := range []string{"training_cost", "evaluation_cost", "cost"} {
				d := relDiff(ge[k], ce[k])
				t.Logf("epoch %d: %s: CPU %v, CUDA %v: %.3g apart (relative)", i, k, ce[k], ge[k], d)
				if !(d <= 1e-9) {
					t.Errorf("epoch %d: %s: CPU %v, CUDA %v: %.3g apart (relative), more than 1e-9", i, k, ce[k], ge[k], d)
				}
			}
		}
	})

	t.Run("plot", func(t *testing.T) {
		// Without --monitor, the plot's evaluation cost is measured on
		// the GPU after each epoch.
		plot := filepath.Join(dir, "plot.png")
		cli(t, cudaBin, "train", "--data", data, "--quiet", "--epochs", "1", "--init", model, "--train-limit", "1000",
			"--eval", "validation", "--device", "cuda", "--plot", plot)
		if img, err := png.Decode(strings.NewReader(string(readFile(t, plot)))); err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("--plot %s: %v", plot, err)
		}
	})
}

// cli runs bin with args on the stand-in and returns its stdout; it fails
// the test on a non-zero exit or any "standin:" line. With --device cuda
// among args, the work must have run on the stand-in: its statistics line
// counts some.
func cli(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, stderr, diags, status := run(t, []string{"GPUTRAIN_STANDIN_STATS=1"}, bin, args...)
	jobs := 0
	for _, d := range diags {
		var direct, captured, launches, replayed int
		if i := strings.Index(d, "statistics: "); i >= 0 {
			if _, err := fmt.Sscanf(d[i:], "statistics: %d jobs run as issued, %d graphs captured, %d graph launches replaying %d jobs",
				&direct, &captured, &launches, &replayed); err != nil {
				t.Fatalf("reading %q: %v", d, err)
			}
			jobs += direct + replayed
			continue
		}
		t.Errorf("%s broke a rule: %s", filepath.Base(bin), d)
	}
	if status != 0 {
		t.Fatalf("%s %s: exit status %d\n%s%s", filepath.Base(bin), strings.Join(args, " "), status, out, stderr)
	}
	if strings.Contains(strings.Join(args, " "), "--device cuda") && jobs == 0 {
		t.Errorf("%s %s ran nothing on the stand-in", filepath.Base(bin), strings.Join(args, " "))
	}
	return out
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %q", err, s)
	}
}

func relDiff(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeDigit writes an MNIST image (white ink on black) as a PNG of black
// ink on white, as a digit drawn on paper is, and returns its path.
func writeDigit(t *testing.T, dir string, i int, pixels []uint8) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for k, p := range pixels {
		img.Pix[k] = 255 - p
	}
	path := filepath.Join(dir, fmt.Sprintf("digit-%02d.png", i))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}
