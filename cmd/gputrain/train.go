package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/cuda"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

var errInterrupted = errors.New("interrupted")

// trainFlags are the settings that define a training run; a checkpoint
// records them so that --resume continues the same run.
type trainFlags struct {
	Sizes      cli.IntList `json:"sizes"`
	Epochs     int         `json:"epochs"`
	BatchSize  int         `json:"batch_size"`
	Eta        float64     `json:"eta"`
	Seed       uint64      `json:"seed"`
	Dtype      string      `json:"dtype"`
	TrainLimit int         `json:"train_limit"`
	NoShuffle  bool        `json:"no_shuffle"`
	Eval       string      `json:"eval"`
}

// checkpointFile is the name of the checkpoint inside a --checkpoint directory.
const checkpointFile = "checkpoint.json"

// checkpoint is everything --resume needs to continue bit for bit.
type checkpoint struct {
	Flags    trainFlags     `json:"flags"`
	Position train.Position `json:"position"`
	Results  []train.Result `json:"results"`
	Model    *graph.Network `json:"model"`
}

type trainCmd struct {
	trainFlags
	device, data, init, save string
	checkpointDir, resume    string
	quiet                    bool
	plot                     string
	logFormat                string
	set                      map[string]bool // flags given on the command line
	evalCosts                map[int]float64 // the evaluation cost by epoch, for --plot
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := &trainCmd{trainFlags: trainFlags{Sizes: cli.IntList{784, 30, 10}}}
	fs := cli.NewFlags("gputrain train")
	fs.Var(&c.Sizes, "sizes", "layer sizes, comma-separated: 784 inputs first, 10 outputs last")
	fs.IntVar(&c.Epochs, "epochs", 30, "number of epochs")
	fs.IntVar(&c.BatchSize, "batch-size", 10, "mini-batch size")
	fs.Float64Var(&c.Eta, "eta", 3.0, "learning rate η")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the initial weights and of the shuffling")
	fs.StringVar(&c.device, "device", "cpu", "cpu or cuda")
	fs.StringVar(&c.Dtype, "dtype", "float32", "float32 or float64")
	fs.StringVar(&c.data, "data", defaultData, "directory of the MNIST files (fetched there when missing)")
	fs.IntVar(&c.TrainLimit, "train-limit", 0, "train on the first N training images only (0: all 50,000)")
	fs.BoolVar(&c.NoShuffle, "no-shuffle", false, "take mini-batches in file order")
	fs.StringVar(&c.init, "init", "", "start from this model file (network2.py JSON) instead of random weights")
	fs.StringVar(&c.save, "save", "", "write the trained model to this file (network2.py JSON)")
	fs.StringVar(&c.Eval, "eval", "test", "evaluate after each epoch on test, validation or none")
	fs.StringVar(&c.checkpointDir, "checkpoint", "", "write a checkpoint to this directory after every epoch")
	fs.StringVar(&c.resume, "resume", "", "continue the run checkpointed in this directory")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	fs.StringVar(&c.plot, "plot", "", "write a PNG plot of accuracy and cost per epoch to this file")
	fs.StringVar(&c.logFormat, "log-format", "text", "text (the book's lines) or json (one object per epoch)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })

	var ck *checkpoint
	if c.resume != "" {
		var err error
		if ck, err = c.loadCheckpoint(); err != nil {
			return err
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	return c.run(ck, stdout, stderr)
}

// validate checks the flags that need no files.
func (c *trainCmd) validate() error {
	if c.set["init"] || c.resume != "" {
		// sizes may come from the model; checked once it is read
	} else if err := graph.CheckSizes(c.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	switch {
	case c.Epochs < 1:
		return cli.Usagef("--epochs %d: must be at least 1", c.Epochs)
	case c.BatchSize < 1:
		return cli.Usagef("--batch-size %d: must be at least 1", c.BatchSize)
	case !(c.Eta > 0) || math.IsInf(c.Eta, 0):
		return cli.Usagef("--eta %v: must be a finite number > 0", c.Eta)
	case c.TrainLimit < 0:
		return cli.Usagef("--train-limit %d: must be 0 (all) or more", c.TrainLimit)
	case c.device != "cpu" && c.device != "cuda":
		return cli.Usagef("--device %q: want cpu or cuda", c.device)
	case c.Eval != "test" && c.Eval != "validation" && c.Eval != "none":
		return cli.Usagef("--eval %q: want test, validation or none", c.Eval)
	case c.logFormat != "text" && c.logFormat != "json":
		return cli.Usagef("--log-format %q: want text or json", c.logFormat)
	}
	if _, err := graph.ParseDtype(c.Dtype); err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	for _, f := range []struct{ flag, path string }{{"save", c.save}, {"plot", c.plot}} {
		if f.path != "" {
			if err := graph.CheckWritable(f.path); err != nil {
				return cli.Usagef("--%s: %v", f.flag, err)
			}
		}
	}
	if c.device == "cuda" && !cuda.Available {
		return cli.Usagef("--device cuda: %v", cuda.ErrNoCUDA)
	}
	return nil
}

// loadCheckpoint reads --resume's checkpoint and takes its settings; flags
// given on the command line must agree with them, except --epochs.
func (c *trainCmd) loadCheckpoint() (*checkpoint, error) {
	path := filepath.Join(c.resume, checkpointFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Usagef("--resume: %v", err)
	}
	var ck checkpoint
	if err := json.Unmarshal(data, &ck); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ck.Model == nil {
		return nil, fmt.Errorf("%s: no model", path)
	}
	f := ck.Flags
	for _, d := range []struct {
		name      string
		same      bool
		have, ckv any
	}{
		{"sizes", slices.Equal(c.Sizes, f.Sizes), c.Sizes.String(), f.Sizes.String()},
		{"batch-size", c.BatchSize == f.BatchSize, c.BatchSize, f.BatchSize},
		{"eta", c.Eta == f.Eta, c.Eta, f.Eta},
		{"seed", c.Seed == f.Seed, c.Seed, f.Seed},
		{"dtype", c.Dtype == f.Dtype, c.Dtype, f.Dtype},
		{"train-limit", c.TrainLimit == f.TrainLimit, c.TrainLimit, f.TrainLimit},
		{"no-shuffle", c.NoShuffle == f.NoShuffle, c.NoShuffle, f.NoShuffle},
	} {
		if c.set[d.name] && !d.same {
			return nil, cli.Usagef("--%s %v differs from the checkpoint's %v in %s", d.name, d.have, d.ckv, c.resume)
		}
	}
	if c.set["init"] {
		return nil, cli.Usagef("--init and --resume exclude each other")
	}
	epochs, eval := c.Epochs, c.Eval
	c.trainFlags = f
	if c.set["epochs"] {
		c.Epochs = epochs
	}
	if c.set["eval"] {
		c.Eval = eval
	}
	if c.checkpointDir == "" {
		c.checkpointDir = c.resume
	}
	return &ck, nil
}

func (c *trainCmd) run(ck *checkpoint, stdout, stderr io.Writer) error {
	var net *graph.Network
	var err error
	switch {
	case ck != nil:
		net = ck.Model
	case c.init != "":
		if net, err = graph.Load(c.init); err != nil {
			return err
		}
		if c.set["sizes"] && !slices.Equal(c.Sizes, net.Sizes) {
			return cli.Usagef("--sizes %v differs from %s's sizes %v", c.Sizes.String(), c.init, net.Sizes)
		}
		c.Sizes = net.Sizes
	}
	if err := graph.CheckSizes(c.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	if net == nil {
		if net, err = graph.New(c.Sizes, c.Seed); err != nil {
			return err
		}
	}
	dt, _ := graph.ParseDtype(c.Dtype)

	data, err := mnist.Ensure(c.data, stderr)
	if err != nil {
		return err
	}
	training := data.Training
	if c.TrainLimit > 0 {
		if c.TrainLimit > training.Len() {
			return cli.Usagef("--train-limit %d: the training set has %d images", c.TrainLimit, training.Len())
		}
		training = training.Slice(0, c.TrainLimit)
	}
	var eval *mnist.Set
	switch c.Eval {
	case "test":
		eval = data.Test
	case "validation":
		eval = data.Validation
	}

	open := train.Opener(cpu.Open)
	if c.device == "cuda" {
		open = cuda.Open
	}
	cfg := train.Config{Sizes: c.Sizes, BatchSize: c.BatchSize, Eta: c.Eta, Dtype: dt}
	b, err := open(cfg, training)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.SetNetwork(net); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := train.Options{Epochs: c.Epochs, Eval: eval}
	var results []train.Result
	if ck != nil {
		opt.Start, results = ck.Position, ck.Results
		if opt.Start.Epoch >= c.Epochs {
			return cli.Usagef("--resume: the checkpoint is at epoch %d of %d already; raise --epochs", opt.Start.Epoch, c.Epochs)
		}
	}
	bar := newProgress(stderr, c.quiet, training.Len(), c.Epochs)
	opt.Progress = bar.update
	sh := train.NewShuffler(c.Seed, !c.NoShuffle)
	err = train.Run(ctx, b, training.Len(), sh, opt, func(r train.Result, next train.Position) error {
		bar.clear()
		results = append(results, r)
		printEpoch(stdout, c.logFormat, r)
		if c.plot != "" {
			if err := c.plotEpoch(b, eval, results); err != nil {
				return err
			}
		}
		if c.checkpointDir != "" {
			return c.writeCheckpoint(b, next, results)
		}
		return nil
	})
	bar.clear()
	var in *train.Interrupted
	if errors.As(err, &in) {
		dir := c.checkpointDir
		if dir == "" {
			dir = "gputrain-checkpoint"
		}
		c.checkpointDir = dir
		if werr := c.writeCheckpoint(b, in.At, results); werr != nil {
			return fmt.Errorf("%v; saving the checkpoint failed: %w", in, werr)
		}
		return fmt.Errorf("%w in epoch %d after %d images: checkpoint saved; continue with: gputrain train --resume %s",
			errInterrupted, in.At.Epoch, in.At.Done, dir)
	}
	if err != nil {
		return err
	}
	if c.save != "" {
		final, err := b.Network()
		if err != nil {
			return err
		}
		if err := final.Save(c.save); err != nil {
			return err
		}
	}
	return c.finish(stderr, results)
}

func (c *trainCmd) writeCheckpoint(b train.Backend, at train.Position, results []train.Result) error {
	net, err := b.Network()
	if err != nil {
		return err
	}
	if err := net.Check(); err != nil {
		return fmt.Errorf("not checkpointing a diverged network: %w", err)
	}
	data, err := json.Marshal(checkpoint{Flags: c.trainFlags, Position: at, Results: results, Model: net})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.checkpointDir, 0o755); err != nil {
		return err
	}
	return graph.WriteFileAtomic(filepath.Join(c.checkpointDir, checkpointFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// printEpoch writes the book's line, "Epoch 0: 9059 / 10000", and the
// epoch's training time; or one JSON object.
func printEpoch(w io.Writer, format string, r train.Result) {
	if format == "json" {
		line, _ := json.Marshal(map[string]any{
			"epoch": r.Epoch, "correct": r.Correct, "total": r.Total, "accuracy": r.Accuracy(),
			"cost": r.Cost, "seconds": r.Seconds, "eval_seconds": r.EvalSecs,
			"peak_rss_mb": float64(peakRSS()) / (1 << 20),
		})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	if r.Total > 0 {
		fmt.Fprintf(w, "Epoch %d: %d / %d (%.2fs)\n", r.Epoch, r.Correct, r.Total, r.Seconds)
	} else {
		fmt.Fprintf(w, "Epoch %d complete (%.2fs)\n", r.Epoch, r.Seconds)
	}
}
