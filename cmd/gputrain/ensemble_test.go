package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// sweptModels trains three small networks (seeds 1–3) with a sweep and
// returns its --save-dir.
func sweptModels(t *testing.T) (string, []*network.Network, *mnist.Data) {
	t.Helper()
	data := dataDir(t)
	dir := filepath.Join(t.TempDir(), "models")
	if code, _, errs := runCLI("sweep", "--data", data, "--sizes", "784,20,10", "--train-limit", "5000", "--epochs", "1",
		"--seed", "1..3", "--save-dir", dir, "--eval", "none"); code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var nets []*network.Network
	for _, f := range files {
		n, err := network.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, n)
	}
	d, err := mnist.Ensure(data, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, nets, d
}

// TestEnsembleEval: an ensemble's count is chapter 6's vote (or the mean
// of the activations) of the book's feedforward of each member, written
// plainly here, with the first member breaking a tie; each member's own
// count is reported too.
func TestEnsembleEval(t *testing.T) {
	dir, nets, d := sweptModels(t)
	if len(nets) != 3 {
		t.Fatalf("%d models, want 3", len(nets))
	}
	test := d.Test
	var wantVote, wantMean int
	wantMembers := make([]int, len(nets))
	for i := range test.Len() {
		px := test.Image(i)
		votes := map[int]int{}
		var digits []int
		mean := make([]float64, 10)
		for k, n := range nets {
			a := forward(n, px)
			dg := network.Digit(a)
			digits = append(digits, dg)
			votes[dg]++
			if dg == int(test.Labels[i]) {
				wantMembers[k]++
			}
			for j, v := range a {
				mean[j] += v / float64(len(nets))
			}
		}
		best := 0
		for _, v := range votes {
			best = max(best, v)
		}
		for _, dg := range digits {
			if votes[dg] == best {
				if dg == int(test.Labels[i]) {
					wantVote++
				}
				break
			}
		}
		if network.Digit(mean) == int(test.Labels[i]) {
			wantMean++
		}
	}
	for _, tc := range []struct {
		combine string
		want    int
	}{{"vote", wantVote}, {"mean", wantMean}} {
		code, out, errs := runCLI("eval", "--data", dataDir(t), "--model", dir, "--dtype", "float64", "--combine", tc.combine, "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.combine, code, errs)
		}
		var e evaluation
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatal(err)
		}
		if e.Correct != tc.want || e.Model != "ensemble of 3 models ("+tc.combine+")" || len(e.Members) != 3 {
			t.Errorf("%s: %d correct as %q with %d members; want %d", tc.combine, e.Correct, e.Model, len(e.Members), tc.want)
		}
		for k, m := range e.Members {
			if m.Correct != wantMembers[k] {
				t.Errorf("%s: member %d (%s) counts %d, its feedforward %d", tc.combine, k, m.Model, m.Correct, wantMembers[k])
			}
		}
	}
	// The same members listed with commas; the text output names them.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	code, out, errs := runCLI("eval", "--data", dataDir(t), "--model", strings.Join(files, ","), "--dtype", "float64")
	if code != 0 || strings.Count(out, "member ") != 3 || !strings.Contains(out, "ensemble of 3 models (vote) on the test set") {
		t.Errorf("eval with a list: exit %d: %s%s", code, out, errs)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir, "--combine", "median"}, `--combine "median": want vote or mean`},
		{[]string{"--model", files[0] + ",,x.json"}, "an empty name in the list"},
		{[]string{"--model", t.TempDir()}, "a folder with no model files"},
	} {
		code, _, errs := runCLI(append([]string{"eval", "--data", dataDir(t)}, bad.args...)...)
		if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, bad.want) {
			t.Errorf("%v: exit %d: %q, want %q", bad.args, code, errs, bad.want)
		}
	}
}

// TestEnsemblePredictAndShow: predict prints the vote with each member's
// digit; show --misclassified draws the ensemble's mistakes.
func TestEnsemblePredictAndShow(t *testing.T) {
	dir, nets, _ := sweptModels(t)
	three, px := threeFile(t)
	code, out, errs := runCLI("predict", "--model", dir, "--json", three)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	var got struct {
		Digit   int
		Votes   int
		Members []int
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	votes := map[int]int{}
	for k, n := range nets {
		d := network.Digit(forward(n, px))
		votes[d]++
		if got.Members[k] != d {
			t.Errorf("member %d: %d, its feedforward says %d", k, got.Members[k], d)
		}
	}
	if votes[got.Digit] != got.Votes {
		t.Errorf("digit %d with %d votes; the members gave it %d", got.Digit, got.Votes, votes[got.Digit])
	}
	code, out, _ = runCLI("predict", "--model", dir, three)
	if code != 0 || !strings.Contains(out, "votes)  members: ") {
		t.Errorf("predict text: %s", out)
	}
	if code, _, errs := runCLI("predict", "--model", dir, "--show", filepath.Join(t.TempDir(), "s.png"), three); code != exitUsage || !strings.Contains(errs, "--combine mean") {
		t.Errorf("--show with a vote: exit %d: %s", code, errs)
	}
	png := filepath.Join(t.TempDir(), "m.png")
	code, out, errs = runCLI("show", "--data", dataDir(t), "--misclassified", "--model", dir, png)
	if code != 0 || !strings.Contains(out, "ensemble of 3 models (vote): ") {
		t.Errorf("show: exit %d: %s %s", code, out, errs)
	}
	if _, err := os.Stat(png); err != nil {
		t.Error(err)
	}
}
