package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/gputrain/gputrain/cmd/internal/rss"
	"github.com/gputrain/gputrain/graph/train"
)

// The book's line per epoch, or one JSON object.

// printEpoch writes the book's line, "Epoch 0: 9059 / 10000", and the
// epoch's training time; or one JSON object, with the other held-out
// set's count (held, when not nil) as other_correct and other_total.
func printEpoch(w io.Writer, format string, r train.Result, held *heldOut) {
	m := r.Monitors
	if format == "json" {
		fields := map[string]any{
			"epoch": r.Epoch, "correct": r.Correct, "total": r.Total, "accuracy": r.Accuracy(),
			"cost": r.Cost, "seconds": r.Seconds, "eval_seconds": r.EvalSecs,
			"peak_rss_mb": float64(rss.Self()) / (1 << 20),
		}
		if held != nil {
			fields["other_correct"], fields["other_total"] = held.Correct, held.Total
		}
		if m != nil {
			fields["training_cost"] = m.TrainingCost
			fields["training_accuracy"] = float64(m.TrainingCorrect) / float64(m.TrainingTotal)
			if r.Total > 0 {
				fields["evaluation_cost"] = m.EvalCost
				fields["evaluation_accuracy"] = r.Accuracy()
			}
		}
		line, _ := json.Marshal(fields)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	if r.Total > 0 {
		fmt.Fprintf(w, "Epoch %d: %d / %d (%.2fs)\n", r.Epoch, r.Correct, r.Total, r.Seconds)
	} else {
		fmt.Fprintf(w, "Epoch %d complete (%.2fs)\n", r.Epoch, r.Seconds)
	}
	if m != nil { // network2.py's lines
		fmt.Fprintf(w, "Cost on training data: %v\nAccuracy on training data: %d / %d\n", m.TrainingCost, m.TrainingCorrect, m.TrainingTotal)
		if r.Total > 0 {
			fmt.Fprintf(w, "Cost on evaluation data: %v\nAccuracy on evaluation data: %d / %d\n", m.EvalCost, r.Correct, r.Total)
		}
	}
}
