package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Session runs the book's algorithm on a Machine: the batch loop with its
// divergence, NaN and cancellation checks and progress, evaluation,
// network2.py's monitors and the output activations. It is the Trainer
// and Predictor of every backend, so each backend trains alike.
type Session struct {
	m        Machine
	cfg      Config
	training *mnist.Set // in the training slot; nil without
	costs    []float64  // the epoch's step costs, read back
	out      []float64  // a forward batch's activations
	step     uint64     // the run's number of the next training step
}

// SetStep sets the run's number of the next training step, which keys the
// dropout masks: Run sets it at each epoch, from its position, so that a
// resumed run draws the masks the uninterrupted one would have. Epoch
// advances it by its steps.
func (s *Session) SetStep(step uint64) { s.step = step }

// Open opens a trainer for cfg on the machine open makes, loading the
// training set into it.
func Open(cfg Config, training *mnist.Set, open func(Config) (Machine, error)) (*Session, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if training != nil {
		if err := checkSet(training, "training set"); err != nil {
			return nil, err
		}
	}
	m, err := open(cfg)
	if err != nil {
		return nil, err
	}
	s := &Session{m: m, cfg: cfg}
	if training != nil {
		if err := m.Load(TrainingSlot, training); err != nil {
			m.Close() // the load's error says more
			return nil, err
		}
		s.training = training
	}
	return s, nil
}

// OpenPredictor opens a predictor for a network of spec in dt on the
// machine open makes: forward programs only, so the spec's cost and λ
// matter only to Monitor.
func OpenPredictor(spec network.Spec, dt graph.Dtype, open func(Config) (Machine, error)) (*Session, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	cfg := Config{Spec: spec, Dtype: dt}
	m, err := open(cfg)
	if err != nil {
		return nil, err
	}
	return &Session{m: m, cfg: cfg}, nil
}

func checkSet(s *mnist.Set, what string) error {
	if s.Float32 != nil { // the book's pickle: float pixels, no bytes
		if len(s.Float32) < s.Len()*mnist.Pixels {
			return fmt.Errorf("%s has %d labels but %d pixels", what, s.Len(), len(s.Float32))
		}
		return nil
	}
	if len(s.Images) < s.Len()*mnist.Pixels {
		return fmt.Errorf("%s has %d labels but %d bytes of images", what, s.Len(), len(s.Images))
	}
	return nil
}

// Machine is the machine the session runs on.
func (s *Session) Machine() Machine { return s.m }

// BatchSize is the mini-batch size the session was opened with.
func (s *Session) BatchSize() int { return s.cfg.BatchSize }

// SetNetwork copies n's parameters to the machine; n must compute what
// the session was opened for (CheckNetwork).
func (s *Session) SetNetwork(n *network.Network) error {
	if err := CheckNetwork(n, s.cfg.Spec); err != nil {
		return err
	}
	return s.m.SetParams(n)
}

// Network copies the parameters back.
func (s *Session) Network() (*network.Network, error) { return s.m.Params() }

// Close frees the machine.
func (s *Session) Close() error { return s.m.Close() }

// Epoch runs one SGD step per BatchSize entries of order, the last step
// taking what is left, and returns the mean per-image cost. The costs stay
// on the machine until progress asks for them (every ProgressEvery steps)
// or the epoch ends; then the first non-finite one is a *Divergence, and
// so is a non-finite parameter, which can overflow while the cost is still
// finite. A diverged epoch runs to its end: its parameters are garbage
// either way. A canceled ctx stops it every ProgressEvery steps with a
// *Canceled.
func (s *Session) Epoch(ctx context.Context, order []int32, progress func(done int, cost float64)) (float64, error) {
	if s.training == nil {
		return 0, errors.New("Epoch: the backend was opened without a training set")
	}
	n := s.training.Len()
	for i, v := range order {
		if v < 0 || int(v) >= n {
			return 0, fmt.Errorf("order[%d] = %d is not an image of the %d-image training set", i, v, n)
		}
	}
	if len(order) == 0 {
		return 0, nil
	}
	bs := s.cfg.BatchSize
	steps := (len(order) + bs - 1) / bs
	if err := s.m.Order(order, s.step); err != nil {
		return 0, err
	}
	s.step += uint64(steps)
	s.costs = append(s.costs[:0], make([]float64, steps)...)
	for i, batch := 0, 0; i < len(order); {
		if progress != nil && i > 0 {
			cost, err := s.meanCost(batch, i)
			if err != nil {
				return 0, err
			}
			progress(i, cost)
		}
		if ctx.Err() != nil {
			return 0, &Canceled{Done: i}
		}
		m, k := bs, min((len(order)-i)/bs, ProgressEvery)
		if k == 0 {
			m, k = len(order)-i, 1
		}
		if err := s.m.Train(m, k); err != nil {
			return 0, err
		}
		i, batch = i+k*m, batch+k
	}
	cost, err := s.meanCost(steps, len(order))
	if err != nil {
		return 0, err
	}
	for j, c := range s.costs {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return 0, &Divergence{Batch: j, Cost: c}
		}
	}
	net, err := s.m.Params()
	if err != nil {
		return 0, err
	}
	for l := range net.Weights {
		for _, v := range [][]float64{net.Weights[l], net.Biases[l]} {
			if x, bad := NonFinite(v); bad {
				return 0, &Divergence{Batch: steps - 1, Cost: x}
			}
		}
	}
	if progress != nil {
		progress(len(order), cost)
	}
	return cost, nil
}

// meanCost is the mean per-image cost of the epoch's first steps, which
// trained images images.
func (s *Session) meanCost(steps, images int) (float64, error) {
	if err := s.m.Costs(s.costs[:steps]); err != nil {
		return 0, err
	}
	var total float64
	for j, c := range s.costs[:steps] {
		total += c * float64(min(s.cfg.BatchSize, images-j*s.cfg.BatchSize))
	}
	return total / float64(images), nil
}

// forward runs the forward program over set in batches of EvalBatch and
// calls each with every batch's first image, activations and (with cost)
// mean cost.
func (s *Session) forward(set *mnist.Set, cost bool, each func(lo int, out []float64, c float64)) error {
	n := set.Len()
	if n == 0 {
		return nil
	}
	if err := checkSet(set, "the set to predict"); err != nil {
		return err
	}
	slot := OtherSlot
	if t := s.training; t != nil && t.Len() == n && &t.Images[0] == &set.Images[0] && &t.Labels[0] == &set.Labels[0] {
		slot = TrainingSlot
	} else if err := s.m.Load(OtherSlot, set); err != nil {
		return err
	}
	if len(s.out) < EvalBatch*network.OutputSize {
		s.out = make([]float64, EvalBatch*network.OutputSize)
	}
	for lo := 0; lo < n; lo += EvalBatch {
		out := s.out[:min(EvalBatch, n-lo)*network.OutputSize]
		c, err := s.m.Forward(slot, lo, out, cost)
		if err != nil {
			return err
		}
		each(lo, out, c)
	}
	return nil
}

// Predict returns the most active output (the predicted digit) for every
// image of set.
func (s *Session) Predict(set *mnist.Set) ([]uint8, error) {
	pred := make([]uint8, set.Len())
	err := s.forward(set, false, func(lo int, out []float64, _ float64) {
		for r := range len(out) / network.OutputSize {
			pred[lo+r] = uint8(network.Digit(out[r*network.OutputSize : (r+1)*network.OutputSize]))
		}
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

// Activations returns the output activations of every image of set: ten
// per image, image after image.
func (s *Session) Activations(set *mnist.Set) ([]float64, error) {
	acts := make([]float64, 0, set.Len()*network.OutputSize)
	err := s.forward(set, false, func(_ int, out []float64, _ float64) { acts = append(acts, out...) })
	if err != nil {
		return nil, err
	}
	return acts, nil
}

// Monitor measures the network on set as network2.py's monitors do: its
// total cost, the mean over the images of the network's own cost plus
// ½·(λ/n)·Σw² with n the images of set (network2's total_cost), and how
// many images it predicts right.
func (s *Session) Monitor(set *mnist.Set) (cost float64, correct int, err error) {
	if set.Len() == 0 {
		return 0, 0, nil
	}
	var total float64
	err = s.forward(set, true, func(lo int, out []float64, c float64) {
		m := len(out) / network.OutputSize
		total += c * float64(m)
		for r := range m {
			if network.Digit(out[r*network.OutputSize:(r+1)*network.OutputSize]) == int(set.Labels[lo+r]) {
				correct++
			}
		}
	})
	if err != nil {
		return 0, 0, err
	}
	var ss float64
	if s.cfg.Lambda != 0 {
		net, err := s.m.Params()
		if err != nil {
			return 0, 0, err
		}
		for _, w := range net.Weights {
			for _, v := range w {
				ss += v * v
			}
		}
	}
	n := float64(set.Len()) // network2's ½(λ/n)Σw²
	if len(s.cfg.Layers) > 0 && s.cfg.BatchSize > 0 {
		n = float64(max(1, s.cfg.TrainSize/s.cfg.BatchSize)) // network3's: over the training mini-batches
	}
	return total/float64(set.Len()) + 0.5*s.cfg.Lambda/n*ss, correct, nil
}
