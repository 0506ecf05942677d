package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/internal/safefile"
	"github.com/gputrain/gputrain/mnist/digit"
)

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain predict")
	model := fs.String("model", "", "the model to use, as gputrain train --save writes it (network2.py JSON)")
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"file","digit","activations"}`)
	show := fs.String("show", "", "also draw the images as the network reads them (28×28, preprocessed) to this PNG file")
	files, err := parseFiles(fs, args, stdout)
	if err != nil {
		return err
	}
	if *show != "" && !strings.EqualFold(filepath.Ext(*show), ".png") {
		return cli.Usagef("--show %s: the output is a PNG image; give a file name ending in .png", *show)
	}
	if *show != "" {
		if err := graph.ProbeWritable(*show); err != nil {
			return cli.Usagef("--show: %v", err)
		}
	}
	if *model == "" {
		return cli.Usagef("--model is required: a model file written by gputrain train --save")
	}
	if len(files) == 0 {
		return cli.Usagef("no images given: name one or more PNG, JPEG or GIF files of a handwritten digit")
	}
	net, err := loadModel(*model, memlimit.Machine())
	if err != nil {
		return err
	}

	// Every readable image is predicted even when some are not, so that
	// one bad file in a batch costs only its own line.
	var good []string
	var pixels []uint8
	var faults []error
	for _, f := range files {
		px, err := prepareImage(f)
		if err != nil {
			faults = append(faults, err)
			continue
		}
		good = append(good, f)
		pixels = append(pixels, px...)
	}
	if len(good) > 0 {
		acts, err := activations(net, pixels)
		if err != nil {
			return err
		}
		for i, f := range good {
			printPrediction(stdout, *asJSON, f, acts[i])
		}
		if *show != "" {
			if err := showPrepared(*show, *model, good, pixels, acts); err != nil {
				return err
			}
		}
	}
	switch len(faults) {
	case 0:
		return nil
	case 1:
		return faults[0]
	default:
		return fmt.Errorf("%v (and %d more images could not be read)", faults[0], len(faults)-1)
	}
}

// showPrepared draws the preprocessed images in a grid, each captioned with
// its prediction, the activation of the predicted digit, and its file name.
func showPrepared(path, model string, files []string, pixels []uint8, acts [][]float64) error {
	cells := make([]cell, len(files))
	for i, f := range files {
		name := filepath.Base(f)
		if r := []rune(name); len(r) > 24 {
			name = string(r[:21]) + "..." // basicfont has ASCII only
		}
		d := mostActive(acts[i])
		cells[i] = cell{
			pixels: pixels[i*graph.InputSize : (i+1)*graph.InputSize],
			label:  fmt.Sprintf("pred %d (%.2f)", d, acts[i][d]),
			index:  name,
		}
	}
	img := digitGrid("as "+filepath.Base(model)+" reads them: 28x28, preprocessed", cells, 4)
	return graph.WriteFileAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// maxImageBytes caps an image file: far more than a photo of a digit needs.
const maxImageBytes = 64 << 20

// prepareImage reads an image file and prepares it as MNIST's digits were.
func prepareImage(path string) ([]uint8, error) {
	data, err := safefile.ReadFile(path, "an image file", maxImageBytes)
	if err != nil {
		return nil, err
	}
	img, err := digit.DecodeBytes(data, path)
	if err != nil {
		return nil, err
	}
	px, err := digit.Preprocess(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return px, nil
}

// activations runs the network's compiled forward pass on n images
// (n×784 pixels) and returns each image's ten output activations. It runs
// in float64 on one core: for a handful of images, compiling for the
// backend's batch sizes and threads would cost more than it saves, and the
// activations printed are the network's exactly.
func activations(net *graph.Network, pixels []uint8) ([][]float64, error) {
	n := len(pixels) / graph.InputSize
	p, err := graph.CompileForward(net.Sizes, n, graph.Float64)
	if err != nil {
		return nil, err
	}
	m := cpu.NewMachine[float64](p, 1)
	defer m.Close()
	for l := range p.Weights {
		copy(m.Buf(p.Weights[l]), net.Weights[l])
		copy(m.Buf(p.Biases[l]), net.Biases[l])
	}
	x := m.Buf(p.X)
	for i, v := range pixels {
		x[i] = float64(v) / 255
	}
	m.Run()
	out := m.Buf(p.Output)
	acts := make([][]float64, n)
	for i := range acts {
		acts[i] = append([]float64(nil), out[i*graph.OutputSize:(i+1)*graph.OutputSize]...)
	}
	return acts, nil
}

// mostActive is the predicted digit: the index of the largest activation
// (the first, on a tie, as numpy's argmax in the book).
func mostActive(a []float64) int {
	best := 0
	for i, v := range a {
		if v > a[best] {
			best = i
		}
	}
	return best
}

func printPrediction(w io.Writer, asJSON bool, file string, act []float64) {
	d := mostActive(act)
	if asJSON {
		line, _ := json.Marshal(struct {
			File        string    `json:"file"`
			Digit       int       `json:"digit"`
			Activations []float64 `json:"activations"`
		}{file, d, act})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	s := make([]string, len(act))
	for i, v := range act {
		s[i] = fmt.Sprintf("%.3f", v)
	}
	fmt.Fprintf(w, "%s: %d  [%s]\n", file, d, strings.Join(s, " "))
}

// parseFiles parses flags and file names in any order ("predict a.png
// --model m.json" as well as "predict --model m.json a.png"); after "--"
// everything is a file name. -h prints the flags, as cli.Parse does.
func parseFiles(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var files []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, cli.PrintHelp(fs, stdout)
		}
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return files, nil
		}
		// The flag package stops at the first non-flag, or drops a "--"
		// and stops after it.
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(files, rest...), nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}
