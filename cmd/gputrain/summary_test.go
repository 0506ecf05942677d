package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/train"
)

func TestSummaryText(t *testing.T) {
	t.Parallel()
	results := []train.Result{
		{Epoch: 0, Correct: 9000, Total: 10000, Cost: 0.03, Seconds: 0.25, EvalSecs: 0.05},
		{Epoch: 1, Correct: 9541, Total: 10000, Cost: 0.02, Seconds: 0.25, EvalSecs: 0.05},
		{Epoch: 2, Correct: 9541, Total: 10000, Cost: 0.02, Seconds: 0.25, EvalSecs: 0.05},
		{Epoch: 3, Correct: 9534, Total: 10000, Cost: 0.01, Seconds: 12, EvalSecs: 0.05},
	}
	noEval := []train.Result{{Epoch: 0, Cost: 0.5, Seconds: 1.5}, {Epoch: 1, Cost: 0.25, Seconds: 1.5}}
	cases := []struct {
		name    string
		results []train.Result
		files   func(*runSummary)
		want    string
	}{
		{"best is the first of equals", results, func(s *runSummary) { s.Model, s.Plot = "m.json", "p.png" },
			"Best: epoch 1, 9541 / 10000 (95.41%); last: epoch 3, 9534 / 10000 (95.34%)\n" +
				"Time: 4 epochs, 13s training, 0.20s evaluating\n" +
				"Files: model m.json, plot p.png\n"},
		{"no evaluation, no files", noEval, func(*runSummary) {},
			"Last: epoch 1, mean training cost 0.2500 (no evaluation: --eval none)\n" +
				"Time: 2 epochs, 3.0s training, 0.00s evaluating\n" +
				"Files: none (--save FILE keeps the model)\n"},
		{"finished in the interrupt checkpoint, unsaved", noEval, func(s *runSummary) { s.Checkpoint = filepath.Join(defaultCheckpoint, checkpointFile) },
			"Last: epoch 1, mean training cost 0.2500 (no evaluation: --eval none)\n" +
				"Time: 2 epochs, 3.0s training, 0.00s evaluating\n" +
				"Files: checkpoint gputrain-checkpoint/checkpoint.json\n" +
				"The checkpoint gputrain-checkpoint/checkpoint.json holds the finished run (no --save); delete it when done with it\n"},
		{"resumed from another checkpoint", noEval, func(s *runSummary) {
			s.Model, s.Checkpoint, s.ResumedFrom = "m.json", "ck/checkpoint.json", "gputrain-checkpoint/checkpoint.json"
		},
			"Last: epoch 1, mean training cost 0.2500 (no evaluation: --eval none)\n" +
				"Time: 2 epochs, 3.0s training, 0.00s evaluating\n" +
				"Files: model m.json, checkpoint ck/checkpoint.json\n" +
				"The checkpoint gputrain-checkpoint/checkpoint.json this run resumed from is still there, at the epoch it resumed from\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := summarize(c.results)
			c.files(&s)
			if got := s.text(); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestSummaryCLI: a run ends with the summary on stderr, in text or as one
// JSON object, stdout keeping the epochs' lines alone; one resumed from the
// interrupt checkpoint removes it once finished and saved, and keeps it,
// saying so, when the checkpoint is the only copy of the trained network.
func TestSummaryCLI(t *testing.T) {
	data, err := filepath.Abs(dataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	common := []string{"train", "--data", data, "--train-limit", "1000", "--sizes", "784,10,10", "--quiet"}
	ck := filepath.Join(defaultCheckpoint, checkpointFile)

	code, out, errs := runCLI(append(common, "--epochs", "1", "--log-format", "json", "--plot", "p.png")...)
	var s struct{ Summary runSummary }
	if code != 0 || strings.Count(out, "\n") != 1 || strings.Contains(out, "summary") || json.Unmarshal([]byte(errs), &s) != nil ||
		strings.Count(errs, "\n") != 1 || s.Summary.Epochs != 1 || s.Summary.Plot != "p.png" {
		t.Fatalf("json: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	code, out, errs = runCLI(append(common, "--epochs", "1", "--checkpoint", defaultCheckpoint)...)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(errs, "Files: checkpoint "+ck+"\n") {
		t.Fatalf("checkpoint: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// Resumed from it without --save, then with: epochs 1, then 2.
	for epochs, save := range []bool{false, true} {
		epochs += 2
		args := []string{"train", "--data", data, "--quiet", "--resume", defaultCheckpoint, "--epochs", strconv.Itoa(epochs)}
		if save {
			args = append(args, "--save", "m.json")
		}
		code, out, errs := runCLI(args...)
		if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("Epoch %d: ", epochs-1)) || strings.Count(out, "\n") != 2 {
			t.Fatalf("resume: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		_, statErr := os.Stat(ck)
		switch {
		case save && (statErr == nil || !strings.Contains(errs, "Removed the interrupt checkpoint "+ck)):
			t.Errorf("with --save: checkpoint still there (%v), stderr %q", statErr, errs)
		case save:
			if _, err := os.Stat(defaultCheckpoint); err == nil {
				t.Errorf("the empty %s was left behind", defaultCheckpoint)
			}
		case !save && (statErr != nil || !strings.Contains(errs, "The checkpoint "+ck+" holds the finished run")):
			t.Errorf("without --save: checkpoint gone (%v), stderr %q", statErr, errs)
		}
		if !strings.Contains(errs, "Best: epoch ") || !strings.Contains(errs, fmt.Sprintf("Time: %d epochs", epochs)) {
			t.Errorf("stderr %q: want the summary", errs)
		}
	}
}
