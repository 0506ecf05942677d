package cpu

import (
	"runtime"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Monitor measures net on s as network2.py's monitors do, in dt on every
// core: its total cost, the mean over the images of the network's own
// cost plus ½·(λ/n)·Σw² with n the images of s (network2's total_cost),
// and how many images it predicts right. Whatever backend trained net,
// the four monitors of a run are measured here, alike.
func Monitor(net *network.Network, s *mnist.Set, dt graph.Dtype) (cost float64, correct int, err error) {
	if err := net.Check(); err != nil {
		return 0, 0, err
	}
	if s.Len() == 0 {
		return 0, 0, nil
	}
	workers := runtime.GOMAXPROCS(0)
	if dt == graph.Float64 {
		cost, correct, err = monitor[float64](net, s, workers)
	} else {
		cost, correct, err = monitor[float32](net, s, workers)
	}
	if err != nil {
		return 0, 0, err
	}
	var ss float64
	for _, w := range net.Weights {
		for _, v := range w {
			ss += v * v
		}
	}
	return cost + 0.5*net.Lambda/float64(s.Len())*ss, correct, nil
}

func monitor[T Float](net *network.Network, s *mnist.Set, workers int) (float64, int, error) {
	var pl *pool
	if workers > 1 {
		pl = newPool(workers)
		defer pl.close()
	}
	var lut [256]T
	for p := range lut {
		lut[p] = T(p) / 255
	}
	var dt graph.Dtype = graph.Float32
	if _, ok := any(T(0)).(float64); ok {
		dt = graph.Float64
	}
	machines := map[int]*Machine[T]{}
	idx := make([]int32, train.EvalBatch)
	var total float64
	correct := 0
	for lo := 0; lo < s.Len(); lo += train.EvalBatch {
		m := min(train.EvalBatch, s.Len()-lo)
		mc, ok := machines[m]
		if !ok {
			p, err := graph.CompileMonitor(net.Spec, m, dt)
			if err != nil {
				return 0, 0, err
			}
			mc = newMachine[T](p, pl)
			for l := range p.Weights {
				toT(mc.Buf(p.Weights[l]), net.Weights[l])
				toT(mc.Buf(p.Biases[l]), net.Biases[l])
			}
			machines[m] = mc
		}
		for r := range idx[:m] {
			idx[r] = int32(lo + r)
		}
		gather(mc, idx[:m], s, &lut)
		mc.Run()
		total += float64(mc.Buf(mc.P.Cost)[0]) * float64(m)
		out := mc.Buf(mc.P.Output)
		for r := range m {
			if network.Digit(out[r*network.OutputSize:(r+1)*network.OutputSize]) == int(s.Labels[lo+r]) {
				correct++
			}
		}
	}
	return total / float64(s.Len()), correct, nil
}
