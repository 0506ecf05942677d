package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
	"github.com/gputrain/gputrain/mnist/digit"
	"github.com/gputrain/gputrain/reference"
)

// randomModel saves an untrained network: enough for everything but the
// accuracy of the predictions, and needs no MNIST.
func randomModel(t *testing.T) (string, *network.Network) {
	t.Helper()
	net, err := network.New([]int{784, 30, 10}, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "random.json")
	if err := net.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, net
}

// trained holds the models trainModel trained without extra flags, by
// epochs, for the tests that only read them: each is trained once.
var trained = map[int]struct {
	model string
	lines []string
}{}

// trainModel trains with the CLI for the given epochs on all 50,000
// training images (about half a second an epoch) and returns the model
// file, the "Epoch N: C / 10000" lines, and the data. Without extra flags
// the model is trained once and shared: callers must not change the file.
func trainModel(t *testing.T, epochs int, extra ...string) (string, []string, *mnist.Data) {
	t.Helper()
	dir := dataDir(t)
	data, err := mnist.Ensure(dir, &bytes.Buffer{})
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	if m, ok := trained[epochs]; ok && len(extra) == 0 {
		return m.model, m.lines, data
	}
	out := t.TempDir()
	if len(extra) == 0 {
		out = filepath.Join(sharedDir, fmt.Sprintf("epochs-%d", epochs))
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(out, "model.json")
	args := append([]string{"train", "--data", dir, "--quiet", "--epochs", strconv.Itoa(epochs), "--save", model}, extra...)
	code, stdout, errs := runCLI(args...)
	if code != 0 {
		t.Fatalf("training: exit %d: %s", code, errs)
	}
	// The book's epoch lines, without network3's report after them.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "Epoch ") })
	if len(extra) == 0 {
		trained[epochs] = struct {
			model string
			lines []string
		}{model, lines}
	}
	return model, lines, data
}

// forward is the book's feedforward (package reference) of one image.
func forward(net *network.Network, pixels []uint8) []float64 {
	a := make([]float64, len(pixels))
	for i, p := range pixels {
		a[i] = float64(p) / 255
	}
	return reference.Feedforward(net, a)
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mnistPNG is test image i as a user might hand it in: dark ink on white,
// each pixel enlarged to a k×k square.
func mnistPNG(t *testing.T, path string, px []uint8, k int) {
	img := image.NewGray(image.Rect(0, 0, 28*k, 28*k))
	for y := range 28 * k {
		for x := range 28 * k {
			img.Pix[y*28*k+x] = 255 - px[(y/k)*28+x/k]
		}
	}
	writePNG(t, path, img)
}

// drawnThree draws a thick "3" with a round pen on a 200×200 white canvas,
// off-centre and taller than wide, as one might with a mouse: two bowls,
// the upper smaller, meeting at the middle.
func drawnThree() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	pen := func(cx, cy float64) {
		const r = 9
		for y := int(cy - r); y <= int(cy+r); y++ {
			for x := int(cx - r); x <= int(cx+r); x++ {
				if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy <= r*r && image.Pt(x, y).In(img.Rect) {
					img.SetGray(x, y, color.Gray{20})
				}
			}
		}
	}
	arc := func(cx, cy, rx, ry, from, to float64) {
		for a := from; a <= to; a += 0.5 {
			t := a * math.Pi / 180 // 0° to the right, 90° down
			pen(cx+rx*math.Cos(t), cy+ry*math.Sin(t))
		}
	}
	arc(112, 60, 36, 34, -160, 95)   // upper bowl: from the upper left, round to the middle
	arc(110, 130, 44, 42, -100, 150) // lower bowl: from the middle, round to the lower left
	return img
}

// threeFile writes drawnThree to a PNG file and returns its path and the
// 784 pixels Preprocess makes of it.
func threeFile(t *testing.T) (string, []uint8) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "three.png")
	writePNG(t, path, drawnThree())
	px, err := digit.Preprocess(drawnThree())
	if err != nil {
		t.Fatal(err)
	}
	return path, px
}

// TestPredictErrors: every fault is one line naming the flag or the file,
// exit 2 for the command line and 1 for the files; readable images are
// still predicted when others in the same call are not.
func TestPredictErrors(t *testing.T) {
	t.Parallel()
	model, _ := randomModel(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "three.png")
	writePNG(t, good, drawnThree())
	blank := filepath.Join(dir, "blank.png")
	writePNG(t, blank, image.NewGray(image.Rect(0, 0, 50, 50)))
	text := filepath.Join(dir, "notes.png")
	os.WriteFile(text, []byte("a three, I think"), 0o644)
	var pngData bytes.Buffer
	png.Encode(&pngData, drawnThree())
	truncated := filepath.Join(dir, "truncated.png")
	os.WriteFile(truncated, pngData.Bytes()[:100], 0o644)
	badModel := filepath.Join(dir, "bad.json")
	os.WriteFile(badModel, []byte(`{"sizes":[784,30,10],"weights":[],"biases":[]}`), 0o644)
	missing := filepath.Join(dir, "missing.png")

	cases := []struct {
		name     string
		args     []string
		code     int
		want     string // in the one line of stderr
		stdoutOK int    // lines of predictions printed before the error
	}{
		{"no model", []string{good}, exitUsage, "--model is required", 0},
		{"no images", []string{"--model", model}, exitUsage, "no images given", 0},
		{"bad device", []string{"--model", model, "--device", "tpu", good}, exitUsage, `--device "tpu": want cpu or cuda`, 0},
		{"no cuda", []string{"--model", model, "--device", "cuda", good}, exitUsage, "--device cuda: gputrain was built without CUDA support", 0},
		{"unknown flag", []string{"--model", model, "--colour", good}, exitUsage, "flag provided but not defined: -colour", 0},
		{"show not png", []string{"--model", model, "--show", "x.jpg", good}, exitUsage, "--show x.jpg: the output is a PNG image", 0},
		{"missing model", []string{"--model", filepath.Join(dir, "none.json"), good}, exitRuntime, filepath.Join(dir, "none.json") + ": no such file or directory", 0},
		{"malformed model", []string{"--model", badModel, good}, exitRuntime, badModel + ": sizes [784 30 10] need 2 weight and bias layers", 0},
		{"not an image", []string{"--model", model, text}, exitRuntime, text + ": not a PNG, JPEG or GIF image", 0},
		{"truncated", []string{"--model", model, truncated}, exitRuntime, truncated + ": corrupt PNG: ", 0},
		{"blank", []string{"--model", model, blank}, exitRuntime, blank + ": no ink: the image is blank or too faint", 0},
		{"missing image", []string{"--model", model, missing}, exitRuntime, missing + ": no such file or directory", 0},
		{"one bad of two", []string{"--model", model, good, blank}, exitRuntime, blank + ": no ink", 1},
		{"two bad of three", []string{"--model", model, text, good, blank}, exitRuntime,
			text + ": not a PNG, JPEG or GIF image (and 1 more images could not be read)", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(append([]string{"predict"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "gputrain predict: ") || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q: want one line containing %q", errs, c.want)
			}
			if n := strings.Count(out, "\n"); n != c.stdoutOK || (n > 0 && !strings.HasPrefix(out, good+": ")) {
				t.Errorf("stdout %q: want %d prediction lines for %s", out, c.stdoutOK, good)
			}
		})
	}
}

// byActivation returns the digits ordered by activation, strongest first,
// the lower digit first on a tie: written out plainly, as the oracle of
// predict's ranking.
func byActivation(act []float64) []int {
	d := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for i := range d {
		for j := i + 1; j < len(d); j++ {
			if act[d[j]] > act[d[i]] || (act[d[j]] == act[d[i]] && d[j] < d[i]) {
				d[i], d[j] = d[j], d[i]
			}
		}
	}
	return d
}

// TestPredictOutput: the text line and the JSON object carry the digit,
// its activation, the three most active digits and the ten activations of
// the book's feedforward, whatever the order of flags and files.
func TestPredictOutput(t *testing.T) {
	t.Parallel()
	model, net := randomModel(t)
	three, px := threeFile(t)
	want := forward(net, px)
	order := byActivation(want)
	unsure := want[order[0]] < 0.5 || want[order[0]]-want[order[1]] < 0.1

	code, out, errs := runCLI("predict", three, "--model", model, three)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("output %q: want the same line twice", out)
	}
	wantLine := fmt.Sprintf("%s: %d (%.2f)  top: %d %.2f, %d %.2f, %d %.2f", three, order[0], want[order[0]],
		order[0], want[order[0]], order[1], want[order[1]], order[2], want[order[2]])
	if unsure {
		wantLine += fmt.Sprintf("  unsure: %d or %d", order[0], order[1])
	}
	if lines[0] != wantLine {
		t.Errorf("line\n%q\nwant\n%q", lines[0], wantLine)
	}

	code, out, errs = runCLI("predict", "--json", "--model", model, "--", three)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errs)
	}
	var got struct {
		File       string  `json:"file"`
		Digit      int     `json:"digit"`
		Activation float64 `json:"activation"`
		Top        []struct {
			Digit      int     `json:"digit"`
			Activation float64 `json:"activation"`
		} `json:"top"`
		Unsure      bool      `json:"unsure"`
		Activations []float64 `json:"activations"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if got.File != three || got.Digit != order[0] || got.Unsure != unsure || len(got.Activations) != 10 || len(got.Top) != 3 {
		t.Fatalf("--json: %+v, want file %s, digit %d, unsure %v, 10 activations, the top 3", got, three, order[0], unsure)
	}
	for i, v := range got.Activations {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Errorf("activation %d = %v, the feedforward gives %v", i, v, want[i])
		}
	}
	for i, s := range got.Top {
		if s.Digit != order[i] || s.Activation != got.Activations[order[i]] {
			t.Errorf("top[%d] = %+v, want digit %d at %v", i, s, order[i], got.Activations[order[i]])
		}
	}
	if got.Activation != got.Activations[order[0]] {
		t.Errorf("activation %v, want the digit's %v", got.Activation, got.Activations[order[0]])
	}
}

// biasModel saves a network whose weights are all zero, so that its ten
// outputs are σ(b) for the output biases b, whatever the image.
func biasModel(t *testing.T, outputs [10]float64) string {
	t.Helper()
	net, err := network.New([]int{784, 30, 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for l := range net.Weights {
		clear(net.Weights[l])
		clear(net.Biases[l])
	}
	for i, a := range outputs {
		net.Biases[1][i] = math.Log(a / (1 - a)) // σ⁻¹
	}
	path := filepath.Join(t.TempDir(), "bias.json")
	if err := net.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPredictUnsure: a digit is flagged unsure when its activation is
// under 0.5 or within 0.1 of the runner-up's, and only then.
func TestPredictUnsure(t *testing.T) {
	t.Parallel()
	three := filepath.Join(t.TempDir(), "three.png")
	writePNG(t, three, drawnThree())
	low := 0.01
	cases := []struct {
		name string
		top  [3]float64 // the activations of 3, 8 and 5; the rest are low
		want string
	}{
		{"confident", [3]float64{0.97, 0.02, 0.012}, "3 (0.97)  top: 3 0.97, 8 0.02, 5 0.01"},
		{"weak", [3]float64{0.45, 0.02, 0.012}, "3 (0.45)  top: 3 0.45, 8 0.02, 5 0.01  unsure: 3 or 8"},
		{"barely fires", [3]float64{0.027, 0.02, 0.012}, "3 (0.03)  top: 3 0.03, 8 0.02, 5 0.01  unsure: 3 or 8"},
		{"close second", [3]float64{0.8, 0.75, 0.012}, "3 (0.80)  top: 3 0.80, 8 0.75, 5 0.01  unsure: 3 or 8"},
		{"clear second", [3]float64{0.8, 0.69, 0.012}, "3 (0.80)  top: 3 0.80, 8 0.69, 5 0.01"},
		{"just sure", [3]float64{0.5, 0.01, 0.004}, "3 (0.50)  top: 3 0.50, 8 0.01, 5 0.00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var outputs [10]float64
			for i := range outputs {
				outputs[i] = low / 4
			}
			outputs[3], outputs[8], outputs[5] = c.top[0], c.top[1], c.top[2]
			code, out, errs := runCLI("predict", "--model", biasModel(t, outputs), three)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if want := three + ": " + c.want + "\n"; out != want {
				t.Errorf("output\n%q\nwant\n%q", out, want)
			}
		})
	}
}

// TestPredictHelp: -h says what the numbers are.
func TestPredictHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("predict", "-h")
	for _, w := range []string{"-model", "-show", "not probabilities", "unsure"} {
		if !strings.Contains(out, w) {
			t.Errorf("predict -h lacks %q:\n%s", w, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestPredictMNIST: MNIST test digits written out as PNGs, enlarged and
// inverted, get the prediction the network makes from the raw tensor; and
// a "3" drawn with a thick pen is read as a 3.
func TestPredictMNIST(t *testing.T) {
	t.Parallel()
	model, _, data := trainModel(t, 3)
	net, err := network.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const n = 50
	if agree := pngAgreement(t, dir, model, net, data, n); agree < n-1 {
		t.Errorf("%d of %d predictions agree with the raw tensor's", agree, n)
	}

	three := filepath.Join(dir, "drawn-3.png")
	writePNG(t, three, drawnThree())
	shown := filepath.Join(dir, "drawn-3-prepared.png")
	code, out, errs := runCLI("predict", "--model", model, "--show", shown, three)
	if code != 0 || !strings.HasPrefix(out, three+": 3 (") || strings.Contains(out, "unsure") {
		t.Errorf("drawn 3: exit %d, output %q, %s", code, out, errs)
	}
	if img := decodePNG(t, shown); img.Bounds().Dx() < 2*28*4 || img.Bounds().Dy() < 28*4 {
		t.Errorf("--show wrote a %v image", img.Bounds())
	}
	// GPUTRAIN_DOCS=$PWD/docs go test ./cmd/gputrain -run TestPredictMNIST
	// writes the drawing to docs/drawn-3.png, for the README's walk.
	if docs := os.Getenv("GPUTRAIN_DOCS"); docs != "" {
		writePNG(t, filepath.Join(docs, "drawn-3.png"), drawnThree())
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// TestPredictShow: --show draws what the network read, each pixel a 4×4
// square, with the original, dark ink on white, to its left.
func TestPredictShow(t *testing.T) {
	t.Parallel()
	model, _ := randomModel(t)
	three, px := threeFile(t)
	shown := filepath.Join(t.TempDir(), "shown.png")
	if code, _, errs := runCLI("predict", "--model", model, "--show", shown, three); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	img := decodePNG(t, shown)
	b := img.Bounds()
	grey := func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
	matches := func(ox, oy int) bool {
		for y := range 28 * 4 {
			for x := range 28 * 4 {
				if grey(ox+x, oy+y) != px[(y/4)*28+x/4] {
					return false
				}
			}
		}
		return true
	}
	for oy := b.Min.Y; oy+28*4 <= b.Max.Y; oy++ {
		for ox := b.Min.X + 28*4; ox+28*4 <= b.Max.X; ox++ {
			if !matches(ox, oy) {
				continue
			}
			dark := 0
			for y := oy; y < oy+28*4; y++ {
				for x := ox - 28*4 - 8; x < ox-8; x++ {
					if grey(x, y) < 100 {
						dark++
					}
				}
			}
			if dark < 500 {
				t.Errorf("left of what the network read: %d dark pixels, want the drawn 3", dark)
			}
			return
		}
	}
	t.Errorf("%v image: no 112×112 block holds the 28×28 the network read", b)
}
