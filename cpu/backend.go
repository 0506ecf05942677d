package cpu

import (
	"context"
	"math"
	"runtime"

	"github.com/gputrain/gputrain/graph"
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
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	workers = max(1, workers)
	if cfg.Dtype == graph.Float64 {
		return newBackend[float64](cfg, training, workers)
	}
	return newBackend[float32](cfg, training, workers)
}

// OpenPredictor returns a CPU backend that predicts with a network of spec
// in dt: it compiles forward programs only, so the spec's cost and λ do
// not matter.
func OpenPredictor(spec network.Spec, dt graph.Dtype) (train.Predictor, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	cfg := train.Config{Spec: spec, Dtype: dt}
	workers := runtime.GOMAXPROCS(0)
	if dt == graph.Float64 {
		return newBackend[float64](cfg, nil, workers)
	}
	return newBackend[float32](cfg, nil, workers)
}

// backend keeps one machine per batch size (the full one, the short last
// one, the evaluation ones), all sharing one set of parameters and one pool.
type backend[T Float] struct {
	cfg      train.Config
	pool     *pool
	progs    *train.Programs[*Machine[T]]
	params   *Machine[T] // owner of the parameter memory
	lut      [256]T      // p → p/255, for the kernels without SIMD
	training *mnist.Set
}

// newBackend opens a trainer, or a predictor where cfg has no learning rate.
func newBackend[T Float](cfg train.Config, training *mnist.Set, workers int) (*backend[T], error) {
	b := &backend[T]{cfg: cfg, training: training}
	if workers > 1 {
		b.pool = newPool(workers)
	}
	for p := range b.lut {
		b.lut[p] = T(p) / 255
	}
	first, training1 := cfg.BatchSize, true
	if cfg.Eta == 0 {
		b.progs = train.NewForwardPrograms(cfg.Spec, cfg.Dtype, b.build)
		first, training1 = train.EvalBatch, false
	} else {
		b.progs = train.NewPrograms(cfg, b.build)
	}
	m, err := b.progs.Get(first, training1)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.params = m
	return b, nil
}

// build makes a program's machine, its parameters those of the first.
func (b *backend[T]) build(p *graph.Program, _ bool) (*Machine[T], error) {
	mc := newMachine[T](p, b.pool)
	if b.params != nil {
		for l := range p.Weights {
			mc.Share(p.Weights[l], b.params, b.params.P.Weights[l])
			mc.Share(p.Biases[l], b.params, b.params.P.Biases[l])
		}
	}
	return mc, nil
}

func (b *backend[T]) SetNetwork(n *network.Network) error {
	if err := train.CheckNetwork(n, b.cfg.Spec); err != nil {
		return err
	}
	p := b.params.P
	for l := range p.Weights {
		toT(b.params.Buf(p.Weights[l]), n.Weights[l])
		toT(b.params.Buf(p.Biases[l]), n.Biases[l])
	}
	return nil
}

func (b *backend[T]) Network() (*network.Network, error) {
	p := b.params.P
	n := &network.Network{Spec: b.cfg.Spec.Norm()}
	for l := range p.Weights {
		n.Weights = append(n.Weights, to64(b.params.Buf(p.Weights[l])))
		n.Biases = append(n.Biases, to64(b.params.Buf(p.Biases[l])))
	}
	return n, nil
}

func (b *backend[T]) Epoch(ctx context.Context, order []int32, progress func(int, float64)) (float64, error) {
	var total float64
	bs := b.cfg.BatchSize
	for i, batch := 0, 0; i < len(order); i, batch = i+bs, batch+1 {
		if ctx.Err() != nil {
			return 0, &train.Canceled{Done: i}
		}
		if progress != nil && i > 0 && batch%train.ProgressEvery == 0 {
			progress(i, total/float64(i))
		}
		idx := order[i:min(i+bs, len(order))]
		mc, err := b.progs.Get(len(idx), true)
		if err != nil {
			return 0, err
		}
		b.gather(mc, idx, b.training)
		prefetchImages(b.training.Images, order[min(i+bs, len(order)):min(i+2*bs, len(order))])
		mc.Run()
		cost := float64(mc.Buf(mc.P.Cost)[0])
		if math.IsNaN(cost) || math.IsInf(cost, 0) {
			return 0, &train.Divergence{Batch: batch, Cost: cost}
		}
		total += cost * float64(len(idx))
	}
	// A parameter can overflow without the cost showing it yet.
	p := b.params.P
	for _, w := range append(append([]int{}, p.Weights...), p.Biases...) {
		if v, bad := train.NonFinite(b.params.Buf(w)); bad {
			return 0, &train.Divergence{Batch: (len(order) - 1) / bs, Cost: float64(v)}
		}
	}
	if len(order) == 0 {
		return 0, nil
	}
	if progress != nil {
		progress(len(order), total/float64(len(order)))
	}
	return total / float64(len(order)), nil
}

// gather copies the images (and one-hot labels) of idx into the program's X and Y.
func (b *backend[T]) gather(mc *Machine[T], idx []int32, s *mnist.Set) { gather(mc, idx, s, &b.lut) }

func gather[T Float](mc *Machine[T], idx []int32, s *mnist.Set, lut *[256]T) {
	x := mc.Buf(mc.P.X)
	const n = mnist.Pixels
	for r, i := range idx {
		// Converting each batch from bytes costs less than keeping a float
		// copy of the images: 4× less memory and memory traffic.
		pixels(x[r*n:(r+1)*n], s.Images[int(i)*n:(int(i)+1)*n], lut)
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

func (b *backend[T]) Predict(s *mnist.Set) ([]uint8, error) {
	pred := make([]uint8, s.Len())
	idx := make([]int32, train.EvalBatch)
	for lo := 0; lo < s.Len(); lo += train.EvalBatch {
		hi := min(lo+train.EvalBatch, s.Len())
		mc, err := b.progs.Get(hi-lo, false)
		if err != nil {
			return nil, err
		}
		for r := range idx[:hi-lo] {
			idx[r] = int32(lo + r)
		}
		b.gather(mc, idx[:hi-lo], s)
		mc.Run()
		out := mc.Buf(mc.P.Output)
		for r := 0; r < hi-lo; r++ {
			pred[lo+r] = uint8(network.Digit(out[r*network.OutputSize : (r+1)*network.OutputSize]))
		}
	}
	return pred, nil
}

func (b *backend[T]) BatchSize() int { return b.cfg.BatchSize }

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
