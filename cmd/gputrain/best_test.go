package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/train"
)

// TestBestValidation: the validation counts a run makes beside its test
// counts are those a run evaluating validation alone makes (train.Run's
// own evaluation, same seed), and the report names the epoch of best
// validation accuracy, found here plainly (the later of equals), with the
// test count of that epoch: on stdout, in the JSON summary, and after a
// --resume that has to remember the epochs before it.
func TestBestValidation(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	common := []string{"train", "--data", data, "--train-limit", "1000", "--sizes", "784,20,10", "--epochs", "5", "--quiet", "--log-format", "json"}
	type epoch struct{ Correct, Total, OtherCorrect, OtherTotal int }
	epochs := func(out string) []epoch {
		var es []epoch
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct {
				Correct, Total int
				Other_correct  *int
				Other_total    int
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			es = append(es, epoch{e.Correct, e.Total, -1, e.Other_total})
			if e.Other_correct != nil {
				es[len(es)-1].OtherCorrect = *e.Other_correct
			}
		}
		return es
	}
	summary := func(errs string) runSummary {
		var s struct{ Summary runSummary }
		if err := json.Unmarshal([]byte(errs), &s); err != nil {
			t.Fatalf("%q: %v", errs, err)
		}
		return s.Summary
	}
	code, out, errs := runCLI(append(common, "--eval", "test")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	both, s := epochs(out), summary(errs)
	code, out, errs = runCLI(append(common, "--eval", "validation", "--best-validation=false")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	valid := epochs(out)
	if b := summary(errs).BestValidation; b != nil {
		t.Errorf("--best-validation=false reports %+v", b)
	}
	best := -1
	for i, e := range both {
		if e.OtherTotal != 10000 || e.OtherCorrect != valid[i].Correct || valid[i].OtherCorrect != -1 {
			t.Fatalf("epoch %d: validation %d / %d beside test, %d alone (other %d)", i, e.OtherCorrect, e.OtherTotal, valid[i].Correct, valid[i].OtherCorrect)
		}
		if best < 0 || e.OtherCorrect >= both[best].OtherCorrect {
			best = i
		}
	}
	want := bestValidation{Epoch: best, ValidationCorrect: both[best].OtherCorrect, ValidationTotal: 10000, TestCorrect: both[best].Correct, TestTotal: 10000}
	if s.BestValidation == nil || *s.BestValidation != want {
		t.Errorf("summary's best_validation %+v, want %+v", s.BestValidation, want)
	}

	// Text, and resumed after epoch 2: the report covers epochs 0 and 1 too.
	ck := filepath.Join(t.TempDir(), "ck")
	text := []string{"train", "--data", data, "--train-limit", "1000", "--sizes", "784,20,10", "--quiet"}
	if code, _, errs := runCLI(append(text, "--epochs", "2", "--checkpoint", ck)...); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, out, errs = runCLI("train", "--data", data, "--quiet", "--resume", ck, "--epochs", "5")
	line := fmt.Sprintf("Best validation accuracy %.2f%% at epoch %d; test accuracy there %.2f%% (%d / 10000)\n",
		float64(want.ValidationCorrect)/100, best, float64(want.TestCorrect)/100, want.TestCorrect)
	if code != 0 || !strings.HasSuffix(out, line) || strings.Count(out, "Epoch ") != 3 {
		t.Errorf("resumed: exit %d, stdout %q, want it to end with %q", code, out, line)
	}
}

// TestFindBest: the later of equal validation accuracies, epochs missing a
// count skipped, counts on either set as --eval names it.
func TestFindBest(t *testing.T) {
	t.Parallel()
	rs := func(correct ...int) []train.Result {
		var out []train.Result
		for i, c := range correct {
			out = append(out, train.Result{Epoch: i, Correct: c, Total: 100})
		}
		return out
	}
	hs := func(correct ...int) []heldOut {
		var out []heldOut
		for i, c := range correct {
			if c >= 0 {
				out = append(out, heldOut{Epoch: i, Correct: c, Total: 200})
			}
		}
		return out
	}
	for _, c := range []struct {
		name    string
		eval    string
		results []train.Result
		held    []heldOut
		want    *bestValidation
	}{
		{"test evaluated", "test", rs(50, 60, 70), hs(150, 170, 160), &bestValidation{1, 170, 200, 60, 100}},
		{"equal: the later", "test", rs(50, 60, 70), hs(170, 170, 160), &bestValidation{1, 170, 200, 60, 100}},
		{"validation evaluated", "validation", rs(50, 90, 90), hs(150, 170, 160), &bestValidation{2, 90, 100, 160, 200}},
		{"a fraction, not a count", "validation", []train.Result{{Epoch: 0, Correct: 9, Total: 10}, {Epoch: 1, Correct: 80, Total: 100}}, hs(1, 1), &bestValidation{0, 9, 10, 1, 200}},
		{"epoch without a count", "test", rs(50, 60, 70), hs(150, -1, 160), &bestValidation{2, 160, 200, 70, 100}},
		{"no counts", "test", rs(50, 60), nil, nil},
		{"no evaluation", "none", []train.Result{{Epoch: 0}}, hs(5), nil},
	} {
		got := findBest(c.eval, c.results, c.held)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
