package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// gputrain train: the command and its run, from the flags to the summary.
// Its parts by job: the flags (train_flags.go), the checkpoint format
// (checkpoint.go), --resume (resume.go), the checkpoint folder's lock
// (lock.go), the epoch lines (train_output.go), and what a run does so that
// nothing is lost (fallback.go).

var errInterrupted = errors.New("interrupted")

type trainCmd struct {
	trainFlags
	run                  string // the run's id, kept across --resume
	device, init, resume string
	maxMemory            string
	quiet                bool
	set                  map[string]bool // flags given on the command line
	stderr               io.Writer
	lock                 io.Closer // on the checkpoint folder while the run writes it
	limit                memlimit.Limit
	resumedFrom          string          // absolute path of --resume
	evalCosts            map[int]float64 // the evaluation cost by epoch, for --plot
	saveLock             io.Closer       // on --save's lock file while the run may write it
	saveLockPath         string
	// Whether each epoch's --plot and --checkpoint were written, for the
	// summary's Files line.
	plotWrites, checkpointWrites writes
	// network3's report (best.go): --best-validation, the held-out set
	// --eval does not name, evaluated after each epoch, and its counts.
	bestValidation bool
	other          *mnist.Set
	held           []heldOut
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := &trainCmd{trainFlags: trainFlags{Config: train.Book()}, stderr: stderr}
	fs := cli.NewFlags("gputrain train")
	trainflags.Register(fs, &c.Config)
	fs.StringVar((*string)(&c.Activation), "activation", string(c.Activation), "the hidden layers' neurons: "+oneOf(network.Activations)+" (the output layer stays sigmoid, or softmax with the log-likelihood)")
	fs.Var(layersFlag{&c.Layers}, "layers", "chapter 6's network (network3.py) in place of --sizes: the layers after the 28×28 input, comma-separated, each KIND:ARGS[:OPTIONS]: conv:20x5x5, pool:2, fc:100, softmax:10 (last); options relu or sigmoid, dropout=P")
	fs.StringVar((*string)(&c.Cost), "cost", string(c.Cost), "the cost to minimise: "+oneOf(network.Costs))
	fs.Float64Var(&c.Lambda, "lambda", 0, "L2 regularisation λ (network2's weight decay 1 − ηλ/n, n the training images)")
	fs.StringVar((*string)(&c.WeightInit), "weight-init", string(c.WeightInit), "initial weights: large (N(0,1)) or scaled (N(0,1/n_in), network2's default)")
	fs.BoolVar(&c.Monitor, "monitor", false, "after each epoch measure network2's four monitors (cost and accuracy on the training and evaluation sets) and print them after the book's line")
	fs.BoolVar(&c.bestValidation, "best-validation", true, "also evaluate the other held-out set after each epoch (validation with --eval test, test with --eval validation) and report the test accuracy at the epoch of best validation accuracy, as network3 does")
	cli.IntVar(fs, &c.EarlyStop, "early-stop", 0, "stop when the evaluation accuracy has not improved for N epochs (network2's early_stopping_n; 0: never)")
	fs.StringVar(&c.device, "device", "cpu", deviceFlagHelp)
	fs.StringVar(&c.TrainSet, "train-set", c.TrainSet, trainSetHelp)
	fs.StringVar(&c.Data, "data", defaultData, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz")
	fs.BoolVar(&c.NonCanonical, "allow-noncanonical", false, "read MNIST files that are not the canonical ones (a dataset of your own)")
	fs.StringVar(&c.init, "init", "", "start from this model file (network2.py JSON) instead of random weights")
	fs.StringVar(&c.Save, "save", "", "write the trained model to this file (network2.py JSON)")
	fs.StringVar(&c.Checkpoint, "checkpoint", "", "write a checkpoint to this directory after every epoch")
	fs.StringVar(&c.resume, "resume", "", "continue the run checkpointed in this directory, with its settings")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	fs.StringVar(&c.Plot, "plot", "", "write a PNG plot of accuracy and cost per epoch to this file")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text (the book's lines) or json (one object per epoch)")
	fs.StringVar(&c.maxMemory, "max-memory", "", "refuse a run needing more memory than this (4GiB, 500MB; default: what the machine has available)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.layersFlags(); err != nil {
		return err
	}

	limit, err := memlimit.Get(c.maxMemory)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	c.limit = limit
	var ck *checkpoint
	if c.resume != "" {
		if ck, err = c.loadCheckpoint(limit); err != nil {
			return err
		}
	} else {
		c.run = newRunID()
	}
	if err := c.validate(); err != nil {
		return err
	}
	var net *network.Network
	switch {
	case ck != nil:
		net = ck.Model
	case c.init != "":
		if net, err = loadModel(c.init, limit); err != nil {
			return err
		}
		if err := c.initLayers(net); err != nil {
			return err
		}
		if c.set["sizes"] && !slices.Equal(c.Sizes, net.Sizes) {
			return cli.Usagef("--sizes %v differs from %s's sizes %v", cli.Ints(c.Sizes), c.init, net.Sizes)
		}
		c.Sizes = net.Sizes
		// The model's neurons, unless the command line names them (and
		// then they must agree: the backend refuses another network).
		if !c.set["activation"] {
			c.Activation = net.Spec.Norm().Activation
		}
	}
	if err := c.checkMemory(limit); err != nil {
		return err
	}
	defer c.unlock()
	defer c.unlockSave()
	if err := c.prepareOutputs(); err != nil {
		return err
	}
	return c.train(ck, net, stdout)
}

func (c *trainCmd) train(ck *checkpoint, net *network.Network, stdout io.Writer) error {
	var err error
	if net == nil {
		init := network.WeightInit(c.WeightInit)
		if init == "" {
			init = network.Large
		}
		if net, err = network.NewSpec(c.spec(), c.Seed, init); err != nil {
			return err
		}
	}
	data, err := mnist.EnsureWith(c.Data, c.stderr, dataOptions(c.NonCanonical, c.limit))
	if err != nil {
		return err
	}
	if err := checkDeviceData(c.device, data, "train on"); err != nil {
		return err
	}
	if err := useTrainSet(c.TrainSet, c.Data, data, c.stderr); err != nil {
		return err
	}
	training, eval, err := trainflags.Sets(c.Config, data)
	if err != nil {
		return err
	}
	if training.Len() == 0 {
		return fmt.Errorf("--data %s: the training set has no images: nothing to train on", c.Data)
	}
	if eval != nil && eval.Len() == 0 {
		return fmt.Errorf("--eval %s: the %s set of %s has no images (--eval none trains without evaluating)", c.Eval, c.Eval, c.Data)
	}
	if c.bestValidation {
		c.other = otherSet(c.Eval, data)
	}
	// The book's SGD cuts an epoch into mini-batches of at most the batch
	// size: a batch size larger than the training set is one mini-batch of
	// all of it, which is what the configuration runs.
	cfg := c.Config.Norm().On(training.Len())
	batch := cfg.BatchSize
	if batch < c.BatchSize {
		fmt.Fprintf(c.stderr, "gputrain train: note: --batch-size %d is more than the %d training images: each epoch is one mini-batch of %d\n",
			c.BatchSize, training.Len(), batch)
	}
	if ck != nil {
		if p := ck.Position; p.Done > training.Len() || p.Done%batch != 0 && p.Done != training.Len() {
			return fmt.Errorf("%s: bad checkpoint: position: %d images done is not a whole number of mini-batches of %d within the %d training images",
				filepath.Join(c.resume, checkpointFile), p.Done, batch, training.Len())
		}
	}

	b, err := opener(c.device)(cfg, training)
	if err != nil {
		return err
	}
	defer b.Close()
	if d, ok := b.(interface{ Device() string }); ok {
		fmt.Fprintf(c.stderr, "device: %s\n", d.Device())
	}
	if err := b.SetNetwork(net); err != nil {
		return err
	}

	ctx, stop := context.Background(), context.CancelFunc(func() {})
	if sigs := stopSignals(); len(sigs) > 0 { // none would mean every signal
		ctx, stop = signal.NotifyContext(ctx, sigs...)
	}
	defer stop()
	opt := train.Options{Epochs: c.Epochs, Eval: eval}
	var results []train.Result
	if ck != nil {
		opt.Start, results, c.held = ck.Position, ck.Results, ck.Held
		if opt.Start.Epoch >= c.Epochs {
			return c.finished(b, opt.Start.Epoch, stdout)
		}
	}
	bar := newProgress(c.stderr, c.quiet, training.Len(), c.Epochs)
	if bar.on {
		// Only for a bar someone sees: the CUDA backend reads the costs
		// back for it.
		opt.Progress = bar.update
	}
	sh := train.NewShuffler(c.Seed, !c.NoShuffle)
	last := opt.Start
	err = train.Run(ctx, b, training.Len(), sh, opt, func(r train.Result, next train.Position) error {
		bar.clear()
		if err := c.evalOther(b, &r); err != nil {
			return err
		}
		if c.Monitor {
			if r.Monitors, err = measureMonitors(b, training, eval); err != nil {
				return err
			}
		}
		results = append(results, r)
		last = next
		printEpoch(stdout, c.LogFormat, r, c.heldAt(r.Epoch))
		// A plot or a checkpoint that cannot be written (a full disk)
		// costs a warning, not the run.
		if c.Plot != "" {
			err := c.plotEpoch(b, eval, results)
			c.plotWrites.record(r.Epoch, err)
			if err != nil {
				c.warn("--plot: %v; training goes on", err)
			}
		}
		if c.Checkpoint != "" {
			err := c.writeCheckpoint(b, c.Checkpoint, next, results)
			c.checkpointWrites.record(r.Epoch, err)
			if err != nil {
				c.warn("--checkpoint: %v; training goes on", err)
			}
		}
		if train.Stalled(results, c.EarlyStop) {
			return errEarlyStop
		}
		return nil
	})
	bar.clear()
	if err == errEarlyStop {
		fmt.Fprintf(c.stderr, "gputrain train: early stop: the %s accuracy has not improved for %d epochs (--early-stop %d)\n", c.Eval, c.EarlyStop, c.EarlyStop)
		err = nil
	}
	var in *train.Interrupted
	if errors.As(err, &in) {
		return c.interrupted(b, in, results)
	}
	if err != nil {
		return err
	}
	c.printBest(stdout, results)
	if c.Save != "" {
		if err := c.save(b); err != nil {
			return c.keep(b, last, results, fmt.Errorf("--save: %w", err))
		}
	}
	return c.finish(c.stderr, results)
}

// errEarlyStop ends a run whose accuracy has stalled (--early-stop).
var errEarlyStop = errors.New("early stop")

// stopSignals are the signals that checkpoint and stop a run: SIGINT,
// SIGTERM, and SIGHUP, so that a dropped SSH session does not lose it.
// One the run was started ignoring (nohup, a background job) stays ignored.
func stopSignals() []os.Signal {
	var sigs []os.Signal
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

func (c *trainCmd) save(b train.Trainer) error {
	net, err := b.Network()
	if err != nil {
		return err
	}
	return net.Save(c.Save)
}

func (c *trainCmd) warn(format string, args ...any) {
	fmt.Fprintf(c.stderr, "gputrain train: warning: "+format+"\n", args...)
}
