package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// TestPredictLayers: from training to a digit drawn on paper with a
// chapter 6 network. A small ReLU convolutional network trained on 10,000
// images reads the drawn 3 as a 3, and its predictions of MNIST test
// images saved as PNGs are what its own forward pass gives on the raw
// pixels.
func TestPredictLayers(t *testing.T) {
	t.Parallel()
	model, _, data := trainModel(t, 1, "--layers", "conv:8x5x5:relu,pool:2,fc:30:relu,softmax:10", "--eta", "0.1",
		"--train-limit", "10000", "--eval", "none")
	net, err := network.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Layers) == 0 {
		t.Fatalf("%s holds no layers", model)
	}
	dir := t.TempDir()
	const n = 20
	if agree := pngAgreement(t, dir, model, net, data, n); agree < n-1 {
		t.Errorf("%d of %d predictions from the PNGs agree with the raw tensor's", agree, n)
	}
	three := filepath.Join(dir, "drawn-3.png")
	writePNG(t, three, drawnThree())
	code, out, errs := runCLI("predict", "--model", model, three)
	if code != 0 || !strings.HasPrefix(out, three+": 3 (") {
		t.Errorf("drawn 3: exit %d, output %q, %s", code, out, errs)
	}
}

// pngAgreement saves the first n MNIST test images as PNGs in dir, runs
// predict --json on them with model, and counts the digits that agree with
// net's forward pass on the raw pixels.
func pngAgreement(t *testing.T, dir, model string, net *network.Network, data *mnist.Data, n int) int {
	t.Helper()
	args := []string{"predict", "--json", "--model", model}
	var raw []uint8
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("test-%02d.png", i))
		mnistPNG(t, path, data.Test.Image(i), 3)
		args = append(args, path)
		raw = append(raw, data.Test.Image(i)...)
	}
	want, err := (&modelSet{}).activations(net, &mnist.Set{Images: raw, Labels: make([]uint8, n)})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	agree := 0
	for i := range n {
		var p struct{ Digit int }
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if p.Digit == byActivation(want[i])[0] {
			agree++
		}
	}
	t.Logf("%d of %d predictions from the PNGs agree with the raw tensor's", agree, n)
	return agree
}
