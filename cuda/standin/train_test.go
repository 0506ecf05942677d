package standin

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// TestTrainMatchesCPU runs the unchanged CUDA binary on the stand-in,
// bin/gputrain-cuda train --device cuda, for one float64 epoch over the first
// 1,000 training images in file order, and the CPU binary from the same
// --init: the saved parameters agree to 1e-9 relative (over 100 steps the two
// differ only in rounding: 2.9e-15 measured) and so do the test-set
// accuracies; the steps were replayed from captured graphs. It runs with the
// stand-in's work done at once and deferred to synchronisations
// (GPUTRAIN_STANDIN_ASYNC=1). The run must break no rule: any "standin:"
// line fails the test except the report of allocations left to the
// context's destruction, which fails it only under GPUTRAIN_STANDIN_STRICT=1
// (the stand-in exits then).
func TestTrainMatchesCPU(t *testing.T) {
	cpuBin, cudaBin, data := binaries(t)
	dir := t.TempDir()
	init, cpuSave := filepath.Join(dir, "init.json"), filepath.Join(dir, "cpu.json")
	// Any network will do as the start; this one is 10 images in.
	train(t, nil, cpuBin, data, init, "--train-limit", "10", "--eval", "none")
	common := []string{"--init", init, "--dtype", "float64", "--no-shuffle", "--train-limit", "1000", "--eval", "test"}
	cpuOut, _ := train(t, nil, cpuBin, data, cpuSave, common...)
	start, want := load(t, init), load(t, cpuSave)
	if moved := want.RelDiff(start); moved < 1e-3 {
		t.Fatalf("training moved the parameters by only %g relative: nothing to compare", moved)
	}
	acc := regexp.MustCompile(`Epoch 0: \d+ / 10000`).FindString
	for _, mode := range []string{"GPUTRAIN_STANDIN_ASYNC=0", "GPUTRAIN_STANDIN_ASYNC=1"} {
		t.Run(mode, func(t *testing.T) {
			save := filepath.Join(dir, "cuda.json")
			cudaOut, stats := train(t, []string{mode}, cudaBin, data, save, append(common, "--device", "cuda")...)
			d := load(t, save).RelDiff(want)
			t.Logf("CUDA on the stand-in vs CPU after 100 steps: parameters %.3g apart (relative)", d)
			if d > 1e-9 {
				t.Errorf("parameters differ from the CPU build's by %g relative, more than 1e-9", d)
			}
			// The cuBLAS loaded at run time is the stand-in's.
			if !strings.Contains(cudaOut, "cuBLAS 13.0.0 from "+filepath.Join(libDir, "libcublas.so.13")+"\n") {
				t.Errorf("the device line does not name the stand-in's libcublas.so.13:\n%s", cudaOut)
			}
			if a, b := acc(cpuOut), acc(cudaOut); a == "" || a != b {
				t.Errorf("accuracy: CPU %q, CUDA %q", a, b)
			}
			// The steps were captured into a graph and replayed, not run kernel
			// by kernel after a failed capture (which the backend does silently).
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
		})
	}
}

// binaries returns bin/gputrain, bin/gputrain-cuda and the MNIST folder,
// or skips the test until they are built and fetched.
func binaries(t *testing.T) (cpuBin, cudaBin, data string) {
	t.Helper()
	needStandin(t)
	cpuBin, cudaBin = filepath.Join(root, "bin", "gputrain"), filepath.Join(root, "bin", "gputrain-cuda")
	for _, b := range []string{cpuBin, cudaBin} {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("%s not built (make build cuda)", b)
		}
	}
	data = mnist.SharedDir()
	if _, err := os.Stat(filepath.Join(data, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("no MNIST in %s: set GPUTRAIN_DATA, or run bin/gputrain data", data)
	}
	return cpuBin, cudaBin, data
}

// train runs bin train for one epoch on data, saving to save, with env added
// and the stand-in counting its work; it returns stdout and the stand-in's
// statistics lines, and fails the test on any other "standin:" line than
// those and the report of leaked allocations.
func train(t *testing.T, env []string, bin, data, save string, extra ...string) (string, []string) {
	t.Helper()
	args := append([]string{"train", "--data", data, "--quiet", "--epochs", "1", "--save", save}, extra...)
	out, stderr, diags, status := run(t, append(env, "GPUTRAIN_STANDIN_STATS=1"), bin, args...)
	out += stderr
	var stats []string
	for _, d := range diags {
		switch {
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
	return out, stats
}

func load(t *testing.T, path string) *network.Network {
	t.Helper()
	n, err := network.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTrainLayersMatchCPU: chapter 6 on the command line. A network of
// layers with ReLU convolutions, a pool and dropout trains for 200 images
// on bin/gputrain-cuda --device cuda (the stand-in) to where the CPU build
// trains it from the same start and seed, dropout masks included: float64
// parameters ≤ 1e-9 relative, the same test count.
func TestTrainLayersMatchCPU(t *testing.T) {
	cpuBin, cudaBin, data := binaries(t)
	dir := t.TempDir()
	init, cpuSave, cudaSave := filepath.Join(dir, "init.json"), filepath.Join(dir, "cpu.json"), filepath.Join(dir, "cuda.json")
	layers := []string{"--layers", "conv:4x5x5:relu,pool:2,fc:20:relu:dropout=0.5,softmax:10:dropout=0.5", "--eta", "0.1"}
	train(t, nil, cpuBin, data, init, append(layers, "--train-limit", "10", "--eval", "none")...)
	common := append(layers, "--init", init, "--dtype", "float64", "--no-shuffle", "--train-limit", "200", "--eval", "test", "--seed", "3")
	cpuOut, _ := train(t, nil, cpuBin, data, cpuSave, common...)
	cudaOut, _ := train(t, nil, cudaBin, data, cudaSave, append(common, "--device", "cuda")...)
	start, want := load(t, init), load(t, cpuSave)
	if moved := want.RelDiff(start); moved < 1e-3 {
		t.Fatalf("training moved the parameters by only %g relative: nothing to compare", moved)
	}
	if d := load(t, cudaSave).RelDiff(want); d > 1e-9 {
		t.Errorf("parameters differ from the CPU build's by %g relative, more than 1e-9", d)
	}
	acc := regexp.MustCompile(`Epoch 0: \d+ / 10000`).FindString
	if a, b := acc(cpuOut), acc(cudaOut); a == "" || a != b {
		t.Errorf("accuracy: CPU %q, CUDA %q", a, b)
	}
}
