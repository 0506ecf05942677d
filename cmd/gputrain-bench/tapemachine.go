package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// trainArgs are the flags every peer takes, so that the driver can give
// each the same command line.
type trainArgs struct {
	Sizes      cli.IntList
	Epochs     int
	BatchSize  int
	Eta        float64
	Dtype      string
	Data       string
	Seed       uint64
	TrainLimit int
	Eval       string
	Init       string
}

// runTapeMachine trains with gputrain's own Gorgonia graph (graph.Build:
// forward pass, cost and Gorgonia's symbolic gradients) run by Gorgonia's
// TapeMachine, and the book's update done by hand on the parameters'
// backing slices: the peer that shows what the graph costs before
// gputrain compiles it.
func runTapeMachine(args []string, stdout, stderr io.Writer) error {
	a := trainArgs{Sizes: cli.IntList{784, 30, 10}}
	fs := cli.NewFlags("gputrain-bench tapemachine")
	fs.Var(&a.Sizes, "sizes", "layer sizes, comma-separated")
	fs.IntVar(&a.Epochs, "epochs", 30, "number of epochs")
	fs.IntVar(&a.BatchSize, "batch-size", 10, "mini-batch size")
	fs.Float64Var(&a.Eta, "eta", 3.0, "learning rate η")
	fs.StringVar(&a.Dtype, "dtype", "float32", "float32 or float64")
	fs.StringVar(&a.Data, "data", "data/mnist", "directory of the MNIST files")
	fs.Uint64Var(&a.Seed, "seed", 1, "seed of the initial weights and of the shuffling")
	fs.IntVar(&a.TrainLimit, "train-limit", 0, "train on the first N training images (0: all)")
	fs.StringVar(&a.Eval, "eval", "test", "test, validation or none")
	fs.StringVar(&a.Init, "init", "", "start from this model (network2.py JSON) instead of random weights")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if err := graph.CheckSizes(a.Sizes); err != nil {
		return cli.Usagef("--sizes: %v", err)
	}
	if a.Epochs < 1 || a.BatchSize < 1 || !(a.Eta > 0) || a.TrainLimit < 0 {
		return cli.Usagef("--epochs and --batch-size must be at least 1, --eta above 0, --train-limit at least 0")
	}
	dt, err := graph.ParseDtype(a.Dtype)
	if err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	var net *graph.Network
	if a.Init != "" {
		if net, err = graph.Load(a.Init); err != nil {
			return err
		}
	} else if net, err = graph.New(a.Sizes, a.Seed); err != nil {
		return err
	}
	data, err := mnist.Ensure(a.Data, stderr)
	if err != nil {
		return err
	}
	training := data.Training
	if a.TrainLimit > 0 {
		if a.TrainLimit > training.Len() {
			return cli.Usagef("--train-limit %d: the training set has %d images", a.TrainLimit, training.Len())
		}
		training = training.Slice(0, a.TrainLimit)
	}
	var eval *mnist.Set
	switch a.Eval {
	case "test":
		eval = data.Test
	case "validation":
		eval = data.Validation
	case "none":
	default:
		return cli.Usagef("--eval %q: want test, validation or none", a.Eval)
	}
	report := func(epoch, correct, total int, secs float64) {
		line, _ := json.Marshal(map[string]any{"epoch": epoch, "correct": correct, "total": total, "seconds": secs})
		fmt.Fprintf(stdout, "%s\n", line)
	}
	if dt == graph.Float64 {
		return tapeTrain[float64](a, dt, net, training, eval, report)
	}
	return tapeTrain[float32](a, dt, net, training, eval, report)
}

// tapeParams are the network's parameters as tensors that every graph of
// the run binds, so that an update made through their backing slices is
// what the next step of any graph reads.
type tapeParams[T float32 | float64] struct {
	w, b []*tensor.Dense
}

func newTapeParams[T float32 | float64](n *graph.Network) tapeParams[T] {
	var p tapeParams[T]
	for l := range n.Weights {
		in, out := n.Sizes[l], n.Sizes[l+1]
		p.w = append(p.w, tensor.New(tensor.WithShape(out, in), tensor.WithBacking(convert[T](n.Weights[l]))))
		p.b = append(p.b, tensor.New(tensor.WithShape(out), tensor.WithBacking(convert[T](n.Biases[l]))))
	}
	return p
}

func convert[T float32 | float64](xs []float64) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

// tapeStep is one batch size's training graph and its machine.
type tapeStep[T float32 | float64] struct {
	gr   *graph.Graph
	vm   G.VM
	x, y []T // the backing slices of X and Y, refilled every step
}

func newTapeStep[T float32 | float64](sizes []int, m int, dt graph.Dtype, p tapeParams[T]) (*tapeStep[T], error) {
	gr, err := graph.Build(sizes, m, dt, true)
	if err != nil {
		return nil, err
	}
	s := &tapeStep[T]{gr: gr, x: make([]T, m*sizes[0]), y: make([]T, m*sizes[len(sizes)-1])}
	if err := G.Let(gr.X, tensor.New(tensor.WithShape(m, sizes[0]), tensor.WithBacking(s.x))); err != nil {
		return nil, err
	}
	if err := G.Let(gr.Y, tensor.New(tensor.WithShape(m, sizes[len(sizes)-1]), tensor.WithBacking(s.y))); err != nil {
		return nil, err
	}
	if err := bindParams(gr, p); err != nil {
		return nil, err
	}
	s.vm = G.NewTapeMachine(gr.G)
	return s, nil
}

func bindParams[T float32 | float64](gr *graph.Graph, p tapeParams[T]) error {
	for l := range gr.Weights {
		if err := G.Let(gr.Weights[l], p.w[l]); err != nil {
			return err
		}
		if err := G.Let(gr.Biases[l], p.b[l]); err != nil {
			return err
		}
	}
	return nil
}

// run trains on the images of idx, then applies the book's update. The
// graph's cost is the mean over the mini-batch, so its gradients already
// carry the book's 1/m and the step is w ← w − η·∂C/∂w.
func (s *tapeStep[T]) run(pix []T, labels []uint8, idx []int32, eta T, p tapeParams[T]) error {
	const in = mnist.Pixels
	clear(s.y)
	for i, j := range idx {
		copy(s.x[i*in:(i+1)*in], pix[int(j)*in:(int(j)+1)*in])
		s.y[i*10+int(labels[j])] = 1
	}
	if err := s.vm.RunAll(); err != nil {
		return err
	}
	for l := range p.w {
		sgd(p.w[l].Data().([]T), s.gr.WeightGrads[l].Value().Data().([]T), eta)
		sgd(p.b[l].Data().([]T), s.gr.BiasGrads[l].Value().Data().([]T), eta)
	}
	s.vm.Reset()
	return nil
}

func sgd[T float32 | float64](w, g []T, eta T) {
	for i := range w {
		w[i] -= eta * g[i]
	}
}

func tapeTrain[T float32 | float64](a trainArgs, dt graph.Dtype, net *graph.Network, training, eval *mnist.Set,
	report func(epoch, correct, total int, secs float64)) error {
	p := newTapeParams[T](net)
	n, m := training.Len(), a.BatchSize
	if m > n {
		m = n
	}
	full, err := newTapeStep[T](net.Sizes, m, dt, p)
	if err != nil {
		return err
	}
	defer full.vm.Close()
	// The book's last mini-batch of an epoch is shorter when m does not
	// divide n; it gets a graph of its own.
	var rest *tapeStep[T]
	if r := n % m; r != 0 {
		if rest, err = newTapeStep[T](net.Sizes, r, dt, p); err != nil {
			return err
		}
		defer rest.vm.Close()
	}
	var fwd *tapeForward[T]
	if eval != nil {
		if fwd, err = newTapeForward[T](net.Sizes, dt, eval, p); err != nil {
			return err
		}
		defer fwd.vm.Close()
	}
	pix := mnist.Floats[T](training)
	sh := train.NewShuffler(a.Seed, true)
	order := make([]int32, n)
	for e := 0; e < a.Epochs; e++ {
		sh.Reorder(order)
		start := time.Now()
		for k := 0; k < n; k += m {
			s := full
			if k+m > n {
				s = rest
			}
			if err := s.run(pix, training.Labels, order[k:min(k+m, n)], T(a.Eta), p); err != nil {
				return fmt.Errorf("epoch %d, mini-batch %d: %w", e, k/m, err)
			}
		}
		secs := time.Since(start).Seconds()
		correct, total := 0, 0
		if fwd != nil {
			if correct, err = fwd.correct(); err != nil {
				return err
			}
			total = eval.Len()
		}
		report(e, correct, total, secs)
	}
	return nil
}

// tapeForward evaluates the whole evaluation set in one forward graph.
type tapeForward[T float32 | float64] struct {
	gr     *graph.Graph
	vm     G.VM
	labels []uint8
}

func newTapeForward[T float32 | float64](sizes []int, dt graph.Dtype, s *mnist.Set, p tapeParams[T]) (*tapeForward[T], error) {
	gr, err := graph.Build(sizes, s.Len(), dt, false)
	if err != nil {
		return nil, err
	}
	x := tensor.New(tensor.WithShape(s.Len(), sizes[0]), tensor.WithBacking(mnist.Floats[T](s)))
	if err := G.Let(gr.X, x); err != nil {
		return nil, err
	}
	if err := bindParams(gr, p); err != nil {
		return nil, err
	}
	return &tapeForward[T]{gr: gr, vm: G.NewTapeMachine(gr.G), labels: s.Labels}, nil
}

func (f *tapeForward[T]) correct() (int, error) {
	defer f.vm.Reset()
	if err := f.vm.RunAll(); err != nil {
		return 0, err
	}
	out := f.gr.Output.Value().Data().([]T)
	const k = graph.OutputSize
	n := 0
	for i, label := range f.labels {
		row := out[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(label) {
			n++
		}
	}
	return n, nil
}
