package standin

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// TestTrainMatchesCPU runs the unchanged CUDA binary on the stand-in,
// bin/gputrain-cuda train --device cuda, for one float64 epoch over the first
// 1,000 training images in file order, and the CPU binary from the same
// --init: the saved parameters agree to 1e-9 relative (over 100 steps the two
// differ only in rounding: 2.5e-15 measured) and so do the test-set
// accuracies. The run must break no rule: any "standin:" line fails the test
// except the report of allocations left to the context's destruction, which
// fails it only under GPUTRAIN_STANDIN_STRICT=1 (the stand-in exits then).
func TestTrainMatchesCPU(t *testing.T) {
	needStandin(t)
	cpuBin, cudaBin := filepath.Join(root, "bin", "gputrain"), filepath.Join(root, "bin", "gputrain-cuda")
	for _, b := range []string{cpuBin, cudaBin} {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("%s not built (make build cuda)", b)
		}
	}
	data := os.Getenv("GPUTRAIN_DATA")
	if data == "" {
		data = filepath.Join(root, "data", "mnist")
	}
	if _, err := os.Stat(filepath.Join(data, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("no MNIST in %s: set GPUTRAIN_DATA, or run bin/gputrain data", data)
	}
	dir := t.TempDir()
	init := filepath.Join(dir, "init.json")
	var stats []string
	train := func(bin, save string, extra ...string) string {
		t.Helper()
		args := append([]string{"train", "--data", data, "--quiet", "--epochs", "1", "--save", save}, extra...)
		out, _, diags, status := run(t, []string{"GPUTRAIN_STANDIN_STATS=1"}, bin, args...)
		for _, d := range diags {
			switch {
			case strings.Contains(d, " leaked "):
				t.Logf("%s", d)
			case strings.Contains(d, " statistics: "):
				t.Logf("%s", d)
				stats = append(stats, d)
			default:
				t.Errorf("%s broke a rule: %s", filepath.Base(bin), d)
			}
		}
		if status != 0 {
			t.Fatalf("%s %s: exit status %d\n%s", bin, strings.Join(args, " "), status, out)
		}
		return out
	}
	// Any network will do as the start; this one is 10 images in.
	train(cpuBin, init, "--train-limit", "10", "--eval", "none")
	common := []string{"--init", init, "--dtype", "float64", "--no-shuffle", "--train-limit", "1000", "--eval", "test"}
	cpuOut := train(cpuBin, filepath.Join(dir, "cpu.json"), common...)
	cudaOut := train(cudaBin, filepath.Join(dir, "cuda.json"), append(common, "--device", "cuda")...)

	load := func(name string) *graph.Network {
		n, err := graph.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	start, want, got := load("init.json"), load("cpu.json"), load("cuda.json")
	d := got.RelDiff(want)
	t.Logf("CUDA on the stand-in vs CPU after 100 steps: parameters %.3g apart (relative)", d)
	if d > 1e-9 {
		t.Errorf("parameters differ from the CPU build's by %g relative, more than 1e-9", d)
	}
	if moved := want.RelDiff(start); moved < 1e-3 {
		t.Errorf("training moved the parameters by only %g relative: nothing was compared", moved)
	}
	// The step was captured into a graph and replayed, not run kernel by
	// kernel after a failed capture (which the backend does silently).
	if len(stats) != 1 {
		t.Fatalf("want one statistics line from the stand-in, got %q", stats)
	}
	var direct, captured, launches, replayed int
	if _, err := fmt.Sscanf(stats[0][strings.Index(stats[0], "statistics: "):],
		"statistics: %d jobs run as issued, %d graphs captured, %d graph launches replaying %d jobs",
		&direct, &captured, &launches, &replayed); err != nil {
		t.Fatalf("reading %q: %v", stats[0], err)
	}
	if captured == 0 || launches == 0 || replayed <= direct {
		t.Errorf("the training steps were not replayed from captured graphs: %s", stats[0])
	}
	acc := regexp.MustCompile(`Epoch 0: \d+ / 10000`)
	if a, b := acc.FindString(cpuOut), acc.FindString(cudaOut); a == "" || a != b {
		t.Errorf("accuracy: CPU %q, CUDA %q", a, b)
	}
}
