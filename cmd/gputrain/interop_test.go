package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gputrain/gputrain/mnist"
)

// TestNetwork2CrossEntropyModel: a model network2.py saved with its
// default cost, as network2.save writes it (sizes, weights, biases, cost
// and nothing else), loads in predict, eval, show and train --init, and
// predicts what the same parameters saved with QuadraticCost predict: the
// cost does not matter for prediction.
func TestNetwork2CrossEntropyModel(t *testing.T) {
	t.Parallel()
	quadratic, net := randomModel(t)
	data, err := net.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["cost"] = "CrossEntropyCost"
	if len(raw) != 4 {
		t.Fatalf("a book network's file has fields %v, want network2's four", raw)
	}
	data, _ = json.Marshal(raw)
	dir := t.TempDir()
	xent := filepath.Join(dir, "network2.json")
	if err := os.WriteFile(xent, data, 0o644); err != nil {
		t.Fatal(err)
	}
	three, _ := threeFile(t)
	same := func(args ...string) {
		t.Helper()
		var outs [2]string
		for i, model := range []string{quadratic, xent} {
			code, out, errs := runCLI(append([]string{args[0], "--model", model}, args[1:]...)...)
			if code != 0 {
				t.Fatalf("%s --model %s: exit %d: %s", args[0], model, code, errs)
			}
			outs[i] = out
		}
		if !bytes.Equal(bytes.ReplaceAll([]byte(outs[0]), []byte(quadratic), []byte(xent)), []byte(outs[1])) {
			t.Errorf("%s: the CrossEntropyCost model says\n%s\nthe QuadraticCost one\n%s", args[0], outs[1], outs[0])
		}
	}
	same("predict", three)
	if _, err := mnist.Ensure(dataDir(t), &bytes.Buffer{}); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	same("eval", "--data", dataDir(t))
	code, _, errs := runCLI("show", "--data", dataDir(t), "--n", "4", "--model", xent, filepath.Join(dir, "show.png"))
	if code != 0 {
		t.Fatalf("show --model: exit %d: %s", code, errs)
	}
	code, _, errs = runCLI("train", "--data", dataDir(t), "--init", xent, "--epochs", "1", "--eval", "none", "--quiet",
		"--save", filepath.Join(dir, "trained.json"))
	if code != 0 {
		t.Fatalf("train --init: exit %d: %s", code, errs)
	}
}
