package main

import (
	"fmt"
	"slices"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
)

// train's settings: what a checkpoint records, their checks, and the
// checks of the run's outputs and memory before any work.

// trainFlags are a training run's command line: its configuration, and
// where it reads and writes. A checkpoint records them so that --resume
// DIR alone continues the run as it was started.
type trainFlags struct {
	// The run: its JSON names are the flags' own, inline here.
	train.Config
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
	if len(f.Layers) > 0 {
		if _, err := network.Shapes(f.Layers); err != nil {
			return "layers", " " + err.Error()
		}
	} else if sizesChecked {
		if err := network.CheckSizes(f.Sizes); err != nil {
			return "sizes", ": " + err.Error()
		}
	}
	if flag, fault := f.Fault(); flag != "" {
		return flag, fault
	}
	if f.TrainSet != "" && !slices.Contains(trainSets, f.TrainSet) {
		return "train-set", fmt.Sprintf(" %q: want %s", f.TrainSet, oneOf(trainSets))
	}
	if f.LogFormat != "text" && f.LogFormat != "json" {
		return "log-format", fmt.Sprintf(" %q: want text or json", f.LogFormat)
	}
	return "", ""
}

// spec is the network the flags describe, defaults filled in.
func (f *trainFlags) spec() network.Spec { return f.Spec.Norm() }

// oneOf lists names as a sentence does: "a, b or c".
func oneOf[T ~string](names []T) string { return train.OneOf(names) }

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
	if len(c.Layers) > 0 {
		return c.checkLayersMemory(limit)
	}
	if err := network.CheckSizes(c.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	n := trainSetImages(c.TrainSet)
	if c.TrainLimit > 0 {
		n = min(n, c.TrainLimit)
	}
	est := trainEstimate(c.Sizes, c.BatchSize, n, c.Dtype, c.Eval != "none", c.Save != "" || c.Checkpoint != "") + trainSetBytes(c.TrainSet)
	what := fmt.Sprintf("--sizes %s at --batch-size %d in %s", cli.Ints(c.Sizes), min(c.BatchSize, n), c.Dtype)
	if c.TrainSet == "expanded" {
		what += " on the expanded training set"
	}
	if err := limit.Check(what, est); err != nil {
		return cli.Usagef("%v", err)
	}
	return nil
}
