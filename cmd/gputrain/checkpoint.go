package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
)

// The checkpoint file --checkpoint writes after every epoch and --resume
// reads: its format, its validation and the run id that tells runs apart.

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
	// Held are the epochs' counts on the other held-out set (best.go);
	// absent in older checkpoints and with --best-validation=false.
	Held []heldOut `json:"held_out,omitempty"`
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
	if len(f.Layers) > 0 || len(ck.Model.Layers) > 0 {
		if len(f.Layers) == 0 || !ck.Model.SameNetwork(f.spec()) {
			return nil, fmt.Errorf("its model's layers %s differ from its stored --layers %s", network.LayersString(ck.Model.Layers), f.Layers)
		}
	} else if !slices.Equal(ck.Model.Sizes, f.Sizes) {
		return nil, fmt.Errorf("its model's sizes %v differ from its stored --sizes %v", ck.Model.Sizes, cli.Ints(f.Sizes))
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
	for i, h := range ck.Held {
		if h.Epoch < 0 || h.Epoch >= p.Epoch || h.Correct < 0 || h.Correct > h.Total {
			return nil, fmt.Errorf("held_out[%d]: %d / %d in epoch %d, want a count within its total in one of the %d epochs done", i, h.Correct, h.Total, h.Epoch, p.Epoch)
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
	data, err := json.Marshal(checkpoint{Run: c.run, Flags: c.stored(dir), Position: at, Results: results, Held: c.held, Model: net})
	if err != nil {
		return err
	}
	return safefile.WriteFileAtomic(filepath.Join(dir, checkpointFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
