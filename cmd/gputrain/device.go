package main

import (
	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/cuda"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// The device a command trains, predicts or measures on (--device): every
// command runs a train.Session over the CPU's or the GPU's machine, so
// that one path computes alike on both.

// deviceFlagHelp is --device's help.
const deviceFlagHelp = "cpu or cuda"

// checkDevice refuses a --device that is neither cpu nor cuda, and cuda in
// a build without it (the CPU build hands such a run to gputrain-cuda
// where it finds one: see cudaHandOff).
func checkDevice(device string) error {
	switch {
	case device != "cpu" && device != "cuda":
		return cli.Usagef("--device %q: want cpu or cuda", device)
	case device == "cuda" && !cuda.Available:
		return cli.Usagef("--device cuda: %v", cuda.ErrNoCUDA)
	}
	return nil
}

// checkDeviceData refuses the book's pickle on the GPU, whose backend
// uploads the IDX files' bytes, not the pickle's float32 pixels; todo says
// what to do with it on the CPU ("train on").
func checkDeviceData(device string, d *mnist.Data, todo string) error {
	if d.Pickle != "" && device == "cuda" {
		return cli.Usagef("--device cuda reads the IDX files only, not the pixels of %s: %s it with --device cpu", d.Pickle, todo)
	}
	return nil
}

// opener is the trainer of device.
func opener(device string) train.Opener {
	if device == "cuda" {
		return cuda.Open
	}
	return cpu.Open
}

// openPredictor returns a predictor on device that holds net and computes
// in dt.
func openPredictor(device string, net *network.Network, dt graph.Dtype) (train.Predictor, error) {
	open := cpu.OpenPredictor
	if device == "cuda" {
		open = cuda.OpenPredictor
	}
	p, err := open(net.Spec, dt)
	if err != nil {
		return nil, err
	}
	if err := p.SetNetwork(net); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// measureMonitors measures network2.py's four monitors of the network p
// holds: the total cost and images right on training, and the total cost
// on eval (its accuracy is the epoch's own) when there is one.
func measureMonitors(p train.Predictor, training, eval *mnist.Set) (*train.Monitors, error) {
	m := &train.Monitors{TrainingTotal: training.Len()}
	var err error
	if m.TrainingCost, m.TrainingCorrect, err = p.Monitor(training); err != nil {
		return nil, err
	}
	if eval != nil {
		if m.EvalCost, _, err = p.Monitor(eval); err != nil {
			return nil, err
		}
	}
	return m, nil
}
