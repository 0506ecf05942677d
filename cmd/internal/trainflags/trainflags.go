// Package trainflags holds what the programs that train the book's network
// from a command line share: the training flags (gputrain train and the
// benchmark's Go peers take the same ones, so that the benchmark hands
// every program one command line), their checks, the images they select,
// the initial network they start from and the JSON line a peer prints per
// epoch.
package trainflags

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/gputrain/gputrain/internal/safefile"
	"io"
	"math"
	"slices"
	"time"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Flags are the settings that define a training run; gputrain's
// checkpoints record them under these JSON names.
type Flags struct {
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

// Book is the chapter's run: [784,30,10] for 30 epochs of shuffled
// mini-batches of 10 at η 3.0, in float32, evaluated on the test set.
func Book() Flags {
	return Flags{Sizes: cli.IntList{784, 30, 10}, Epochs: 30, BatchSize: 10, Eta: 3, Seed: 1, Dtype: "float32", Eval: "test"}
}

// Register adds the flags to fs with f's values as their defaults;
// integers are read in decimal only ("010" is ten, not octal eight).
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Var(&f.Sizes, "sizes", "layer sizes, comma-separated: 784 inputs first, 10 outputs last")
	cli.IntVar(fs, &f.Epochs, "epochs", f.Epochs, "number of epochs")
	cli.IntVar(fs, &f.BatchSize, "batch-size", f.BatchSize, "mini-batch size (one larger than the training set is taken as all of it)")
	fs.Float64Var(&f.Eta, "eta", f.Eta, "learning rate η")
	cli.Uint64Var(fs, &f.Seed, "seed", f.Seed, "seed of the initial weights and of the shuffling")
	fs.StringVar(&f.Dtype, "dtype", f.Dtype, "float32 or float64")
	cli.IntVar(fs, &f.TrainLimit, "train-limit", f.TrainLimit, "train on the first N training images only (0: all 50,000)")
	fs.BoolVar(&f.NoShuffle, "no-shuffle", f.NoShuffle, "take mini-batches in file order")
	fs.StringVar(&f.Eval, "eval", f.Eval, "evaluate after each epoch on test, validation or none")
}

// Fault returns the first invalid flag but --sizes (which a model file may
// supply) as its name and what is wrong with its value (" 0: must be at
// least 1"), so that a caller can word it for the command line or for a
// checkpoint's stored flags.
func (f *Flags) Fault() (flag, fault string) {
	switch {
	case f.Epochs < 1:
		return "epochs", fmt.Sprintf(" %d: must be at least 1", f.Epochs)
	case f.BatchSize < 1:
		return "batch-size", fmt.Sprintf(" %d: must be at least 1", f.BatchSize)
	case !(f.Eta > 0) || math.IsInf(f.Eta, 0):
		return "eta", fmt.Sprintf(" %v: must be a finite number > 0", f.Eta)
	case f.TrainLimit < 0:
		return "train-limit", fmt.Sprintf(" %d: must be 0 (all) or more", f.TrainLimit)
	case f.Eval != "test" && f.Eval != "validation" && f.Eval != "none":
		return "eval", fmt.Sprintf(" %q: want test, validation or none", f.Eval)
	}
	if _, err := graph.ParseDtype(f.Dtype); err != nil {
		return "dtype", ": " + err.Error()
	}
	return "", ""
}

// Check is Fault as a usage error naming the flag.
func (f *Flags) Check() error {
	if flag, fault := f.Fault(); flag != "" {
		return cli.Usagef("--%s%s", flag, fault)
	}
	return nil
}

// Config is the backends' configuration of a run of these flags with spec
// on n training images (the first --train-limit); the flags must have
// passed Check.
func (f *Flags) Config(spec network.Spec, n int) train.Config {
	dt, _ := graph.ParseDtype(f.Dtype)
	cfg := train.NewConfig(spec, n, f.BatchSize, f.Eta, dt)
	cfg.Seed = f.Seed // the dropout masks'
	return cfg
}

// Sets picks the images the flags train on (the first --train-limit) and
// the set --eval names (nil for none).
func (f *Flags) Sets(d *mnist.Data) (training, eval *mnist.Set, err error) {
	training = d.Training
	if f.TrainLimit > 0 {
		if f.TrainLimit > training.Len() {
			return nil, nil, cli.Usagef("--train-limit %d: the training set has %d images", f.TrainLimit, training.Len())
		}
		training = training.Slice(0, f.TrainLimit)
	}
	switch f.Eval {
	case "test":
		eval = d.Test
	case "validation":
		eval = d.Validation
	}
	return training, eval, nil
}

// Peer is a benchmark peer's command line: the training flags, where the
// data is, and the model files it starts from and ends in.
type Peer struct {
	Flags
	Data, Init, Save string
}

// Register adds the peer's flags to fs.
func (p *Peer) Register(fs *flag.FlagSet) {
	p.Flags.Register(fs)
	fs.StringVar(&p.Data, "data", p.Data, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz")
	fs.StringVar(&p.Init, "init", p.Init, "start from this model (network2.py JSON) instead of random weights")
	fs.StringVar(&p.Save, "save", p.Save, "write the trained model here (network2.py JSON)")
}

// Setup checks the flags and loads what they name: the initial network
// (--init, or the N(0,1) draw for --seed), the training images and the
// evaluation set.
func (p *Peer) Setup(log io.Writer) (net *network.Network, training, eval *mnist.Set, err error) {
	if err := p.Check(); err != nil {
		return nil, nil, nil, err
	}
	if err := network.CheckSizes(p.Sizes); err != nil {
		return nil, nil, nil, cli.Usagef("--sizes: %v", err)
	}
	if p.Save != "" {
		if err := safefile.CheckWritable(p.Save); err != nil {
			return nil, nil, nil, cli.Usagef("--save: %v", err)
		}
	}
	if p.Init != "" {
		if net, err = network.Load(p.Init); err != nil {
			return nil, nil, nil, err
		}
		if !slices.Equal(net.Sizes, []int(p.Sizes)) {
			return nil, nil, nil, cli.Usagef("--sizes %s differs from %s's sizes %v", p.Sizes.String(), p.Init, net.Sizes)
		}
	} else if net, err = network.New(p.Sizes, p.Seed); err != nil {
		return nil, nil, nil, err
	}
	d, err := mnist.Ensure(p.Data, log)
	if err != nil {
		return nil, nil, nil, err
	}
	training, eval, err = p.Sets(d)
	return net, training, eval, err
}

// A Trainer trains as p asks from net, printing a line per epoch to w
// (Train does both), and returns the network it ends with.
type Trainer func(p *Peer, net *network.Network, training, eval *mnist.Set, w io.Writer) (*network.Network, error)

// Main is a peer program: it parses args, loads what they name, trains
// with train32 or train64 as --dtype says, writes --save, and returns the
// exit status, with one line on stderr for any fault; a panic, which some
// libraries use for faults, is one line too.
func Main(name string, args []string, stdout, stderr io.Writer, train32, train64 Trainer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, r)
			status = 1
		}
	}()
	return cli.Status(name, peerMain(name, args, stdout, stderr, train32, train64), stderr)
}

func peerMain(name string, args []string, stdout, stderr io.Writer, train32, train64 Trainer) error {
	p := Peer{Flags: Book(), Data: "data/mnist"}
	fs := cli.NewFlags(name)
	p.Register(fs)
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	net, training, eval, err := p.Setup(stderr)
	if err != nil {
		return err
	}
	train := train32
	if p.Dtype == "float64" {
		train = train64
	}
	if net, err = train(&p, net, training, eval, stdout); err != nil || p.Save == "" {
		return err
	}
	return net.Save(p.Save)
}

// Train runs the epochs the flags ask for over n training images. It
// orders them as gputrain does (shuffled by --seed, or in file order with
// --no-shuffle), calls step on each mini-batch (the last one shorter when
// the batch size does not divide n), times the epoch, asks correct how
// many evaluation images the network gets right (unless eval is nil) and
// prints the epoch's line to w.
func (p *Peer) Train(n int, eval *mnist.Set, step func(idx []int32) error, correct func() (int, error), w io.Writer) error {
	m := p.BatchSize
	order := make([]int32, n)
	sh := train.NewShuffler(p.Seed, !p.NoShuffle)
	for e := range p.Epochs {
		sh.Reorder(order)
		start := time.Now()
		for k := 0; k < n; k += m {
			if err := step(order[k:min(k+m, n)]); err != nil {
				return fmt.Errorf("epoch %d, mini-batch %d: %w", e, k/m, err)
			}
		}
		secs := time.Since(start).Seconds()
		right, total := 0, 0
		if eval != nil {
			var err error
			if right, err = correct(); err != nil {
				return fmt.Errorf("epoch %d, evaluation: %w", e, err)
			}
			total = eval.Len()
		}
		Epoch(w, e, right, total, secs)
	}
	return nil
}

// Epoch prints one epoch as the benchmark reads it:
// {"epoch","correct","total","seconds"}, seconds being the training time
// of the epoch alone.
func Epoch(w io.Writer, epoch, correct, total int, seconds float64) {
	line, _ := json.Marshal(map[string]any{"epoch": epoch, "correct": correct, "total": total, "seconds": seconds})
	fmt.Fprintf(w, "%s\n", line)
}
