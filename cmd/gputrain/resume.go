package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
)

// --resume: a checkpoint's settings taken back, and a run with no epoch
// left.

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
		{"sizes", slices.Equal(c.Sizes, f.Sizes), cli.Ints(c.Sizes), cli.Ints(f.Sizes)},
		{"layers", c.spec().SameNetwork(f.spec()), c.Layers, f.Layers},
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
		{"weight-init", c.WeightInit == f.WeightInit || f.WeightInit == "" && c.WeightInit == network.Large, c.WeightInit, f.WeightInit},
		{"train-set", c.TrainSet == f.TrainSet || f.TrainSet == "" && c.TrainSet == "standard", c.TrainSet, f.TrainSet},
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
