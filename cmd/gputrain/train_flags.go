package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/internal/safefile"
)

// train's settings: what a checkpoint records, their checks, and the
// checks of the run's outputs and memory before any work.

// trainFlags are the settings of a training run; a checkpoint records them
// so that --resume DIR alone continues the run as it was started.
type trainFlags struct {
	// The flags every program that trains the book's network takes (the
	// benchmark's Go peers too); their JSON names are inline here.
	trainflags.Flags
	// Chapter 3's settings, gputrain's own; empty or 0 (the defaults) in
	// older checkpoints.
	Activation string `json:"activation,omitempty"`
	// Chapter 6's network (network3.py), in place of Sizes: --layers as
	// written; empty for a network of sizes.
	Layers     string  `json:"layers,omitempty"`
	Cost       string  `json:"cost,omitempty"`
	Lambda     float64 `json:"lambda,omitempty"`
	WeightInit string  `json:"weight_init,omitempty"`
	EarlyStop  int     `json:"early_stop,omitempty"`
	Monitor    bool    `json:"monitor,omitempty"`
	// TrainSet is --train-set: "" (older checkpoints) is standard.
	TrainSet string `json:"train_set,omitempty"`
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
	if f.Layers != "" {
		if flag, fault := f.checkLayers(); flag != "" {
			return flag, fault
		}
	} else if sizesChecked {
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
	case f.TrainSet != "" && !slices.Contains(trainSets, f.TrainSet):
		return "train-set", fmt.Sprintf(" %q: want %s", f.TrainSet, oneOf(trainSets))
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
	if f.Layers != "" {
		layers, _ := network.ParseLayers(f.Layers) // checked by checkLayers
		return network.Spec{Arch: network.Arch{Layers: layers}, Objective: network.Objective{Cost: network.LogLikelihood, Lambda: f.Lambda}}.Norm()
	}
	return network.Spec{Arch: network.Arch{Sizes: f.Sizes, Activation: network.Activation(f.Activation)}, Objective: network.Objective{Cost: network.Cost(f.Cost), Lambda: f.Lambda}}.Norm()
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
	if c.Layers != "" {
		return c.checkLayersMemory(limit)
	}
	if err := network.CheckSizes(c.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	n := trainSetImages(c.TrainSet)
	if c.TrainLimit > 0 {
		n = min(n, c.TrainLimit)
	}
	dt, _ := graph.ParseDtype(c.Dtype)
	est := trainEstimate(c.Sizes, c.BatchSize, n, dt, c.Eval != "none", c.Save != "" || c.Checkpoint != "") + trainSetBytes(c.TrainSet)
	what := fmt.Sprintf("--sizes %s at --batch-size %d in %s", c.Sizes.String(), min(c.BatchSize, n), c.Dtype)
	if c.TrainSet == "expanded" {
		what += " on the expanded training set"
	}
	if err := limit.Check(what, est); err != nil {
		return cli.Usagef("%v", err)
	}
	return nil
}
