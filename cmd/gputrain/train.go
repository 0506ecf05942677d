package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"strings"
	"syscall"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cmd/internal/rss"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
	"github.com/gputrain/gputrain/mnist"
)

var errInterrupted = errors.New("interrupted")

// trainFlags are the settings of a training run; a checkpoint records them
// so that --resume DIR alone continues the run as it was started.
type trainFlags struct {
	// The flags every program that trains the book's network takes (the
	// benchmark's Go peers too); their JSON names are inline here.
	trainflags.Flags
	// Chapter 3's settings, gputrain's own; empty or 0 (the defaults) in
	// older checkpoints.
	Activation string  `json:"activation,omitempty"`
	Cost       string  `json:"cost,omitempty"`
	Lambda     float64 `json:"lambda,omitempty"`
	WeightInit string  `json:"weight_init,omitempty"`
	EarlyStop  int     `json:"early_stop,omitempty"`
	Monitor    bool    `json:"monitor,omitempty"`
	// Where the run reads and writes, as absolute paths in a checkpoint
	// (empty in checkpoints older than these fields: the defaults).
	Data         string `json:"data,omitempty"`
	NonCanonical bool   `json:"allow_noncanonical,omitempty"`
	Save         string `json:"save,omitempty"`
	Plot         string `json:"plot,omitempty"`
	LogFormat    string `json:"log_format,omitempty"`
	Checkpoint   string `json:"checkpoint,omitempty"`
}

// check returns the first invalid setting as the flag's name and what is
// wrong with its value (" 0: must be at least 1"), for the command line
// and for a checkpoint's stored flags alike.
func (f *trainFlags) check(sizesChecked bool) (flag, fault string) {
	if sizesChecked {
		if err := network.CheckSizes(f.Sizes); err != nil {
			return "sizes", ": " + err.Error()
		}
	}
	if flag, fault := f.Flags.Fault(); flag != "" {
		return flag, fault
	}
	switch {
	case f.Activation != "" && !slices.Contains(network.Activations, network.Activation(f.Activation)):
		return "activation", fmt.Sprintf(" %q: want %s", f.Activation, oneOf(network.Activations))
	case f.Cost != "" && !slices.Contains(network.Costs, network.Cost(f.Cost)):
		return "cost", fmt.Sprintf(" %q: want %s", f.Cost, oneOf(network.Costs))
	case !(f.Lambda >= 0) || math.IsInf(f.Lambda, 0):
		return "lambda", fmt.Sprintf(" %v: must be a finite number ≥ 0", f.Lambda)
	case f.EarlyStop < 0:
		return "early-stop", fmt.Sprintf(" %d: must be 0 (never) or more", f.EarlyStop)
	case f.EarlyStop > 0 && f.Eval == "none":
		return "early-stop", fmt.Sprintf(" %d: stops on the evaluation accuracy, and --eval is none", f.EarlyStop)
	case f.WeightInit != "" && f.WeightInit != string(network.Large) && f.WeightInit != string(network.Scaled):
		return "weight-init", fmt.Sprintf(" %q: want %s or %s", f.WeightInit, network.Large, network.Scaled)
	}
	if f.LogFormat != "text" && f.LogFormat != "json" {
		return "log-format", fmt.Sprintf(" %q: want text or json", f.LogFormat)
	}
	return "", ""
}

// spec is the network the flags describe.
func (f *trainFlags) spec() network.Spec {
	return network.Spec{Sizes: f.Sizes, Activation: network.Activation(f.Activation), Cost: network.Cost(f.Cost), Lambda: f.Lambda}.Norm()
}

// oneOf lists names as a sentence does: "a, b or c".
func oneOf[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// checkpointFile is the name of the checkpoint inside a --checkpoint directory.
const checkpointFile = "checkpoint.json"

// defaultCheckpoint is where an interrupted run without --checkpoint, or
// one whose --save failed, leaves its checkpoint.
const defaultCheckpoint = "gputrain-checkpoint"

// checkpoint is everything --resume needs to continue bit for bit. Run
// comes first in the file, so that another run's checkpoint is told
// apart by reading its first bytes.
type checkpoint struct {
	Run      string           `json:"run"`
	Flags    trainFlags       `json:"flags"`
	Position train.Position   `json:"position"`
	Results  []train.Result   `json:"results"`
	Model    *network.Network `json:"model"`
}

// canonicalTraining is the size of the canonical training set.
const canonicalTraining = 50_000

// maxTraining, the training set of chapter 6's mnist_expanded.pkl.gz,
// bounds a checkpoint's position before the data is read.
const maxTraining = 250_000

// parseCheckpoint reads and validates a checkpoint: one JSON object and
// nothing after it, a model that agrees with the stored sizes, valid stored
// flags, a position inside its epoch and a shuffle state.
func parseCheckpoint(data []byte) (*checkpoint, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var ck checkpoint
	if err := dec.Decode(&ck); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the checkpoint's JSON object")
	}
	if ck.Model == nil {
		return nil, fmt.Errorf("no model")
	}
	f := &ck.Flags
	if f.LogFormat == "" {
		f.LogFormat = "text"
	}
	if flag, fault := f.check(true); flag != "" {
		return nil, fmt.Errorf("its stored --%s%s", flag, fault)
	}
	if !slices.Equal(ck.Model.Sizes, f.Sizes) {
		return nil, fmt.Errorf("its model's sizes %v differ from its stored --sizes %v", ck.Model.Sizes, f.Sizes.String())
	}
	p := ck.Position
	// Without --train-limit the epoch's size is the data's, checked once
	// it is read (the book's pickles hold up to maxTraining).
	n, whole := maxTraining, p.Done%f.BatchSize == 0 || p.Done <= maxTraining
	if f.TrainLimit > 0 {
		n, whole = f.TrainLimit, p.Done%f.BatchSize == 0 || p.Done == f.TrainLimit
	}
	switch {
	case p.Epoch < 0 || p.Epoch > f.Epochs:
		return nil, fmt.Errorf("position: epoch %d is outside the run's %d epochs", p.Epoch, f.Epochs)
	case p.Done < 0 || p.Done > n || !whole:
		return nil, fmt.Errorf("position: %d images done is not a whole number of mini-batches of %d within the %d images of an epoch",
			p.Done, f.BatchSize, n)
	case len(p.Shuffle) == 0:
		return nil, fmt.Errorf("position: no shuffle state, so the run could not continue as it would have")
	case len(ck.Results) != p.Epoch:
		return nil, fmt.Errorf("%d epoch results for a position in epoch %d", len(ck.Results), p.Epoch)
	}
	if err := train.NewShuffler(0, true).UnmarshalBinary(p.Shuffle); err != nil {
		return nil, fmt.Errorf("position: shuffle state: %w", err)
	}
	for i, r := range ck.Results {
		if r.Epoch != i {
			return nil, fmt.Errorf("results[%d] is for epoch %d", i, r.Epoch)
		}
	}
	return &ck, nil
}

// newRunID names a run, so that its checkpoints are told apart from
// another run's.
func newRunID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// checkpointRun returns the run id of the checkpoint in dir: "" with ok
// when there is none, and not ok when there is one that names no run.
// Only the file's first bytes are read.
func checkpointRun(dir string) (run string, ok bool) {
	f, _, err := safefile.Open(filepath.Join(dir, checkpointFile), "a checkpoint")
	if errors.Is(err, os.ErrNotExist) {
		return "", true
	}
	if err != nil {
		return "", false
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 4096))
	var toks [3]json.Token
	for i := range toks {
		if toks[i], err = dec.Token(); err != nil {
			return "", false
		}
	}
	run, _ = toks[2].(string)
	return run, toks[0] == json.Delim('{') && toks[1] == "run" && run != ""
}

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
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := &trainCmd{trainFlags: trainFlags{Flags: trainflags.Book()}, stderr: stderr}
	fs := cli.NewFlags("gputrain train")
	c.Flags.Register(fs)
	fs.StringVar(&c.Activation, "activation", "sigmoid", "the hidden layers' neurons: "+oneOf(network.Activations)+" (the output layer stays sigmoid, or softmax with the log-likelihood)")
	fs.StringVar(&c.Cost, "cost", "quadratic", "the cost to minimise: "+oneOf(network.Costs))
	fs.Float64Var(&c.Lambda, "lambda", 0, "L2 regularisation λ (network2's weight decay 1 − ηλ/n, n the training images)")
	fs.StringVar(&c.WeightInit, "weight-init", "large", "initial weights: large (N(0,1)) or scaled (N(0,1/n_in), network2's default)")
	fs.BoolVar(&c.Monitor, "monitor", false, "after each epoch measure network2's four monitors (cost and accuracy on the training and evaluation sets) and print them after the book's line")
	cli.IntVar(fs, &c.EarlyStop, "early-stop", 0, "stop when the evaluation accuracy has not improved for N epochs (network2's early_stopping_n; 0: never)")
	fs.StringVar(&c.device, "device", "cpu", deviceFlagHelp)
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
		if c.set["sizes"] && !slices.Equal(c.Sizes, net.Sizes) {
			return cli.Usagef("--sizes %v differs from %s's sizes %v", c.Sizes.String(), c.init, net.Sizes)
		}
		c.Sizes = net.Sizes
		// The model's neurons, unless the command line names them (and
		// then they must agree: the backend refuses another network).
		if !c.set["activation"] {
			c.Activation = string(net.Spec.Norm().Activation)
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

// validate checks the flags that need no files, and that every output
// can be written, before any work is done.
func (c *trainCmd) validate() error {
	if flag, fault := c.check(!c.set["init"] && c.resume == ""); flag != "" {
		return cli.Usagef("--%s%s", flag, fault)
	}
	if c.device != "cpu" && c.device != "cuda" { // cuda in a build without it: last
		return checkDevice(c.device)
	}
	if c.Data == "" {
		return cli.Usagef("--data is empty: name the folder of the MNIST files")
	}
	for _, f := range []struct{ flag, path string }{{"save", c.Save}, {"plot", c.Plot}} {
		if f.path != "" {
			if err := safefile.ProbeWritable(f.path); err != nil {
				return cli.Usagef("--%s: %v", f.flag, err)
			}
		}
	}
	// Last: a build without CUDA says so once the rest is right.
	return checkDevice(c.device)
}

// checkMemory refuses a run whose estimated peak memory exceeds limit.
func (c *trainCmd) checkMemory(limit memlimit.Limit) error {
	if err := network.CheckSizes(c.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	n := canonicalTraining
	if c.TrainLimit > 0 {
		n = min(n, c.TrainLimit)
	}
	dt, _ := graph.ParseDtype(c.Dtype)
	est := trainEstimate(c.Sizes, c.BatchSize, n, dt, c.Eval != "none", c.Save != "" || c.Checkpoint != "")
	what := fmt.Sprintf("--sizes %s at --batch-size %d in %s", c.Sizes.String(), min(c.BatchSize, n), c.Dtype)
	if err := limit.Check(what, est); err != nil {
		return cli.Usagef("%v", err)
	}
	return nil
}

// loadCheckpoint reads --resume's checkpoint and takes its settings. Flags
// given on the command line may change where the run reads and writes and
// how long it goes on; those that would make it another run are refused.
func (c *trainCmd) loadCheckpoint(limit memlimit.Limit) (*checkpoint, error) {
	path := filepath.Join(c.resume, checkpointFile)
	st, err := safefile.Check(path, "a checkpoint")
	if err != nil {
		return nil, cli.Usagef("--resume: %v", err)
	}
	// Reading it takes the file and its parsed numbers: a few times its size.
	if err := limit.Check("--resume "+c.resume+" ("+safefile.Bytes(st.Size())+")", baseBytes+4*float64(st.Size())); err != nil {
		return nil, cli.Usagef("%v", err)
	}
	data, err := safefile.ReadFile(path, "a checkpoint", st.Size())
	if err != nil {
		return nil, cli.Usagef("--resume: %v", err)
	}
	ck, err := parseCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("%s: bad checkpoint: %w", path, err)
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
		{"activation", c.spec().Activation == f.spec().Activation, c.Activation, f.spec().Activation},
		{"cost", c.spec().Cost == f.spec().Cost, c.Cost, f.spec().Cost},
		{"lambda", c.Lambda == f.Lambda, c.Lambda, f.Lambda},
		{"early-stop", c.EarlyStop == f.EarlyStop, c.EarlyStop, f.EarlyStop},
		{"weight-init", c.WeightInit == f.WeightInit || f.WeightInit == "" && c.WeightInit == string(network.Large), c.WeightInit, f.WeightInit},
	} {
		if c.set[d.name] && !d.same {
			return nil, cli.Usagef("--%s %v differs from the checkpoint's %v in %s: it would be another run", d.name, d.have, d.ckv, c.resume)
		}
	}
	if c.set["init"] {
		return nil, cli.Usagef("--init and --resume exclude each other")
	}
	// What may change: the command line wins; else the stored value; else
	// (an older checkpoint) the default.
	given := c.trainFlags
	c.trainFlags = f
	for _, o := range []struct {
		flag     string
		dst, src *string
	}{
		{"data", &c.Data, &given.Data}, {"save", &c.Save, &given.Save}, {"plot", &c.Plot, &given.Plot},
		{"log-format", &c.LogFormat, &given.LogFormat}, {"eval", &c.Eval, &given.Eval},
	} {
		if c.set[o.flag] || *o.dst == "" {
			*o.dst = *o.src
		}
	}
	if c.set["epochs"] {
		c.Epochs = given.Epochs
	}
	if c.set["allow-noncanonical"] {
		c.NonCanonical = given.NonCanonical
	}
	if c.set["monitor"] {
		c.Monitor = given.Monitor
	}
	// The run goes on checkpointing where its checkpoint was found, which
	// may have moved since it was written.
	c.Checkpoint = given.Checkpoint
	if c.Checkpoint == "" {
		c.Checkpoint = c.resume
	}
	c.run = ck.Run
	if c.run == "" {
		c.run = newRunID() // a checkpoint from before runs had names
	}
	c.resumedFrom, _ = filepath.Abs(c.resume)
	return ck, nil
}

// prepareOutputs makes the --checkpoint folder, locks it and checks that it
// holds no other run's checkpoint; without --checkpoint it checks that the
// folder an interrupt would use holds none either.
func (c *trainCmd) prepareOutputs() error {
	if err := c.lockSave(); err != nil {
		return err
	}
	if c.Checkpoint == "" {
		// An interrupt writes to gputrain-checkpoint/, or to a folder named
		// for this run when that one holds another's (fallbackDirs): an old
		// checkpoint there never blocks a new run.
		return nil
	}
	if err := os.MkdirAll(c.Checkpoint, 0o755); err != nil {
		return cli.Usagef("--checkpoint %s: %v", c.Checkpoint, unwrapPath(err))
	}
	if err := c.lockCheckpoint(c.Checkpoint); err != nil {
		return err
	}
	if !c.ownsCheckpoint(c.Checkpoint) {
		return c.foreignCheckpoint()
	}
	if err := safefile.ProbeWritable(filepath.Join(c.Checkpoint, checkpointFile)); err != nil {
		return cli.Usagef("--checkpoint: %v", err)
	}
	return nil
}

// ownsCheckpoint reports whether this run may write dir's checkpoint: there
// is none, or it is this run's.
func (c *trainCmd) ownsCheckpoint(dir string) bool {
	if abs, _ := filepath.Abs(dir); abs == c.resumedFrom {
		return true
	}
	run, ok := checkpointRun(dir)
	return ok && (run == "" || run == c.run)
}

func (c *trainCmd) lockCheckpoint(dir string) error {
	if c.lock != nil {
		return nil
	}
	l, err := lockDir(dir)
	if errors.Is(err, errLocked) {
		flag := "--checkpoint"
		if abs, _ := filepath.Abs(dir); abs == c.resumedFrom {
			flag = "--resume"
		}
		return cli.Usagef("%s %s: another gputrain run is writing to this folder", flag, dir)
	}
	if err != nil {
		return cli.Usagef("--checkpoint %s: locking it: %v", dir, unwrapPath(err))
	}
	c.lock = l
	return nil
}

func (c *trainCmd) unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// unwrapPath drops the operation and path of an *fs.PathError, which the
// message names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
	training, eval, err := c.Sets(data)
	if err != nil {
		return err
	}
	if training.Len() == 0 {
		return fmt.Errorf("--data %s: the training set has no images: nothing to train on", c.Data)
	}
	if eval != nil && eval.Len() == 0 {
		return fmt.Errorf("--eval %s: the %s set of %s has no images (--eval none trains without evaluating)", c.Eval, c.Eval, c.Data)
	}
	// The book's SGD cuts an epoch into mini-batches of at most the batch
	// size: a batch size larger than the training set is one mini-batch of
	// all of it, which is what the configuration runs.
	cfg := c.Config(c.spec(), training.Len())
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
		opt.Start, results = ck.Position, ck.Results
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
		if c.Monitor {
			if r.Monitors, err = measureMonitors(b, training, eval); err != nil {
				return err
			}
		}
		results = append(results, r)
		last = next
		printEpoch(stdout, c.LogFormat, r)
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

// finished handles a checkpoint whose run has no epoch left: it writes the
// model to --save, or says how to train on.
func (c *trainCmd) finished(b train.Trainer, epoch int, stdout io.Writer) error {
	if c.Save == "" {
		return cli.Usagef("--resume: the checkpoint is at epoch %d of %d already; raise --epochs, or give --save to write its model", epoch, c.Epochs)
	}
	if err := c.save(b); err != nil {
		return fmt.Errorf("--save: %w", err)
	}
	fmt.Fprintf(stdout, "the run in %s had finished its %d epochs: model written to %s\n", c.resume, epoch, c.Save)
	return nil
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

// stored is the flags as a checkpoint keeps them: paths made absolute, so
// that --resume finds them from any folder.
func (c *trainCmd) stored(dir string) trainFlags {
	f := c.trainFlags
	for _, p := range []*string{&f.Data, &f.Save, &f.Plot} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	f.Checkpoint, _ = filepath.Abs(dir)
	return f
}

func (c *trainCmd) writeCheckpoint(b train.Trainer, dir string, at train.Position, results []train.Result) error {
	net, err := b.Network()
	if err != nil {
		return err
	}
	if err := net.Check(); err != nil {
		return fmt.Errorf("not checkpointing a diverged network: %w", err)
	}
	data, err := json.Marshal(checkpoint{Run: c.run, Flags: c.stored(dir), Position: at, Results: results, Model: net})
	if err != nil {
		return err
	}
	return safefile.WriteFileAtomic(filepath.Join(dir, checkpointFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// printEpoch writes the book's line, "Epoch 0: 9059 / 10000", and the
// epoch's training time; or one JSON object.
func printEpoch(w io.Writer, format string, r train.Result) {
	m := r.Monitors
	if format == "json" {
		fields := map[string]any{
			"epoch": r.Epoch, "correct": r.Correct, "total": r.Total, "accuracy": r.Accuracy(),
			"cost": r.Cost, "seconds": r.Seconds, "eval_seconds": r.EvalSecs,
			"peak_rss_mb": float64(rss.Self()) / (1 << 20),
		}
		if m != nil {
			fields["training_cost"] = m.TrainingCost
			fields["training_accuracy"] = float64(m.TrainingCorrect) / float64(m.TrainingTotal)
			if r.Total > 0 {
				fields["evaluation_cost"] = m.EvalCost
				fields["evaluation_accuracy"] = r.Accuracy()
			}
		}
		line, _ := json.Marshal(fields)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	if r.Total > 0 {
		fmt.Fprintf(w, "Epoch %d: %d / %d (%.2fs)\n", r.Epoch, r.Correct, r.Total, r.Seconds)
	} else {
		fmt.Fprintf(w, "Epoch %d complete (%.2fs)\n", r.Epoch, r.Seconds)
	}
	if m != nil { // network2.py's lines
		fmt.Fprintf(w, "Cost on training data: %v\nAccuracy on training data: %d / %d\n", m.TrainingCost, m.TrainingCorrect, m.TrainingTotal)
		if r.Total > 0 {
			fmt.Fprintf(w, "Cost on evaluation data: %v\nAccuracy on evaluation data: %d / %d\n", m.EvalCost, r.Correct, r.Total)
		}
	}
}
