package main

import (
	"fmt"
	"io"
	"time"

	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// network3's report: the test accuracy at the epoch of best validation
// accuracy. A run that evaluates one held-out set with --eval (test or
// validation) also evaluates the other after each epoch (--best-validation),
// so that every epoch has both.

// heldOut is an epoch's count on the held-out set --eval does not name:
// validation when it names test, test when it names validation.
type heldOut struct {
	Epoch   int `json:"epoch"`
	Correct int `json:"correct"`
	Total   int `json:"total"`
}

// otherSet is the held-out set a run evaluating eval ("test",
// "validation") also evaluates for the best-validation report; nil
// without one (--eval none, or a data set with no validation images).
func otherSet(eval string, d *mnist.Data) *mnist.Set {
	if d.Validation.Len() == 0 || d.Test.Len() == 0 {
		return nil
	}
	switch eval {
	case "test":
		return d.Validation
	case "validation":
		return d.Test
	}
	return nil
}

// heldAt is epoch's count on the other held-out set, nil when not counted.
func (c *trainCmd) heldAt(epoch int) *heldOut {
	for i := range c.held {
		if c.held[i].Epoch == epoch {
			return &c.held[i]
		}
	}
	return nil
}

// evalOther counts the epoch's network right on the other held-out set,
// adding its time to the epoch's evaluation time.
func (c *trainCmd) evalOther(b train.Predictor, r *train.Result) error {
	if c.other == nil {
		return nil
	}
	start := time.Now()
	n, err := train.Evaluate(b, c.other)
	if err != nil {
		return err
	}
	r.EvalSecs += time.Since(start).Seconds()
	c.held = append(c.held, heldOut{Epoch: r.Epoch, Correct: n, Total: c.other.Len()})
	return nil
}

// bestValidation is network3's report on a run: the epoch of best
// validation accuracy and the test accuracy there.
type bestValidation struct {
	Epoch             int `json:"epoch"`
	ValidationCorrect int `json:"validation_correct"`
	ValidationTotal   int `json:"validation_total"`
	TestCorrect       int `json:"test_correct"`
	TestTotal         int `json:"test_total"`
}

// findBest finds the epoch of best validation accuracy among results, whose
// counts are on eval's set, and held, the other set's counts; nil when no
// epoch has both. Of equal validation accuracies the latest wins, as in
// network3's `>=`.
func findBest(eval string, results []train.Result, held []heldOut) *bestValidation {
	other := map[int]heldOut{}
	for _, h := range held {
		other[h.Epoch] = h
	}
	var best *bestValidation
	for _, r := range results {
		h, ok := other[r.Epoch]
		if !ok || r.Total == 0 || h.Total == 0 {
			continue
		}
		b := bestValidation{Epoch: r.Epoch, ValidationCorrect: h.Correct, ValidationTotal: h.Total, TestCorrect: r.Correct, TestTotal: r.Total}
		if eval == "validation" {
			b = bestValidation{Epoch: r.Epoch, ValidationCorrect: r.Correct, ValidationTotal: r.Total, TestCorrect: h.Correct, TestTotal: h.Total}
		}
		// a/b ≥ c/d without rounding: a·d ≥ c·b.
		if best == nil || b.ValidationCorrect*best.ValidationTotal >= best.ValidationCorrect*b.ValidationTotal {
			best = &b
		}
	}
	return best
}

// ValidationAccuracy and TestAccuracy are the counts as fractions.
func (b *bestValidation) ValidationAccuracy() float64 {
	return float64(b.ValidationCorrect) / float64(b.ValidationTotal)
}
func (b *bestValidation) TestAccuracy() float64 { return float64(b.TestCorrect) / float64(b.TestTotal) }

// String is the line train prints after the epochs' lines.
func (b *bestValidation) String() string {
	return fmt.Sprintf("Best validation accuracy %.2f%% at epoch %d; test accuracy there %.2f%% (%d / %d)",
		100*b.ValidationAccuracy(), b.Epoch, 100*b.TestAccuracy(), b.TestCorrect, b.TestTotal)
}

// printBest writes the best-validation line after the book's lines (text
// only: the JSON summary carries it).
func (c *trainCmd) printBest(w io.Writer, results []train.Result) {
	if b := findBest(c.Eval, results, c.held); b != nil && c.LogFormat != "json" {
		fmt.Fprintln(w, b)
	}
}
