package cpu

import (
	"runtime"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/dropout"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Open returns a CPU trainer for cfg, holding the training set in
// cfg.Dtype. It uses every core GOMAXPROCS allows.
func Open(cfg train.Config, training *mnist.Set) (train.Trainer, error) {
	return OpenWorkers(cfg, training, runtime.GOMAXPROCS(0))
}

// OpenWorkers is Open on at most workers cores, for several trainers that
// share the machine (a sweep). The result does not depend on workers.
func OpenWorkers(cfg train.Config, training *mnist.Set, workers int) (train.Trainer, error) {
	return train.Open(cfg, training, func(cfg train.Config) (train.Machine, error) {
		return openMachine(cfg, workers)
	})
}

// OpenPredictor returns a CPU backend that predicts with a network of spec
// in dt: it compiles forward programs only, so the spec's cost and λ
// matter only to its Monitor.
func OpenPredictor(spec network.Spec, dt graph.Dtype) (train.Predictor, error) {
	return train.OpenPredictor(spec, dt, OpenMachine)
}

// OpenMachine returns the CPU machine for cfg (a predictor's where cfg has
// no learning rate), on every core GOMAXPROCS allows.
func OpenMachine(cfg train.Config) (train.Machine, error) {
	return openMachine(cfg, runtime.GOMAXPROCS(0))
}

func openMachine(cfg train.Config, workers int) (train.Machine, error) {
	workers = max(1, workers)
	if cfg.Dtype == graph.Float64 {
		return newBackend[float64](cfg, workers)
	}
	return newBackend[float32](cfg, workers)
}

// backend is the CPU's train.Machine. It keeps one compiled program per
// batch size and kind (the full one, the short last one, the evaluation
// ones), all sharing one set of parameters and one pool.
type backend[T Float] struct {
	cfg    train.Config
	pool   *pool
	progs  *train.Programs[*Machine[T]]
	params *Machine[T] // owner of the parameter memory
	lut    [256]T      // p → p/255, for the kernels without SIMD
	sets   [2]*mnist.Set
	order  []int32
	done   int       // images of order trained on
	step   uint64    // the run's number of the next step: the dropout masks'
	costs  []float64 // each step's since Order
}

func newBackend[T Float](cfg train.Config, workers int) (*backend[T], error) {
	b := &backend[T]{cfg: cfg}
	if workers > 1 {
		b.pool = newPool(workers)
	}
	for p := range b.lut {
		b.lut[p] = T(p) / 255
	}
	b.progs = train.NewPrograms(cfg, b.build)
	first, kind := cfg.BatchSize, train.StepProgram
	if cfg.Eta == 0 {
		first, kind = train.EvalBatch, train.ForwardProgram
	}
	m, err := b.progs.Get(first, kind)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.params = m
	return b, nil
}

// build makes a program's machine, its parameters those of the first.
func (b *backend[T]) build(p *graph.Program, _ train.Kind) (*Machine[T], error) {
	mc := newMachine[T](p, b.pool)
	if b.params != nil {
		for l := range p.Weights {
			mc.Share(p.Weights[l], b.params, b.params.P.Weights[l])
			mc.Share(p.Biases[l], b.params, b.params.P.Biases[l])
		}
	}
	return mc, nil
}

func (b *backend[T]) Load(slot train.Slot, s *mnist.Set) error {
	b.sets[slot] = s // gathered from its bytes batch by batch
	return nil
}

func (b *backend[T]) SetParams(n *network.Network) error {
	p := b.params.P
	for l := range p.Weights {
		toT(b.params.Buf(p.Weights[l]), n.Weights[l])
		toT(b.params.Buf(p.Biases[l]), n.Biases[l])
	}
	return nil
}

func (b *backend[T]) Params() (*network.Network, error) {
	p := b.params.P
	n := &network.Network{Spec: b.cfg.Spec.Norm()}
	for l := range p.Weights {
		n.Weights = append(n.Weights, to64(b.params.Buf(p.Weights[l])))
		n.Biases = append(n.Biases, to64(b.params.Buf(p.Biases[l])))
	}
	return n, nil
}

func (b *backend[T]) Order(order []int32, step uint64) error {
	b.order, b.done, b.step, b.costs = order, 0, step, b.costs[:0]
	return nil
}

func (b *backend[T]) Train(m, k int) error {
	mc, err := b.progs.Get(m, train.StepProgram)
	if err != nil {
		return err
	}
	set, order := b.sets[train.TrainingSlot], b.order
	for range k {
		i := b.done
		b.gather(mc, order[i:i+m], set)
		prefetchImages(set.Images, order[i+m:min(i+2*m, len(order))])
		if mc.P.Key >= 0 {
			dropout.SetKey(mc.Buf(mc.P.Key), dropout.StepKey(b.cfg.Seed, b.step))
		}
		b.step++
		mc.Run()
		b.costs = append(b.costs, float64(mc.Buf(mc.P.Cost)[0]))
		b.done += m
	}
	return nil
}

func (b *backend[T]) Costs(dst []float64) error {
	copy(dst, b.costs)
	return nil
}

func (b *backend[T]) Forward(slot train.Slot, lo int, out []float64, cost bool) (float64, error) {
	m := len(out) / network.OutputSize
	kind := train.ForwardProgram
	if cost {
		kind = train.CostProgram
	}
	mc, err := b.progs.Get(m, kind)
	if err != nil {
		return 0, err
	}
	idx := make([]int32, m)
	for r := range idx {
		idx[r] = int32(lo + r)
	}
	b.gather(mc, idx, b.sets[slot])
	mc.Run()
	for i, v := range mc.Buf(mc.P.Output) {
		out[i] = float64(v)
	}
	if !cost {
		return 0, nil
	}
	return float64(mc.Buf(mc.P.Cost)[0]), nil
}

// gather copies the images (and one-hot labels) of idx into the program's X and Y.
func (b *backend[T]) gather(mc *Machine[T], idx []int32, s *mnist.Set) {
	x := mc.Buf(mc.P.X)
	const n = mnist.Pixels
	for r, i := range idx {
		if s.Float32 != nil { // the book's pickle: its values as they are
			floatPixels(x[r*n:(r+1)*n], s.Float32[int(i)*n:(int(i)+1)*n])
			continue
		}
		// Converting each batch from bytes costs less than keeping a float
		// copy of the images: 4× less memory and memory traffic.
		pixels(x[r*n:(r+1)*n], s.Images[int(i)*n:(int(i)+1)*n], &b.lut)
	}
	if mc.P.Y < 0 {
		return
	}
	y := mc.Buf(mc.P.Y)
	clear(y)
	for r, i := range idx {
		y[r*network.OutputSize+int(s.Labels[i])] = 1
	}
}

func (b *backend[T]) Close() error {
	if b.pool != nil {
		b.pool.close()
		b.pool = nil
	}
	return nil
}

func toT[T Float](dst []T, src []float64) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

func to64[T Float](src []T) []float64 {
	out := make([]float64, len(src))
	for i, v := range src {
		out[i] = float64(v)
	}
	return out
}
