package cpu

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// evalBatch is the batch size of the forward program used for evaluation:
// large enough that its products run at full speed, small enough to stay in cache.
const evalBatch = 500

// Open returns a CPU backend for cfg, holding the training set in
// cfg.Dtype. It uses every core GOMAXPROCS allows.
func Open(cfg train.Config, training *mnist.Set) (train.Backend, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	workers := runtime.GOMAXPROCS(0)
	if cfg.Dtype == graph.Float64 {
		return newBackend[float64](cfg, training, workers)
	}
	return newBackend[float32](cfg, training, workers)
}

// backend keeps one machine per batch size (the full one, the short last
// one, the evaluation ones), all sharing one set of parameters and one pool.
type backend[T Float] struct {
	cfg      train.Config
	pool     *pool
	machines map[[2]int]*Machine[T] // by {batch size, 1 for training or 0 for forward}
	params   *Machine[T]            // owner of the parameter memory
	lut      [256]T                 // p → p/255, for the kernels without SIMD
	training *mnist.Set
}

func newBackend[T Float](cfg train.Config, training *mnist.Set, workers int) (*backend[T], error) {
	b := &backend[T]{cfg: cfg, machines: map[[2]int]*Machine[T]{}, training: training}
	if workers > 1 {
		b.pool = newPool(workers)
	}
	for p := range b.lut {
		b.lut[p] = T(p) / 255
	}
	m, err := b.machine(cfg.BatchSize, true)
	if err != nil {
		return nil, err
	}
	b.params = m
	return b, nil
}

// machine returns the program for batch size m, compiling it on first use.
func (b *backend[T]) machine(m int, training bool) (*Machine[T], error) {
	key := [2]int{m, 0}
	if training {
		key[1] = 1
	}
	if mc, ok := b.machines[key]; ok {
		return mc, nil
	}
	var p *graph.Program
	var err error
	if training {
		p, err = graph.Compile(b.cfg.Sizes, m, b.cfg.Dtype, b.cfg.Eta)
	} else {
		p, err = graph.CompileForward(b.cfg.Sizes, m, b.cfg.Dtype)
	}
	if err != nil {
		return nil, err
	}
	mc := newMachine[T](p, b.pool)
	if b.params != nil {
		for l := range p.Weights {
			mc.Share(p.Weights[l], b.params, b.params.P.Weights[l])
			mc.Share(p.Biases[l], b.params, b.params.P.Biases[l])
		}
	}
	b.machines[key] = mc
	return mc, nil
}

func (b *backend[T]) SetNetwork(n *network.Network) error {
	if err := checkSizes(n, b.cfg.Sizes); err != nil {
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
	n := &network.Network{Sizes: append([]int(nil), b.cfg.Sizes...)}
	for l := range p.Weights {
		n.Weights = append(n.Weights, to64(b.params.Buf(p.Weights[l])))
		n.Biases = append(n.Biases, to64(b.params.Buf(p.Biases[l])))
	}
	return n, nil
}

// progressEvery is how many steps pass between progress calls.
const progressEvery = 100

func (b *backend[T]) Epoch(ctx context.Context, order []int32, progress func(int)) (float64, error) {
	var total float64
	bs := b.cfg.BatchSize
	for i, batch := 0, 0; i < len(order); i, batch = i+bs, batch+1 {
		if ctx.Err() != nil {
			return 0, &train.Canceled{Done: i}
		}
		if progress != nil && i > 0 && batch%progressEvery == 0 {
			progress(i)
		}
		idx := order[i:min(i+bs, len(order))]
		mc, err := b.machine(len(idx), true)
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
		for _, v := range b.params.Buf(w) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, &train.Divergence{Batch: (len(order) - 1) / bs, Cost: float64(v)}
			}
		}
	}
	if progress != nil {
		progress(len(order))
	}
	if len(order) == 0 {
		return 0, nil
	}
	return total / float64(len(order)), nil
}

// gather copies the images (and one-hot labels) of idx into the program's X and Y.
func (b *backend[T]) gather(mc *Machine[T], idx []int32, s *mnist.Set) {
	x := mc.Buf(mc.P.X)
	const n = mnist.Pixels
	for r, i := range idx {
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

func (b *backend[T]) Predict(s *mnist.Set) ([]uint8, error) {
	pred := make([]uint8, s.Len())
	idx := make([]int32, evalBatch)
	for lo := 0; lo < s.Len(); lo += evalBatch {
		hi := min(lo+evalBatch, s.Len())
		mc, err := b.machine(hi-lo, false)
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
			pred[lo+r] = uint8(argmax(out[r*network.OutputSize : (r+1)*network.OutputSize]))
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

func argmax[T Float](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func checkSizes(n *network.Network, sizes []int) error {
	if err := n.Check(); err != nil {
		return err
	}
	if !slices.Equal(n.Sizes, sizes) {
		return fmt.Errorf("network sizes %v do not match --sizes %v", n.Sizes, sizes)
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
