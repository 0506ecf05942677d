package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalErrors: bad command lines are exit 2, unreadable models exit 1,
// each one line naming the flag or the file, all before MNIST is read.
func TestEvalErrors(t *testing.T) {
	t.Parallel()
	model, _ := randomModel(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"sizes":[784,30,10],"weights":[[[1]]]`), 0o644)
	diverged := filepath.Join(dir, "nan.json")
	os.WriteFile(diverged, []byte(`{"sizes":[784,10],"weights":[[[NaN]]],"biases":[[[0]]]}`), 0o644)
	noData := filepath.Join(dir, "no-mnist-here")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, exitUsage, "--model is required"},
		{[]string{"--model", model, "--split", "train"}, exitUsage, `--split "train": want test, validation, training`},
		{[]string{"--model", model, "--dtype", "int8"}, exitUsage, `--dtype: dtype "int8"`},
		{[]string{"--model", model, "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--model", model, "--device", "tpu"}, exitUsage, `--device "tpu": want cpu or cuda`},
		{[]string{"--model", model, "--device", "cuda", "--data", noData}, exitUsage, "--device cuda: gputrain was built without CUDA support"},
		{[]string{"--model", filepath.Join(dir, "none.json"), "--data", noData}, exitRuntime, filepath.Join(dir, "none.json") + ": no such file or directory"},
		{[]string{"--model", bad, "--data", noData}, exitRuntime, bad + ": unexpected EOF"},
		{[]string{"--model", diverged, "--data", noData}, exitRuntime, diverged + ": holds NaN or Infinity"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errs := runCLI(append([]string{"eval"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "gputrain eval: ") || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q: want one line containing %q", errs, c.want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}
	if _, err := os.Stat(noData); err == nil {
		t.Errorf("%s was created: the model should be read before MNIST is fetched", noData)
	}
}

// TestEval: eval counts what training's last epoch line counted, and its
// confusion matrix adds up to the labels of the split.
func TestEval(t *testing.T) {
	t.Parallel()
	model, epochs, data := trainModel(t, 1)
	var correct, total int
	if _, err := fmt.Sscanf(epochs[len(epochs)-1], "Epoch 0: %d / %d", &correct, &total); err != nil {
		t.Fatalf("training's line %q: %v", epochs[len(epochs)-1], err)
	}
	code, out, errs := runCLI("eval", "--data", dataDir(t), "--model", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	want := fmt.Sprintf("%s on the test set: %d / %d correct (%.2f%%)", model, correct, total, 100*float64(correct)/float64(total))
	if lines[0] != want {
		t.Errorf("first line %q, want %q (training's own count)", lines[0], want)
	}
	// The matrix: a header of the ten digits, then one row per true digit
	// whose cells sum to that digit's count in the test set.
	var labels [10]int
	for _, l := range data.Test.Labels {
		labels[l]++
	}
	if got := strings.Fields(lines[3]); strings.Join(got, " ") != "true\\pred 0 1 2 3 4 5 6 7 8 9 total correct" {
		t.Errorf("header %q", lines[3])
	}
	diagonal := 0
	for d := range 10 {
		f := strings.Fields(lines[4+d])
		if len(f) != 13 || f[0] != fmt.Sprint(d) {
			t.Fatalf("row %d: %q", d, lines[4+d])
		}
		sum := 0
		for p := range 10 {
			var v int
			fmt.Sscan(f[1+p], &v)
			sum += v
			if p == d {
				diagonal += v
			}
		}
		if sum != labels[d] || f[11] != fmt.Sprint(labels[d]) {
			t.Errorf("row %d sums to %d (total column %s); the test set has %d %ds", d, sum, f[11], labels[d], d)
		}
	}
	if diagonal != correct {
		t.Errorf("the diagonal sums to %d, want %d correct", diagonal, correct)
	}

	code, out, errs = runCLI("eval", "--data", dataDir(t), "--model", model, "--split", "validation", "--json", "--dtype", "float64")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errs)
	}
	var e struct {
		Model, Split   string
		Correct, Total int
		Accuracy       float64
		Confusion      [][]int
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("--json output %q: %v", out, err)
	}
	labels = [10]int{}
	for _, l := range data.Validation.Labels {
		labels[l]++
	}
	if e.Model != model || e.Split != "validation" || e.Total != data.Validation.Len() || len(e.Confusion) != 10 {
		t.Fatalf("--json: %+v", e)
	}
	diagonal = 0
	for d, row := range e.Confusion {
		sum := 0
		for _, v := range row {
			sum += v
		}
		if len(row) != 10 || sum != labels[d] {
			t.Errorf("row %d: %v sums to %d, want %d", d, row, sum, labels[d])
		}
		diagonal += row[d]
	}
	if diagonal != e.Correct || e.Accuracy != float64(e.Correct)/float64(e.Total) || e.Accuracy < 0.85 {
		t.Errorf("correct %d, diagonal %d, accuracy %v: want equal, and above 85%% after an epoch", e.Correct, diagonal, e.Accuracy)
	}
}
