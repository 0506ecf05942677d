package train

import (
	"fmt"
	"math"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// What every backend does alike, kept here so that each does it the same.

const (
	// EvalBatch is the batch size of the forward programs Predict runs:
	// large enough that their products run at full speed, small enough to
	// stay in cache.
	EvalBatch = 500
	// ProgressEvery is how many steps pass between an epoch's checks of
	// its context and calls of progress.
	ProgressEvery = 100
)

// CheckNetwork reports why n cannot be set on a backend opened for spec:
// an invalid network, or one that computes something else (other sizes,
// activation or output layer). Its cost and λ may differ: they shape
// training, and the backend trains with its own.
func CheckNetwork(n *network.Network, spec network.Spec) error {
	if err := n.Check(); err != nil {
		return err
	}
	if !n.SameNetwork(spec) {
		return fmt.Errorf("network %v does not match the %v the backend was opened for", n.Spec, spec)
	}
	return nil
}

// NonFinite returns the first NaN or infinite value of v.
func NonFinite[T float32 | float64](v []T) (T, bool) {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return x, true
		}
	}
	return 0, false
}

// Programs keeps one compiled program, as a backend's compiled form M,
// per batch size and kind: the full batch, an epoch's short last one,
// evaluation's, the monitors'. Building one (compiling, allocating) happens
// on first use only; a step costs a map look-up.
type Programs[M any] struct {
	spec    network.Spec
	dt      graph.Dtype
	step    graph.Step // Eta 0: no training programs (a predictor)
	build   func(p *graph.Program, k Kind) (M, error)
	byBatch map[programKey]M
}

type programKey struct {
	m    int
	kind Kind
}

// NewPrograms compiles programs for cfg's spec, dtype and learning rate
// (0 for a predictor) and makes each ready to run with build.
func NewPrograms[M any](cfg Config, build func(p *graph.Program, k Kind) (M, error)) *Programs[M] {
	return &Programs[M]{spec: cfg.Spec, dt: cfg.Dtype, step: graph.Step{Eta: cfg.Eta, N: cfg.TrainSize, Batch: cfg.BatchSize}, build: build, byBatch: map[programKey]M{}}
}

// Get returns program k for batch size m, compiling and building it on
// first use.
func (ps *Programs[M]) Get(m int, k Kind) (M, error) {
	key := programKey{m, k}
	if mc, ok := ps.byBatch[key]; ok {
		return mc, nil
	}
	var zero M
	var p *graph.Program
	var err error
	switch {
	case k == StepProgram && ps.step.Eta == 0:
		return zero, fmt.Errorf("internal error: a backend opened for prediction asked for a training program")
	case k == StepProgram:
		p, err = graph.Compile(ps.spec, m, ps.dt, ps.step)
	case k == CostProgram:
		p, err = graph.CompileMonitor(ps.spec, m, ps.dt)
	default:
		p, err = graph.CompileForward(ps.spec, m, ps.dt)
	}
	if err != nil {
		return zero, err
	}
	mc, err := ps.build(p, k)
	if err != nil {
		return zero, err
	}
	ps.byBatch[key] = mc
	return mc, nil
}

// Each calls f with every program built so far.
func (ps *Programs[M]) Each(f func(M)) {
	for _, mc := range ps.byBatch {
		f(mc)
	}
}
