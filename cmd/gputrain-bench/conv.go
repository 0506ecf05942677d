package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/train"
)

// `gputrain-bench conv`: an epoch of chapter 6's networks, gputrain train
// --layers against PyTorch on the CPU (peers/torch_conv.py, oneDNN
// convolutions), the same layers and batch, side by side in one run.

// convTargets are issue 24's targets for PyTorch's time over gputrain's,
// by batch size: at least 5× at batch 10, no slower at batch 100.
var convTargets = map[int]float64{10: 5, 100: 1}

func runConv(args []string, stdout, stderr io.Writer) error {
	b := &bench{parallel: 1, log: stderr}
	fs := cli.NewFlags("gputrain-bench conv")
	b.register(fs, "the markdown file whose --section is rewritten")
	b.timingFlags(fs, "")
	rounds := fs.Lookup("rounds")
	rounds.DefValue = "1" // an epoch of PyTorch at batch 10 takes minutes here
	rounds.Value.Set("1")
	nets := fs.String("nets", "shallow,relu", "the networks, comma-separated: "+strings.Join(ch6IDs(), ", ")+" (each on the standard training set)")
	batches := fs.String("batch-sizes", "10,100", "mini-batch sizes, comma-separated")
	epochs := fs.Int("epochs", 1, "epochs per run")
	limit := fs.Int("train-limit", 0, "time on the first N training images, scaled to 50,000 (0: all)")
	threads := fs.Int("threads", 2, "PyTorch's threads (torch.set_num_threads)")
	peak := fs.Bool("peak", true, "measure the CPU's float32 peak, for the floor column")
	section := fs.String("section", "conv", "the section of --out that the table replaces (<!-- bench:NAME -->)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	ids, _, err := parseSpec(*nets, ch6IDs(), false)
	if err != nil {
		return cli.Usagef("--nets: %v", err)
	}
	var sizes []int
	for _, f := range strings.Split(*batches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return cli.Usagef("--batch-sizes %q: want whole numbers ≥ 1, comma-separated", *batches)
		}
		sizes = append(sizes, n)
	}
	if len(ids) == 0 || *epochs < 1 || *limit < 0 || *limit > fullEpoch || *threads < 1 {
		return cli.Usagef("--nets needs one, --epochs and --threads at least 1, --train-limit 0 to %d", fullEpoch)
	}
	if err := b.check(); err != nil {
		return err
	}
	settings := convSettings(b, ids, sizes, *epochs, *limit, *threads)
	m := describeMachine(b.python)
	fmt.Fprintf(b.log, "machine:\n%s", m)
	var best peakResult
	if *peak {
		_, best = measurePeaks(b.python, b.log)
	}
	results := b.run(settings)
	if !slices.ContainsFunc(results, result.ok) {
		return fmt.Errorf("no program ran%s", strings.ReplaceAll(skippedList(results), "\n- ", "\n  "))
	}
	// The machine goes in the section itself: the machine section
	// describes the peers tables, measured at another time.
	body := "Measured on:\n\n" + m + "\n" + convMarkdown(results, ids, sizes, best.Flops, *limit)
	return b.write(stdout, body, *section, body)
}

// convSettings are, per network and batch size, gputrain's epoch and
// PyTorch's, one after the other.
func convSettings(b *bench, ids []string, batches []int, epochs, limit, threads int) []setting {
	var out []setting
	for _, id := range ids {
		flags := standardSet(ch6ByID(id).flags)
		for _, m := range batches {
			common := []string{"--data", b.data, "--dtype", "float32", "--epochs", strconv.Itoa(epochs),
				"--batch-size", strconv.Itoa(m), "--train-limit", strconv.Itoa(limit), "--eval", "test"}
			args := trainflags.Peer{Config: train.Config{BatchSize: m, TrainLimit: limit}}
			gputrain := slices.Concat([]string{filepath.Join(b.bin, "gputrain"), "train", "--log-format", "json", "--quiet", "--best-validation=false"}, common, flags)
			torch := slices.Concat([]string{b.python, filepath.Join(b.scripts, "torch_conv.py"), "--threads", strconv.Itoa(threads)}, common, flags)
			out = append(out,
				setting{prog: program{id: "gputrain", name: "gputrain CPU", needs: "layers"}, args: args, argv: gputrain, label: fmt.Sprintf("gputrain %s batch %d", id, m)},
				setting{prog: program{id: "torch-conv", name: "PyTorch CPU (oneDNN)", needs: "torch"}, args: args, argv: torch, label: fmt.Sprintf("torch-conv %s batch %d", id, m)})
		}
	}
	return out
}

// standardSet is flags without --train-set: the speed runs train on the
// standard 50,000 images, whose epoch the table counts.
func standardSet(flags []string) []string {
	out := slices.Clone(flags)
	if i := slices.Index(out, "--train-set"); i >= 0 {
		out = slices.Delete(out, i, i+2)
	}
	return out
}

// forwardFlops is one image's forward pass through layers (issue 24's
// --layers) in floating-point operations: 2 per multiply-add of the
// convolutions and the fully connected layers (pooling, activations and
// biases are left out). A training step is about three times it: the
// forward pass, then the gradients of the inputs and of the weights.
func forwardFlops(layers string) float64 {
	c, h, w := 1, 28, 28
	var flops float64
	for _, l := range strings.Split(layers, ",") {
		kind, arg, _ := strings.Cut(l, ":")
		arg, _, _ = strings.Cut(arg, ":")
		switch kind {
		case "conv":
			var n, kh, kw int
			fmt.Sscanf(arg, "%dx%dx%d", &n, &kh, &kw)
			h, w = h-kh+1, w-kw+1
			flops += 2 * float64(n*c*kh*kw*h*w)
			c = n
		case "pool":
			k, _ := strconv.Atoi(arg)
			h, w = h/k, w/k
		case "fc", "softmax":
			n, _ := strconv.Atoi(arg)
			flops += 2 * float64(c*h*w*n)
			c, h, w = n, 1, 1
		}
	}
	return flops
}

// convMarkdown is the table: per network and batch size the median
// seconds of an epoch of each program, PyTorch's over gputrain's against
// the target, and the arithmetic floor at the measured peak (peak FLOP/s,
// 0 for none).
func convMarkdown(results []result, ids []string, batches []int, peak float64, limit int) string {
	others := -1.0 // the most of the CPU other processes took during the row's runs
	med := func(prog, id string, m int) (float64, bool) {
		for _, r := range results {
			if r.ok() && r.prog.id == prog && strings.HasPrefix(r.label, prog+" "+id+" ") && r.args.BatchSize == m {
				s, _ := r.perEpoch(fullEpoch)
				_, o := r.worst()
				others = max(others, o)
				return s, true
			}
		}
		return 0, false
	}
	var rows [][]string
	for _, id := range ids {
		layers := ch6ByID(id).flags[1]
		work := 3 * forwardFlops(layers)
		for _, m := range batches {
			others = -1
			g, gok := med("gputrain", id, m)
			t, tok := med("torch-conv", id, m)
			cells := []string{ch6ByID(id).name, strconv.Itoa(m), "—", "—", "—", "—", "—",
				fmt.Sprintf("%.2f", work/1e6), "—", "—", fmtShare(others)}
			if gok {
				cells[2] = fmtSecs(g)
			}
			if tok {
				cells[3] = fmtSecs(t)
			}
			if target, ok := convTargets[m]; ok {
				cells[5] = fmt.Sprintf("≥ %g×", target)
				if gok && tok {
					cells[6] = map[bool]string{true: "yes", false: "no"}[t/g >= target]
				}
			}
			if gok && tok {
				cells[4] = fmt.Sprintf("%.1f×", t/g)
			}
			if peak > 0 {
				floor := work * fullEpoch / peak
				cells[8] = fmtSecs(floor)
				if gok {
					cells[9] = fmt.Sprintf("%.1f×", g/floor)
				}
			}
			rows = append(rows, cells)
		}
	}
	images := "the 50,000 training images"
	if limit != 0 {
		images = fmt.Sprintf("the first %d training images, times scaled to 50,000", limit)
	}
	return fmt.Sprintf("An epoch of chapter 6's networks on %s, float32, side by side in one run: gputrain train --layers on the CPU, "+
		"and the same layers, initialisation, cost and update in PyTorch (peers/torch_conv.py: torch.set_num_threads(2), "+
		"oneDNN convolutions, autograd). The work is 3× the forward pass's multiply-adds of the convolutions and "+
		"fully connected layers; the floor is an epoch of it at the CPU's measured float32 peak.\n\n", images) +
		table([]string{"network", "batch", "gputrain s/epoch", "PyTorch s/epoch", "PyTorch ÷ gputrain", "target", "met",
			"MFLOP/image", "floor s/epoch", "gputrain ÷ floor", "CPU taken by others"}, "lrrrrrlrrrr", rows) +
		skippedList(results)
}
