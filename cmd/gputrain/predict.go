package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/ensemble"
	"github.com/gputrain/gputrain/internal/safefile"
	"github.com/gputrain/gputrain/mnist/digit"
)

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain predict")
	model := fs.String("model", "", modelFlagHelp)
	combine := fs.String("combine", "vote", combineFlagHelp)
	asJSON := fs.Bool("json", false, `print one JSON object per image: {"file","digit","activation","top","unsure","activations"}`)
	device := fs.String("device", "cpu", "cpu or cuda: where the network runs")
	show := fs.String("show", "", "also draw each image beside what the network read (28×28, preprocessed), captioned with the prediction, to this PNG file")
	files, err := parseFiles(fs, args, stdout)
	if errors.Is(err, cli.ErrHelp) {
		fmt.Fprint(stdout, predictNote)
	}
	if err != nil {
		return err
	}
	if *show != "" && !strings.EqualFold(filepath.Ext(*show), ".png") {
		return cli.Usagef("--show %s: the output is a PNG image; give a file name ending in .png", *show)
	}
	if *show != "" {
		if err := safefile.ProbeWritable(*show); err != nil {
			return cli.Usagef("--show: %v", err)
		}
	}
	if *model == "" {
		return cli.Usagef("--model is required: a model file written by gputrain train --save")
	}
	if err := checkDevice(*device); err != nil {
		return err
	}
	if len(files) == 0 {
		return cli.Usagef("no images given: name one or more PNG, JPEG or GIF files of a handwritten digit")
	}
	net, err := loadModels(*model, *combine, memlimit.Machine())
	if err != nil {
		return err
	}
	net.device = *device
	if *show != "" && len(net.nets) > 1 && net.combine == ensemble.Vote {
		return cli.Usagef("--show with an ensemble draws the mean of its activations: add --combine mean")
	}

	// Every readable image is predicted even when some are not, so that
	// one bad file in a batch costs only its own line.
	var good []string
	var pixels []uint8
	var thumbs []image.Image
	var faults []error
	for _, f := range files {
		px, thumb, err := prepareImage(f, *show != "", stderr)
		if err != nil {
			faults = append(faults, err)
			continue
		}
		good = append(good, f)
		pixels = append(pixels, px...)
		thumbs = append(thumbs, thumb)
	}
	if len(good) > 0 {
		acts, votes, err := net.predict(pixels)
		if err != nil {
			return err
		}
		for i, f := range good {
			if votes != nil {
				if err := printVote(stdout, *asJSON, f, votes[i]); err != nil {
					return err
				}
				continue
			}
			printPrediction(stdout, *asJSON, f, acts[i])
		}
		if *show != "" {
			if err := showSideBySide(*show, net.name(), good, thumbs, pixels, acts); err != nil {
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

// maxImageBytes caps an image file: far more than a photo of a digit needs.
const maxImageBytes = 64 << 20

// prepareImage reads an image file and prepares it as MNIST's digits were;
// with thumb, it also returns the image reduced for --show (the original
// may be a 12-megapixel photo, and --show may be given many). An animated
// GIF, read from its first frame, gets a note on stderr saying so.
func prepareImage(path string, thumb bool, stderr io.Writer) ([]uint8, image.Image, error) {
	data, err := safefile.ReadFile(path, "an image file", maxImageBytes)
	if err != nil {
		return nil, nil, err
	}
	img, err := digit.DecodeBytes(data, path)
	if err != nil {
		return nil, nil, err
	}
	if digit.GIFFrames(data) > 1 {
		fmt.Fprintf(stderr, "gputrain predict: note: %s is an animated GIF: its first frame is read\n", path)
	}
	px, err := digit.Preprocess(img)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if thumb {
		img = thumbnail(img, showSide)
	}
	return px, img, nil
}

// Low confidence: the most active output below unsureBelow, or within
// unsureMargin of the runner-up.
const (
	unsureBelow  = 0.5
	unsureMargin = 0.1
)

// predictNote follows predict -h's flags: what the numbers are.
const predictNote = `
Each image is printed as "FILE: DIGIT (ACTIVATION)  top: the three most active
digits", and "unsure: D1 or D2" when the most active output is below 0.5 or
within 0.1 of the runner-up. The numbers are the network's ten sigmoid output
activations, each between 0 and 1 on its own: not probabilities, and they need
not sum to 1. A digit unlike any the network was trained on can leave all ten
low; that is what "unsure" is for.
`

// score is one digit and the activation of its output.
type score struct {
	Digit      int     `json:"digit"`
	Activation float64 `json:"activation"`
}

// ranked returns the outputs strongest first (on a tie the lower digit
// first, as numpy's argmax in the book picks it), and whether the
// strongest is too weak or too close to the runner-up to be trusted.
func ranked(act []float64) ([]score, bool) {
	s := make([]score, len(act))
	for i, v := range act {
		s[i] = score{i, v}
	}
	slices.SortStableFunc(s, func(a, b score) int { return cmp.Compare(b.Activation, a.Activation) })
	unsure := s[0].Activation < unsureBelow || (len(s) > 1 && s[0].Activation-s[1].Activation < unsureMargin)
	return s, unsure
}

// printPrediction writes "file: 3 (0.97)  top: 3 0.97, 5 0.02, 8 0.01",
// with "  unsure: 3 or 5" after it when the network is unsure; or one
// JSON object.
func printPrediction(w io.Writer, asJSON bool, file string, act []float64) {
	s, unsure := ranked(act)
	top := s[:min(3, len(s))]
	if asJSON {
		line, _ := json.Marshal(struct {
			File        string    `json:"file"`
			Digit       int       `json:"digit"`
			Activation  float64   `json:"activation"`
			Top         []score   `json:"top"`
			Unsure      bool      `json:"unsure"`
			Activations []float64 `json:"activations"`
		}{file, s[0].Digit, s[0].Activation, top, unsure, act})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	parts := make([]string, len(top))
	for i, t := range top {
		parts[i] = fmt.Sprintf("%d %.2f", t.Digit, t.Activation)
	}
	line := fmt.Sprintf("%s: %d (%.2f)  top: %s", file, s[0].Digit, s[0].Activation, strings.Join(parts, ", "))
	if unsure {
		line += fmt.Sprintf("  unsure: %d or %d", s[0].Digit, s[1].Digit)
	}
	fmt.Fprintln(w, line)
}

// printVote writes an ensemble's vote on one image: "file: 7 (4 of 5
// votes)  members: 7 7 1 7 7", with "  unsure: 7 or 1" when no digit has
// more than half of the votes; or one JSON object.
func printVote(w io.Writer, asJSON bool, file string, members []uint8) error {
	won, err := ensemble.VoteDigits(ensembleColumns(members))
	if err != nil {
		return err
	}
	digit, votes := won[0], 0
	var runnerUp uint8
	counts := map[uint8]int{}
	for _, d := range members {
		counts[d]++
	}
	votes = counts[digit]
	best := 0
	for _, d := range members {
		if d != digit && counts[d] > best {
			runnerUp, best = d, counts[d]
		}
	}
	unsure := 2*votes <= len(members)
	if asJSON {
		each := make([]int, len(members)) // []uint8 would be base64 in JSON
		for i, d := range members {
			each[i] = int(d)
		}
		line, _ := json.Marshal(struct {
			File    string `json:"file"`
			Digit   uint8  `json:"digit"`
			Votes   int    `json:"votes"`
			Members []int  `json:"members"`
			Unsure  bool   `json:"unsure"`
		}{file, digit, votes, each, unsure})
		fmt.Fprintf(w, "%s\n", line)
		return nil
	}
	ds := make([]string, len(members))
	for i, d := range members {
		ds[i] = fmt.Sprint(d)
	}
	line := fmt.Sprintf("%s: %d (%d of %d votes)  members: %s", file, digit, votes, len(members), strings.Join(ds, " "))
	if unsure && best > 0 {
		line += fmt.Sprintf("  unsure: %d or %d", digit, runnerUp)
	}
	fmt.Fprintln(w, line)
	return nil
}

// ensembleColumns turns one image's member digits into VoteDigits' layout.
func ensembleColumns(members []uint8) [][]uint8 {
	out := make([][]uint8, len(members))
	for k, d := range members {
		out[k] = []uint8{d}
	}
	return out
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
			return nil, cli.Usagef("%v%s", err, cli.Hint(fs, err))
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
