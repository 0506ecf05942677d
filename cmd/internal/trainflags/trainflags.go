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
	"io"
	"slices"
	"time"

	"github.com/gputrain/gputrain/internal/safefile"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Register adds the flags every program that trains the book's network
// takes to fs, filling c with c's values as their defaults; integers are
// read in decimal only ("010" is ten, not octal eight). This is where a
// command line becomes the run's configuration: gputrain train adds its
// own flags for the rest of c (chapters 3 and 6) beside these.
func Register(fs *flag.FlagSet, c *train.Config) {
	fs.Var((*cli.IntList)(&c.Sizes), "sizes", "layer sizes, comma-separated: 784 inputs first, 10 outputs last")
	cli.IntVar(fs, &c.BatchSize, "batch-size", c.BatchSize, "mini-batch size (one larger than the training set is taken as all of it)")
	fs.Float64Var(&c.Eta, "eta", c.Eta, "learning rate η")
	cli.Uint64Var(fs, &c.Seed, "seed", c.Seed, "seed of the initial weights and of the shuffling")
	Shared(fs, c)
}

// Shared adds the flags of what every network of a sweep shares (the
// sweep takes lists for the others): epochs, dtype and the images.
func Shared(fs *flag.FlagSet, c *train.Config) {
	cli.IntVar(fs, &c.Epochs, "epochs", c.Epochs, "number of epochs")
	fs.TextVar(&c.Dtype, "dtype", c.Dtype, "float32 or float64")
	cli.IntVar(fs, &c.TrainLimit, "train-limit", c.TrainLimit, "train on the first N training images only (0: all 50,000)")
	fs.BoolVar(&c.NoShuffle, "no-shuffle", c.NoShuffle, "take mini-batches in file order")
	fs.StringVar(&c.Eval, "eval", c.Eval, "evaluate after each epoch on test, validation or none")
}

// Check is c's Fault as a usage error naming the flag.
func Check(c train.Config) error {
	if flag, fault := c.Fault(); flag != "" {
		return cli.Usagef("--%s%s", flag, fault)
	}
	return nil
}

// Sets picks the images c trains on (the first --train-limit) and the set
// --eval names (nil for none).
func Sets(c train.Config, d *mnist.Data) (training, eval *mnist.Set, err error) {
	training = d.Training
	if c.TrainLimit > 0 {
		if c.TrainLimit > training.Len() {
			return nil, nil, cli.Usagef("--train-limit %d: the training set has %d images", c.TrainLimit, training.Len())
		}
		training = training.Slice(0, c.TrainLimit)
	}
	switch c.Eval {
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
	train.Config
	Data, Init, Save string
}

// Register adds the peer's flags to fs.
func (p *Peer) Register(fs *flag.FlagSet) {
	Register(fs, &p.Config)
	fs.StringVar(&p.Data, "data", p.Data, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz")
	fs.StringVar(&p.Init, "init", p.Init, "start from this model (network2.py JSON) instead of random weights")
	fs.StringVar(&p.Save, "save", p.Save, "write the trained model here (network2.py JSON)")
}

// Setup checks the flags and loads what they name: the initial network
// (--init, or the N(0,1) draw for --seed), the training images and the
// evaluation set.
func (p *Peer) Setup(log io.Writer) (net *network.Network, training, eval *mnist.Set, err error) {
	if err := Check(p.Config); err != nil {
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
		if !slices.Equal(net.Sizes, p.Sizes) {
			return nil, nil, nil, cli.Usagef("--sizes %s differs from %s's sizes %v", cli.Ints(p.Sizes), p.Init, net.Sizes)
		}
	} else if net, err = network.New(p.Sizes, p.Seed); err != nil {
		return nil, nil, nil, err
	}
	d, err := mnist.Ensure(p.Data, log)
	if err != nil {
		return nil, nil, nil, err
	}
	training, eval, err = Sets(p.Config, d)
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
	p := Peer{Config: train.Book(), Data: "data/mnist"}
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
	if p.Dtype == graph.Float64 {
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
