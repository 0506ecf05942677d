// Command tapemachine is gputrain-bench's Gorgonia peer: it trains with
// gputrain's own Gorgonia graph (graph.Build: forward pass, cost and
// Gorgonia's symbolic gradients) run by Gorgonia's TapeMachine, and the
// book's update done by hand on the parameters' backing slices. It shows
// what the graph costs before gputrain compiles it. It takes gputrain's
// training flags and prints the benchmark's JSON line per epoch.
package main

import (
	"io"
	"os"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 2 for a bad command line, 1 for a fault.
func run(args []string, stdout, stderr io.Writer) int {
	return trainflags.Main("tapemachine", args, stdout, stderr, tapeTrain[float32], tapeTrain[float64])
}

// tapeParams are the network's parameters as tensors that every graph of
// the run binds, so that an update made through their backing slices is
// what the next step of any graph reads.
type tapeParams[T float32 | float64] struct {
	w, b []*tensor.Dense
}

func newTapeParams[T float32 | float64](n *network.Network) tapeParams[T] {
	var p tapeParams[T]
	for l := range n.Weights {
		in, out := n.Sizes[l], n.Sizes[l+1]
		p.w = append(p.w, tensor.New(tensor.WithShape(out, in), tensor.WithBacking(convert[T](n.Weights[l]))))
		p.b = append(p.b, tensor.New(tensor.WithShape(out), tensor.WithBacking(convert[T](n.Biases[l]))))
	}
	return p
}

// network copies the parameters out in gputrain's form.
func (p tapeParams[T]) network(sizes []int) *network.Network {
	n := &network.Network{Spec: network.Book(sizes)}
	for l := range p.w {
		n.Weights = append(n.Weights, convert[float64](p.w[l].Data().([]T)))
		n.Biases = append(n.Biases, convert[float64](p.b[l].Data().([]T)))
	}
	return n
}

func convert[T, F float32 | float64](xs []F) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

// tapeGraph is one graph of the run, for m images at a time, with its
// machine; x and y are the backing slices of its inputs, refilled before
// every run.
type tapeGraph[T float32 | float64] struct {
	gr   *graph.Graph
	vm   G.VM
	x, y []T
}

// newTapeGraph builds the graph for m images, with gradients when
// training, and binds p to it.
func newTapeGraph[T float32 | float64](sizes []int, m int, dt graph.Dtype, training bool, p tapeParams[T]) (*tapeGraph[T], error) {
	gr, err := graph.Build(network.Book(sizes), m, dt, training)
	if err != nil {
		return nil, err
	}
	s := &tapeGraph[T]{gr: gr, x: make([]T, m*sizes[0]), y: make([]T, m*sizes[len(sizes)-1])}
	type let struct {
		n *G.Node
		v *tensor.Dense
	}
	lets := []let{{gr.X, tensor.New(tensor.WithShape(m, sizes[0]), tensor.WithBacking(s.x))}}
	if training {
		lets = append(lets, let{gr.Y, tensor.New(tensor.WithShape(m, sizes[len(sizes)-1]), tensor.WithBacking(s.y))})
	}
	for l := range gr.Weights {
		lets = append(lets, let{gr.Weights[l], p.w[l]}, let{gr.Biases[l], p.b[l]})
	}
	for _, l := range lets {
		if err := G.Let(l.n, l.v); err != nil {
			return nil, err
		}
	}
	s.vm = G.NewTapeMachine(gr.G)
	return s, nil
}

// load copies the images of idx (and their one-hot labels) into x and y.
func (s *tapeGraph[T]) load(pix []T, labels []uint8, idx []int32) {
	const in, out = mnist.Pixels, network.OutputSize
	clear(s.y)
	for i, j := range idx {
		copy(s.x[i*in:(i+1)*in], pix[int(j)*in:(int(j)+1)*in])
		s.y[i*out+int(labels[j])] = 1
	}
}

// step trains on the images of idx, then applies the book's update. The
// graph's cost is the mean over the mini-batch, so its gradients already
// carry the book's 1/m and the step is w ← w − η·∂C/∂w.
func (s *tapeGraph[T]) step(pix []T, labels []uint8, idx []int32, eta T, p tapeParams[T]) error {
	s.load(pix, labels, idx)
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return err
	}
	for l := range p.w {
		for _, u := range []struct{ w, g []T }{
			{p.w[l].Data().([]T), s.gr.WeightGrads[l].Value().Data().([]T)},
			{p.b[l].Data().([]T), s.gr.BiasGrads[l].Value().Data().([]T)},
		} {
			for i := range u.w {
				u.w[i] -= eta * u.g[i]
			}
		}
	}
	return nil
}

// correct runs the forward graph over the whole evaluation set, loaded
// once, and counts the images whose most active output is their label.
func (s *tapeGraph[T]) correct(labels []uint8) (int, error) {
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return 0, err
	}
	out := s.gr.Output.Value().Data().([]T)
	const k = network.OutputSize
	n := 0
	for i, label := range labels {
		if network.Digit(out[i*k:(i+1)*k]) == int(label) {
			n++
		}
	}
	return n, nil
}

// tapeTrain trains as a asks, printing a line per epoch, and returns the
// network it ends with.
func tapeTrain[T float32 | float64](a *trainflags.Peer, net *network.Network, training, eval *mnist.Set, stdout io.Writer) (*network.Network, error) {
	dt := a.Dtype
	p := newTapeParams[T](net)
	// A graph per mini-batch size: the book's last mini-batch of an epoch
	// is shorter when the batch size does not divide the images.
	graphs := map[int]*tapeGraph[T]{}
	n, m := training.Len(), min(a.BatchSize, training.Len())
	for _, size := range []int{m, n % m} {
		if size > 0 {
			g, err := newTapeGraph[T](net.Sizes, size, dt, true, p)
			if err != nil {
				return nil, err
			}
			defer g.vm.Close()
			graphs[size] = g
		}
	}
	var fwd *tapeGraph[T]
	if eval != nil {
		var err error
		if fwd, err = newTapeGraph[T](net.Sizes, eval.Len(), dt, false, p); err != nil {
			return nil, err
		}
		defer fwd.vm.Close()
		copy(fwd.x, mnist.Floats[T](eval))
	}
	pix := mnist.Floats[T](training)
	step := func(idx []int32) error { return graphs[len(idx)].step(pix, training.Labels, idx, T(a.Eta), p) }
	correct := func() (int, error) { return fwd.correct(eval.Labels) }
	if err := a.Train(n, eval, step, correct, stdout); err != nil {
		return nil, err
	}
	return p.network(net.Sizes), nil
}
