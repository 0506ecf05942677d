package cpu

import (
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Monitor measures net on s as network2.py's monitors do, in dt on every
// core (train.Session.Monitor on a CPU predictor): its total cost and how
// many images it predicts right. It remains for the plot's evaluation
// cost; a trainer measures its own network with its Monitor, on its device.
func Monitor(net *network.Network, s *mnist.Set, dt graph.Dtype) (cost float64, correct int, err error) {
	if err := net.Check(); err != nil {
		return 0, 0, err
	}
	p, err := OpenPredictor(net.Spec, dt)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	if err := p.SetNetwork(net); err != nil {
		return 0, 0, err
	}
	return p.Monitor(s)
}
