package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph"
)

// epochFLOPs counts the floating-point operations in the matrix products
// of one epoch of the book's algorithm over n images in mini-batches of
// batch, as network.py performs them. Per image and layer of in inputs and
// out outputs:
//
//   - forward, z = w·a: 2·in·out;
//   - the weight gradient δ·aᵀ (in·out products) summed into nabla_w
//     (in·out additions): 2·in·out;
//   - the δ of the layer below, wᵀ·δ: 2·in·out, for every layer but the
//     first, since backprop stops at the input;
//
// and per mini-batch, the update w − (η/m)·nabla_w: 2·in·out. Bias terms
// and element-wise work (σ, σ', the cost) are O(out) per layer and left
// out: at these sizes they are under 2% of the count.
func epochFLOPs(sizes []int, n, batch int) float64 {
	var perImage, perStep float64
	for l := 0; l+1 < len(sizes); l++ {
		w := float64(sizes[l]) * float64(sizes[l+1])
		perImage += 4 * w
		if l > 0 {
			perImage += 2 * w
		}
		perStep += 2 * w
	}
	steps := (n + batch - 1) / batch
	return float64(n)*perImage + float64(steps)*perStep
}

// fullEpoch is the training-set size that curve timings are scaled to.
const fullEpoch = 50000

// curvePoint is one configuration of a curve.
type curvePoint struct {
	Hidden, Batch int
}

func (c curvePoint) sizes() []int { return []int{784, c.Hidden, 10} }

// curveProgram is one measured program: gputrain or a Python peer.
type curveProgram struct {
	id, name string
	argv     func(a trainArgs, dtype string) []string
}

// curveTiming is a program's seconds per full epoch at one point.
type curveTiming struct {
	Median, Min float64 // scaled to fullEpoch images
	OK          bool
}

func runCurves(args []string, stdout, stderr io.Writer) error {
	var e env
	fs := cli.NewFlags("gputrain-bench curves")
	fs.StringVar(&e.gputrain, "gputrain", "bin/gputrain", "the gputrain binary")
	fs.StringVar(&e.python, "python", "/usr/bin/python3", "the Python with numpy and torch")
	fs.StringVar(&e.scripts, "scripts", "cmd/gputrain-bench/peers", "directory of the Python peers")
	data := fs.String("data", "data/mnist", "directory of the MNIST files")
	limit := fs.Int("train-limit", 10000, "images trained on per epoch; times are scaled to 50,000")
	epochs := fs.Int("epochs", 3, "epochs per run (the median counts)")
	rounds := fs.Int("rounds", 2, "how many times each program runs at each point, every point and program in turn")
	hidden := cli.IntList{30, 100, 300, 1000}
	batches := cli.IntList{1, 10, 100, 1000}
	fs.Var(&hidden, "hidden", "hidden sizes of the first curve (batch 10)")
	fs.Var(&batches, "batches", "batch sizes of the second curve (hidden 30)")
	peerIDs := fs.String("peers", "batched-numpy,torch-explicit,torch-autograd", "peers measured beside gputrain")
	out := fs.String("out", "BENCHMARKS.md", "the markdown file whose curves section is rewritten")
	plots := fs.String("plots", "docs", "directory of cost-hidden.png and cost-batch.png")
	q := quietFlags(fs)
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *limit < 1 || *limit > fullEpoch || *epochs < 1 || *rounds < 1 {
		return cli.Usagef("--train-limit must be 1..%d, --epochs and --rounds at least 1", fullEpoch)
	}
	if _, err := os.Stat(e.gputrain); err != nil {
		return cli.Usagef("--gputrain: %v (make build)", err)
	}
	missing := pythonModules(e.python)
	byID := map[string]peer{}
	for _, p := range e.peers() {
		byID[p.id] = p
	}
	programs := []curveProgram{{"gputrain", "gputrain CPU", byID["gputrain"].argv}}
	var skipped []string
	for _, id := range strings.Split(*peerIDs, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		p, ok := byID[id]
		if !ok || id == "gputrain" || id == "gputrain-cuda" || id == "tapemachine" || id == "network.py" {
			return cli.Usagef("--peers: %q is not one of batched-numpy, torch-explicit, torch-autograd", id)
		}
		if why := missing[p.needs]; why != "" {
			skipped = append(skipped, fmt.Sprintf("%s: %s", p.name, why))
			continue
		}
		programs = append(programs, curveProgram{p.id, p.name, p.argv})
	}

	peaks := measurePeaks(pythonIfNumpy(e.python, missing), stderr)
	peak := bestPeak(peaks, runtime.NumCPU())
	if peak.Flops == 0 {
		return fmt.Errorf("no peak measured")
	}

	var hPoints, bPoints []curvePoint
	for _, h := range hidden {
		hPoints = append(hPoints, curvePoint{h, 10})
	}
	for _, b := range batches {
		bPoints = append(bPoints, curvePoint{30, b})
	}
	// Each point once: the book's point is on both curves.
	var points []curvePoint
	for _, pt := range append(append([]curvePoint{}, hPoints...), bPoints...) {
		if err := graph.CheckSizes(pt.sizes()); err != nil {
			return cli.Usagef("--hidden: %v", err)
		}
		if !slices.Contains(points, pt) {
			points = append(points, pt)
		}
	}
	// Every round runs every program at every point, so that a slow spell
	// of the host falls on all of them; a point's epochs from all rounds
	// make its median.
	secs := map[string]map[curvePoint][]float64{}
	failed := map[string]map[curvePoint]bool{}
	for _, p := range programs {
		secs[p.id] = map[curvePoint][]float64{}
		failed[p.id] = map[curvePoint]bool{}
	}
	ctx := context.Background()
	worstOthers := -1.0
	for round := 1; round <= *rounds; round++ {
		for _, pt := range points {
			for _, p := range programs {
				if failed[p.id][pt] {
					continue
				}
				a := trainArgs{Sizes: pt.sizes(), Epochs: *epochs, BatchSize: pt.Batch, Eta: 3, Data: *data,
					Seed: 1, TrainLimit: *limit, Eval: "none"}
				label := fmt.Sprintf("%s hidden=%d batch=%d (round %d of %d)", p.id, pt.Hidden, pt.Batch, round, *rounds)
				res, err := runQuiet(ctx, *q, p.argv(a, "float32"), nil, stderr, label)
				if err != nil {
					fmt.Fprintf(stderr, "%v\n", err)
					skipped = append(skipped, fmt.Sprintf("%s at hidden %d, batch %d: %v", p.name, pt.Hidden, pt.Batch, err))
					failed[p.id][pt] = true
					continue
				}
				secs[p.id][pt] = append(secs[p.id][pt], res.secs()...)
				worstOthers = max(worstOthers, res.Others)
			}
		}
	}
	scale := float64(fullEpoch) / float64(*limit)
	timings := map[string]map[curvePoint]curveTiming{}
	for _, p := range programs {
		timings[p.id] = map[curvePoint]curveTiming{}
		for _, pt := range points {
			if s := secs[p.id][pt]; !failed[p.id][pt] && len(s) > 0 {
				timings[p.id][pt] = curveTiming{Median: median(s) * scale, Min: minimum(s) * scale, OK: true}
			}
		}
	}

	hc := curve{Title: "hidden size", XLabel: "hidden neurons (batch 10)", Points: hPoints, X: func(c curvePoint) int { return c.Hidden }}
	bc := curve{Title: "batch size", XLabel: "mini-batch size (784,30,10)", Points: bPoints, X: func(c curvePoint) int { return c.Batch }}
	if *plots != "" {
		if err := os.MkdirAll(*plots, 0o755); err != nil {
			return err
		}
		for _, c := range []struct {
			cv   curve
			file string
		}{{hc, "cost-hidden.png"}, {bc, "cost-batch.png"}} {
			path := filepath.Join(*plots, c.file)
			if err := writeCurvePlot(path, c.cv, programs, timings, peak.Flops); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %s\n", path)
		}
	}
	body := curvesMarkdown(hc, bc, programs, timings, peaks, peak, *limit, *epochs, *rounds, skipped, *plots, worstOthers)
	fmt.Fprint(stdout, body)
	if *out == "" {
		return nil
	}
	return updateSection(*out, "curves", body)
}

// curveRuns says how many runs make each point.
func curveRuns(rounds int) string {
	if rounds == 1 {
		return "one run per program and point"
	}
	return fmt.Sprintf("%d runs per program and point, in %d rounds over every point and program", rounds, rounds)
}

// pythonIfNumpy is python when it imports numpy, else "".
func pythonIfNumpy(python string, missing map[string]string) string {
	if missing["numpy"] != "" {
		return ""
	}
	return python
}

// curve is one sweep: its points and which coordinate varies.
type curve struct {
	Title, XLabel string
	Points        []curvePoint
	X             func(curvePoint) int
}

func curvesMarkdown(hc, bc curve, programs []curveProgram, timings map[string]map[curvePoint]curveTiming,
	peaks []peakResult, peak peakResult, limit, epochs, rounds int, skipped []string, plotDir string, worstOthers float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "float32, η 3.0, %d epochs of the first %d training images per run, no evaluation, %s; "+
		"the median epoch is scaled to a full %d-image epoch (×%g). "+
		"The floor is the FLOPs of the book's algorithm per epoch (see below) over the best measured peak, %.0f GFLOP/s (%s, %d cores).\n\n",
		epochs, limit, curveRuns(rounds), fullEpoch, float64(fullEpoch)/float64(limit), peak.Flops/1e9, peak.What, peak.Cores)
	for _, c := range []curve{hc, bc} {
		header := []string{c.XLabel, "GFLOP per epoch", "floor s"}
		align := "rrr"
		for _, p := range programs {
			header = append(header, p.name+" s")
			align += "r"
		}
		header = append(header, "gputrain ÷ floor", "gputrain µs per step")
		align += "rr"
		var rows [][]string
		for _, pt := range c.Points {
			fl := epochFLOPs(pt.sizes(), fullEpoch, pt.Batch)
			row := []string{strconv.Itoa(c.X(pt)), fmt.Sprintf("%.1f", fl/1e9), fmtSecs(fl / peak.Flops)}
			for _, p := range programs {
				t := timings[p.id][pt]
				if !t.OK {
					row = append(row, "—")
					continue
				}
				row = append(row, fmtSecs(t.Median))
			}
			if g := timings["gputrain"][pt]; g.OK {
				steps := (fullEpoch + pt.Batch - 1) / pt.Batch
				row = append(row, fmt.Sprintf("%.1f×", g.Median/(fl/peak.Flops)), fmt.Sprintf("%.1f", 1e6*g.Median/float64(steps)))
			} else {
				row = append(row, "—", "—")
			}
			rows = append(rows, row)
		}
		fmt.Fprintf(&b, "Seconds per 50,000-image epoch against %s:\n\n", c.Title)
		b.WriteString(table(header, align, rows))
		b.WriteString("\n")
	}
	if worstOthers >= 0 {
		fmt.Fprintf(&b, "Other processes took at most %s of the CPU during any of these runs.\n\n", fmtShare(worstOthers))
	}
	if plotDir != "" {
		fmt.Fprintf(&b, "![seconds per epoch against hidden size](%s/cost-hidden.png)\n![seconds per epoch against batch size](%s/cost-batch.png)\n\n",
			filepath.ToSlash(plotDir), filepath.ToSlash(plotDir))
	}
	b.WriteString("Measured peak of this CPU (best single call of a large float32 product):\n\n")
	b.WriteString(peaksMarkdown(peaks))
	if len(skipped) > 0 {
		b.WriteString("\nSkipped:\n\n")
		for _, s := range skipped {
			b.WriteString("- " + strings.ReplaceAll(s, "\n", " ") + "\n")
		}
	}
	return b.String()
}
