package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/ensemble"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// modelFlagHelp is --model's help in eval, predict and show.
const modelFlagHelp = "the model file (network2.py JSON, as gputrain train --save writes it); several, separated by commas, or a folder of them (a sweep's --save-dir), make an ensemble"

// combineFlagHelp is --combine's help.
const combineFlagHelp = "how an ensemble's members are combined: vote (chapter 6's majority of their digits; a tie goes to the first model listed that voted for one of the tied digits) or mean (the mean of their output activations)"

// modelSet is what --model names: one network, or an ensemble's members.
type modelSet struct {
	paths   []string
	nets    []*network.Network
	combine ensemble.Method
	device  string // where they predict (--device); "" is the CPU
}

// loadModels reads --model: a file, files separated by commas, or a
// folder whose *.json files (in name order) are the members.
func loadModels(arg, combine string, limit memlimit.Limit) (*modelSet, error) {
	if !slices.Contains(ensemble.Methods, ensemble.Method(combine)) {
		return nil, cli.Usagef("--combine %q: want vote or mean", combine)
	}
	m := &modelSet{combine: ensemble.Method(combine)}
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		found, err := filepath.Glob(filepath.Join(arg, "*.json"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("--model %s: a folder with no model files (*.json) in it", arg)
		}
		m.paths = found
	} else {
		for _, p := range strings.Split(arg, ",") {
			if p = strings.TrimSpace(p); p == "" {
				return nil, cli.Usagef("--model %q: an empty name in the list", arg)
			}
			m.paths = append(m.paths, p)
		}
	}
	for _, p := range m.paths {
		net, err := loadModel(p, limit)
		if err != nil {
			return nil, err
		}
		m.nets = append(m.nets, net)
	}
	return m, nil
}

// name is the model's file, or "ensemble of N models (vote)".
func (m *modelSet) name() string {
	if len(m.paths) == 1 {
		return m.paths[0]
	}
	return fmt.Sprintf("ensemble of %d models (%s)", len(m.paths), m.combine)
}

// widest is the largest member's architecture, for the memory estimates.
func (m *modelSet) widest() network.Arch {
	var a network.Arch
	for _, n := range m.nets {
		if n.ParamCount() > a.ParamCount() {
			a = n.Arch
		}
	}
	return a
}

// digits returns each member's digit for every image of s and the
// ensemble's (the one network's, for a single model). Votes count the
// members' digits as training's evaluation computes them (the backend of
// m.device in dt: so eval's count matches the last "Epoch N: ..." line of
// the same dtype); means average the members' activations in float64.
func (m *modelSet) digits(s *mnist.Set, dt graph.Dtype) (members [][]uint8, combined []uint8, err error) {
	if m.combine == ensemble.Vote || len(m.nets) == 1 {
		for _, net := range m.nets {
			d, err := m.predictSet(net, s, dt)
			if err != nil {
				return nil, nil, err
			}
			members = append(members, d)
		}
		combined, err = ensemble.VoteDigits(members)
		return members, combined, err
	}
	var acts [][][]float64
	for _, net := range m.nets {
		a, err := m.activations(net, s)
		if err != nil {
			return nil, nil, err
		}
		members = append(members, argmaxes(a))
		acts = append(acts, a)
	}
	mean, err := ensemble.MeanActivations(acts)
	return members, argmaxes(mean), err
}

// predictSet returns net's digit for every image of s, computed on
// m.device in dt.
func (m *modelSet) predictSet(net *network.Network, s *mnist.Set, dt graph.Dtype) ([]uint8, error) {
	p, err := openPredictor(m.device, net, dt)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Predict(s)
}

// activations returns net's ten output activations for every image of s,
// computed on m.device in float64: the activations printed are the
// network's as exactly as the device computes them.
func (m *modelSet) activations(net *network.Network, s *mnist.Set) ([][]float64, error) {
	p, err := openPredictor(m.device, net, graph.Float64)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	flat, err := p.Activations(s)
	if err != nil {
		return nil, err
	}
	acts := make([][]float64, s.Len())
	for i := range acts {
		acts[i] = flat[i*network.OutputSize : (i+1)*network.OutputSize]
	}
	return acts, nil
}

func argmaxes(acts [][]float64) []uint8 {
	out := make([]uint8, len(acts))
	for i, a := range acts {
		out[i] = uint8(network.Digit(a))
	}
	return out
}

// memberResult is one member's accuracy in eval's --json.
type memberResult struct {
	Model    string  `json:"model"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
}

// memberResults counts each member's digits right.
func (m *modelSet) memberResults(members [][]uint8, labels []uint8) []memberResult {
	if len(m.nets) == 1 {
		return nil
	}
	out := make([]memberResult, len(members))
	for k, d := range members {
		r := memberResult{Model: m.paths[k]}
		for i, p := range d {
			if p == labels[i] {
				r.Correct++
			}
		}
		r.Accuracy = float64(r.Correct) / float64(max(1, len(labels)))
		out[k] = r
	}
	return out
}

// predictEnsemble is predict's line for each image with several models:
// the vote's digit and its share of the members, or the mean activations
// read as one network's.
func (m *modelSet) predict(pixels []uint8) (perImage [][]float64, votes [][]uint8, err error) {
	set := &mnist.Set{Images: pixels, Labels: make([]uint8, len(pixels)/network.InputSize)}
	var acts [][][]float64
	for _, net := range m.nets {
		a, err := m.activations(net, set)
		if err != nil {
			return nil, nil, err
		}
		acts = append(acts, a)
	}
	if m.combine == ensemble.Mean || len(m.nets) == 1 {
		perImage, err = ensemble.MeanActivations(acts)
		return perImage, nil, err
	}
	n := len(pixels) / network.InputSize
	votes = make([][]uint8, n)
	for _, a := range acts {
		for i, d := range argmaxes(a) {
			votes[i] = append(votes[i], d)
		}
	}
	return nil, votes, nil
}
