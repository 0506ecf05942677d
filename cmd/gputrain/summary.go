package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/graph/train"
)

// runSummary is what a finished run did: its best and last epochs, how
// long it trained and evaluated, and where its files went.
type runSummary struct {
	Epochs       int     `json:"epochs"`
	BestEpoch    int     `json:"best_epoch"`
	BestCorrect  int     `json:"best_correct"`
	LastEpoch    int     `json:"last_epoch"`
	LastCorrect  int     `json:"last_correct"`
	Total        int     `json:"total"` // size of the evaluation set; 0 with --eval none
	LastCost     float64 `json:"last_cost"`
	TrainSeconds float64 `json:"train_seconds"`
	EvalSeconds  float64 `json:"eval_seconds"`
	Model        string  `json:"model,omitempty"`
	Plot         string  `json:"plot,omitempty"`
	Checkpoint   string  `json:"checkpoint,omitempty"`
	// RemovedCheckpoint is the interrupt checkpoint this run resumed from
	// and, finished and saved, removed.
	RemovedCheckpoint string `json:"removed_checkpoint,omitempty"`
	// ResumedFrom is the checkpoint this run resumed from when it is still
	// there and not the run's own last one (--checkpoint named another).
	ResumedFrom string `json:"resumed_from,omitempty"`
	// NotWritten are the --plot and --checkpoint files every write of which
	// failed in this run (a full disk): they are not listed in Files.
	NotWritten []string `json:"not_written,omitempty"`
	// BestValidation is network3's report (best.go), when the run counted
	// both held-out sets.
	BestValidation *bestValidation `json:"best_validation,omitempty"`
}

// finish ends a successful run: it removes the interrupt checkpoint the run
// resumed from when the model is saved elsewhere (without --save, that
// checkpoint holds the only copy of the trained network, and stays), then
// writes the summary on stderr, beside the progress bar, so that stdout
// keeps the book's lines (or the epochs' JSON objects) alone: text, or with
// --log-format json one object {"summary": {...}}.
func (c *trainCmd) finish(stderr io.Writer, results []train.Result) error {
	s := summarize(results)
	s.Model = c.Save
	s.BestValidation = findBest(c.Eval, results, c.held)
	var notPlot, notCheckpoint string
	if c.Plot != "" {
		s.Plot, notPlot = c.plotWrites.describe(c.Plot)
	}
	if c.Checkpoint != "" {
		s.Checkpoint, notCheckpoint = c.checkpointWrites.describe(filepath.Join(c.Checkpoint, checkpointFile))
	}
	for _, p := range []string{notPlot, notCheckpoint} {
		if p != "" {
			s.NotWritten = append(s.NotWritten, p)
		}
	}
	// The default folders: gputrain-checkpoint, or gputrain-checkpoint-RUN
	// when that one held another run's.
	fromDefault := c.resume != "" && strings.HasPrefix(filepath.Base(c.resumedFrom), defaultCheckpoint)
	here, _ := filepath.Abs(c.Checkpoint)
	if fromDefault && here == c.resumedFrom && c.Save != "" {
		ck := filepath.Join(c.Checkpoint, checkpointFile)
		if err := os.Remove(ck); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the finished run's interrupt checkpoint: %w", err)
		}
		c.unlock()
		removeLockFile(c.Checkpoint)
		os.Remove(c.Checkpoint) // only if empty: it may hold the user's files too
		s.RemovedCheckpoint, s.Checkpoint, s.NotWritten = ck, "", nil
	} else if from := filepath.Join(c.resume, checkpointFile); c.resume != "" && here != c.resumedFrom {
		s.ResumedFrom = from
	}
	if c.LogFormat == "json" {
		line, err := json.Marshal(map[string]runSummary{"summary": s})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s\n", line)
		return nil
	}
	fmt.Fprint(stderr, s.text())
	return nil
}

// summarize finds the best epoch (the first of equals) and the last, and
// adds up the times.
func summarize(results []train.Result) runSummary {
	var s runSummary
	s.Epochs = len(results)
	for i, r := range results {
		if i == 0 || r.Correct > s.BestCorrect {
			s.BestEpoch, s.BestCorrect = r.Epoch, r.Correct
		}
		s.LastEpoch, s.LastCorrect, s.Total, s.LastCost = r.Epoch, r.Correct, r.Total, r.Cost
		s.TrainSeconds += r.Seconds
		s.EvalSeconds += r.EvalSecs
	}
	return s
}

// text words the summary in a few lines:
//
//	Best: epoch 27, 9541 / 10000 (95.41%); last: epoch 29, 9534 / 10000 (95.34%)
//	Time: 30 epochs, 4.8s training, 0.6s evaluating
//	Files: model model.json, plot train-plot.png, checkpoint ck/checkpoint.json
func (s runSummary) text() string {
	var b strings.Builder
	pct := func(n int) float64 { return 100 * float64(n) / float64(s.Total) }
	if s.Total > 0 {
		fmt.Fprintf(&b, "Best: epoch %d, %d / %d (%.2f%%); last: epoch %d, %d / %d (%.2f%%)\n",
			s.BestEpoch, s.BestCorrect, s.Total, pct(s.BestCorrect), s.LastEpoch, s.LastCorrect, s.Total, pct(s.LastCorrect))
	} else {
		fmt.Fprintf(&b, "Last: epoch %d, mean training cost %.4f (no evaluation: --eval none)\n", s.LastEpoch, s.LastCost)
	}
	fmt.Fprintf(&b, "Time: %d epochs, %s training, %s evaluating\n", s.Epochs, duration(s.TrainSeconds), duration(s.EvalSeconds))
	var files []string
	for _, f := range []struct{ what, path string }{{"model", s.Model}, {"plot", s.Plot}, {"checkpoint", s.Checkpoint}} {
		if f.path != "" {
			files = append(files, f.what+" "+f.path)
		}
	}
	if len(files) == 0 {
		files = append(files, "none (--save FILE keeps the model)")
	}
	fmt.Fprintf(&b, "Files: %s\n", strings.Join(files, ", "))
	if len(s.NotWritten) > 0 {
		fmt.Fprintf(&b, "Not written (see the warnings above): %s\n", strings.Join(s.NotWritten, ", "))
	}
	if s.RemovedCheckpoint != "" {
		fmt.Fprintf(&b, "Removed the interrupt checkpoint %s: the run it saved is finished and saved\n", s.RemovedCheckpoint)
	} else if strings.HasPrefix(filepath.Base(filepath.Dir(s.Checkpoint)), defaultCheckpoint) && s.Model == "" {
		fmt.Fprintf(&b, "The checkpoint %s holds the finished run (no --save); delete it when done with it\n", s.Checkpoint)
	}
	if s.ResumedFrom != "" {
		fmt.Fprintf(&b, "The checkpoint %s this run resumed from is still there, at the epoch it resumed from\n", s.ResumedFrom)
	}
	return b.String()
}
