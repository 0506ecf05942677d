package main

import (
	"fmt"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph/network"
)

// --layers: chapter 6's networks on the command line. A network of layers
// takes the place of --sizes and carries its own activations; it trains
// with the log-likelihood of its softmax layer and network3's
// initialisation, so the flags that choose those for a network of sizes
// are refused beside it rather than ignored.

// layersFlags refuses flags that a network of layers does not take, and
// drops the default sizes so that nothing reads them.
func (c *trainCmd) layersFlags() error {
	if len(c.Layers) == 0 {
		return nil
	}
	for _, f := range []struct{ name, why string }{
		{"sizes", "--layers describes the whole network"},
		{"activation", "each conv or fc layer takes its own, as conv:20x5x5:relu"},
		{"weight-init", "a network of layers starts as network3.py's does"},
	} {
		if c.set[f.name] {
			return cli.Usagef("--%s with --layers: %s", f.name, f.why)
		}
	}
	if c.set["cost"] && network.Cost(c.Cost) != network.LogLikelihood {
		return cli.Usagef("--cost %s with --layers: a network of layers ends in softmax and trains with the %s cost", c.Cost, network.LogLikelihood)
	}
	c.Sizes, c.Cost, c.Activation = nil, network.LogLikelihood, ""
	return nil
}

// layersFlag is --layers: parsed as it is read (a layer's own syntax);
// whether the stack fits is check's.
type layersFlag struct{ layers *network.Layers }

func (f layersFlag) Set(v string) error { return f.layers.UnmarshalText([]byte(v)) }

func (f layersFlag) String() string {
	if f.layers == nil {
		return ""
	}
	return f.layers.String()
}

// initLayers takes --init's network of layers as the run's --layers.
func (c *trainCmd) initLayers(net *network.Network) error {
	if len(net.Layers) == 0 {
		if len(c.Layers) > 0 {
			return cli.Usagef("--layers %s: %s is a network of sizes %v", c.Layers, c.init, net.Sizes)
		}
		return nil
	}
	have := network.LayersString(net.Layers)
	if len(c.Layers) > 0 && !c.spec().SameNetwork(net.Spec) {
		return cli.Usagef("--layers %s differs from %s's layers %s", c.Layers, c.init, have)
	}
	if c.set["sizes"] {
		return cli.Usagef("--sizes with %s: a network of layers (%s)", c.init, have)
	}
	c.Layers = net.Spec.Norm().Layers
	return c.layersFlags()
}

// checkLayersMemory refuses a run of layers whose estimated peak memory
// exceeds limit.
func (c *trainCmd) checkLayersMemory(limit memlimit.Limit) error {
	n := canonicalTraining
	if c.TrainLimit > 0 {
		n = min(n, c.TrainLimit)
	}
	est := archTrainEstimate(c.spec().Arch, c.BatchSize, n, c.Dtype, c.Eval != "none", c.Save != "" || c.Checkpoint != "")
	what := fmt.Sprintf("--layers %s at --batch-size %d in %s", c.Layers, min(c.BatchSize, n), c.Dtype)
	if err := limit.Check(what, est); err != nil {
		return cli.Usagef("%v", err)
	}
	return nil
}
