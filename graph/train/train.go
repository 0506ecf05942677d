// Package train runs the book's stochastic gradient descent (network.py's
// SGD method) on any backend: epochs, shuffled mini-batches, evaluation
// after each epoch, divergence checks, cancellation and network2.py's
// monitors, written once (Session) over a small Machine interface that
// each backend implements.
package train

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Predictor computes one network's outputs on one device. It compiles
// forward programs only: the cost and the training settings of the
// network's Spec do not matter to it, but to Monitor.
type Predictor interface {
	// SetNetwork copies parameters to the device; the network must compute
	// what the backend was opened for (CheckNetwork).
	SetNetwork(n *network.Network) error
	// Predict returns the most active output (the predicted digit) for every image of s.
	Predict(s *mnist.Set) ([]uint8, error)
	// Activations returns the ten output activations of every image of s.
	Activations(s *mnist.Set) ([]float64, error)
	// Monitor returns network2.py's total cost on s and the images it
	// predicts right.
	Monitor(s *mnist.Set) (cost float64, correct int, err error)
	// Close frees the device's resources.
	Close() error
}

// Trainer trains and evaluates one network on one device. The training
// images are given once, when it is opened.
type Trainer interface {
	Predictor
	// Network copies the parameters back.
	Network() (*network.Network, error)
	// Epoch runs one SGD step per BatchSize entries of order (indices into
	// the training set), the last step taking what is left. It returns the
	// mean per-image cost over the epoch, as measured during it.
	// progress, when not nil, is called every ProgressEvery steps with the
	// number of images done and their mean cost so far, and at the end. A
	// canceled ctx stops it at the next such check with a *Canceled.
	Epoch(ctx context.Context, order []int32, progress func(done int, cost float64)) (cost float64, err error)
	// BatchSize is the mini-batch size the trainer was opened with.
	BatchSize() int
}

// Opener opens a trainer for a configuration and training set.
type Opener func(cfg Config, training *mnist.Set) (Trainer, error)

// Divergence is the error of a step whose cost is not finite.
type Divergence struct {
	Epoch, Batch int
	Cost         float64
}

func (d *Divergence) Error() string {
	return fmt.Sprintf("training diverged in epoch %d, mini-batch %d (cost %v): try a smaller --eta", d.Epoch, d.Batch, d.Cost)
}

// Result is one epoch's report.
type Result struct {
	Epoch    int
	Correct  int     // on the evaluation set; 0 when there is none
	Total    int     // size of the evaluation set
	Cost     float64 // mean training cost over the epoch
	Seconds  float64 // training time of the epoch, evaluation excluded
	EvalSecs float64
	// Monitors are network2.py's monitors measured after the epoch, when
	// the run asks for them; nil otherwise.
	Monitors *Monitors `json:",omitempty"`
}

// Monitors are network2.py's four monitors of an epoch: total cost (the
// network's cost plus the L2 term) and accuracy on the training set and
// on the evaluation set (whose accuracy is the Result's).
type Monitors struct {
	TrainingCost    float64
	TrainingCorrect int
	TrainingTotal   int
	EvalCost        float64 // 0 without an evaluation set
}

// Accuracy is Correct/Total, or 0 without an evaluation set.
func (r Result) Accuracy() float64 {
	if r.Total == 0 {
		return 0
	}
	return float64(r.Correct) / float64(r.Total)
}

// Shuffler produces each epoch's mini-batch order. Its state marshals, so
// a resumed run draws the same orders as one that never stopped.
type Shuffler struct {
	pcg     *rand.PCG
	shuffle bool
}

// NewShuffler seeds the order; with shuffle false every epoch is in file order.
func NewShuffler(seed uint64, shuffle bool) *Shuffler {
	return &Shuffler{pcg: rand.NewPCG(seed, 0xda3e39cb94b95bdb), shuffle: shuffle}
}

// Order returns the order of the next epoch over n images: a fresh
// permutation each epoch, as the book's random.shuffle is.
func (s *Shuffler) Order(n int) []int32 {
	order := make([]int32, n)
	s.Reorder(order)
	return order
}

// Reorder fills order with the next epoch's order over len(order) images,
// reusing its memory.
func (s *Shuffler) Reorder(order []int32) {
	for i := range order {
		order[i] = int32(i)
	}
	if s.shuffle {
		rand.New(s.pcg).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
}

// MarshalBinary saves the generator state.
func (s *Shuffler) MarshalBinary() ([]byte, error) { return s.pcg.MarshalBinary() }

// UnmarshalBinary restores it.
func (s *Shuffler) UnmarshalBinary(b []byte) error { return s.pcg.UnmarshalBinary(b) }

// Evaluate counts the images of s whose predicted digit equals the label.
func Evaluate(b Predictor, s *mnist.Set) (int, error) {
	pred, err := b.Predict(s)
	if err != nil {
		return 0, err
	}
	correct := 0
	for i, p := range pred {
		if p == s.Labels[i] {
			correct++
		}
	}
	return correct, nil
}

// Canceled is the error of an epoch stopped by its context; Done images
// of its order were trained on, a multiple of the batch size.
type Canceled struct{ Done int }

func (c *Canceled) Error() string { return fmt.Sprintf("interrupted after %d images", c.Done) }

// Position is where a run stands: Done images into epoch Epoch, Shuffle
// being the shuffler's state before that epoch's order was drawn. A run
// started from a saved Position continues exactly as the original would have.
type Position struct {
	Epoch   int    `json:"epoch"`
	Done    int    `json:"done"`
	Shuffle []byte `json:"shuffle"`
}

// Interrupted is Run's error when its context is canceled mid-epoch.
type Interrupted struct{ At Position }

func (i *Interrupted) Error() string {
	return fmt.Sprintf("interrupted in epoch %d after %d images", i.At.Epoch, i.At.Done)
}

// Options control a run of several epochs.
type Options struct {
	Epochs int        // the run ends before epoch Epochs
	Start  Position   // where to begin; the zero Position with a fresh shuffler starts at epoch 0
	Eval   *mnist.Set // evaluated after each epoch; nil for none
	// Progress, when not nil, is told the images done in the epoch and
	// their mean cost from time to time.
	Progress func(epoch, done int, cost float64)
}

// Run trains from opt.Start until epoch opt.Epochs over n training images
// and calls report after each epoch with the result and the position of
// the next. A step with a non-finite cost ends the run with a *Divergence,
// a canceled ctx with an *Interrupted; report's error ends it too.
func Run(ctx context.Context, b Trainer, n int, sh *Shuffler, opt Options, report func(Result, Position) error) error {
	if s := opt.Start; s.Epoch < 0 || s.Done < 0 || s.Done > n {
		return fmt.Errorf("start position epoch %d after %d images: outside a run of epochs of %d images", s.Epoch, s.Done, n)
	}
	if opt.Start.Shuffle != nil {
		if err := sh.UnmarshalBinary(opt.Start.Shuffle); err != nil {
			return fmt.Errorf("restoring the shuffle state: %w", err)
		}
	}
	skip := opt.Start.Done
	all := make([]int32, n)
	for e := opt.Start.Epoch; e < opt.Epochs; e++ {
		state, err := sh.MarshalBinary()
		if err != nil {
			return err
		}
		sh.Reorder(all)
		order := all[skip:]
		var progress func(int, float64)
		if opt.Progress != nil {
			progress = func(done int, cost float64) { opt.Progress(e, skip+done, cost) }
		}
		if s, ok := b.(interface{ SetStep(uint64) }); ok {
			// The run's step at this epoch's first batch: what the dropout
			// masks are drawn by, the same after a resume.
			bs := max(1, b.BatchSize())
			s.SetStep(uint64(e)*uint64((n+bs-1)/bs) + uint64(skip/bs))
		}
		start := time.Now()
		cost, err := b.Epoch(ctx, order, progress)
		var d *Divergence
		var c *Canceled
		switch {
		case errors.As(err, &d):
			d.Epoch = e
			d.Batch += skip / max(1, b.BatchSize())
			return d
		case errors.As(err, &c):
			return &Interrupted{At: Position{Epoch: e, Done: skip + c.Done, Shuffle: state}}
		case err != nil:
			return err
		}
		skip = 0
		r := Result{Epoch: e, Cost: cost, Seconds: time.Since(start).Seconds()}
		if opt.Eval != nil && opt.Eval.Len() > 0 {
			start = time.Now()
			if r.Correct, err = Evaluate(b, opt.Eval); err != nil {
				return err
			}
			r.Total = opt.Eval.Len()
			r.EvalSecs = time.Since(start).Seconds()
		}
		next, err := sh.MarshalBinary()
		if err != nil {
			return err
		}
		if err := report(r, Position{Epoch: e + 1, Shuffle: next}); err != nil {
			return err
		}
	}
	return nil
}

// Stalled reports whether the evaluation accuracy of results has not
// improved for the last n epochs: network2.py's early_stopping_n, for
// which an epoch improves when it counts more correct images than every
// earlier one. It reads the whole history, so a resumed run stops where
// the original would have.
func Stalled(results []Result, n int) bool {
	if n < 1 {
		return false
	}
	best, since := -1, 0
	for _, r := range results {
		if r.Correct > best {
			best, since = r.Correct, 0
		} else {
			since++
		}
	}
	return since >= n
}
