package standin

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
)

// TestSweepMatchesSoloRuns: each network of a 2×2×2 sweep (η × λ × seed,
// cross-entropy, float64, one epoch of 300 images) run by the CUDA binary
// with --device cuda on the stand-in ends where the CUDA binary's own
// solo run of it ends, bit for bit, and within 1e-9 relative of the CPU
// binary's solo run.
func TestSweepMatchesSoloRuns(t *testing.T) {
	cpuBin, cudaBin, data := binaries(t)
	dir := t.TempDir()
	common := []string{"--data", data, "--train-limit", "300", "--epochs", "1", "--dtype", "float64", "--cost", "cross-entropy", "--eval", "none"}
	cli(t, cudaBin, append([]string{"sweep", "--device", "cuda", "--quiet", "--eta", "0.5,3", "--lambda", "0,5", "--seed", "1,2",
		"--save-dir", filepath.Join(dir, "sweep")}, common...)...)
	for _, eta := range []float64{0.5, 3} {
		for _, lambda := range []float64{0, 5} {
			for _, seed := range []int{1, 2} {
				name := fmt.Sprintf("784-30-10_b10_eta%g_lambda%g_seed%d_cross-entropy_sigmoid_large", eta, lambda, seed)
				swept := load(t, filepath.Join(dir, "sweep", name+".json"))
				solo := []string{"train", "--quiet", "--eta", fmt.Sprint(eta), "--lambda", fmt.Sprint(lambda), "--seed", fmt.Sprint(seed)}
				cudaSolo, cpuSolo := filepath.Join(dir, name+"-cuda.json"), filepath.Join(dir, name+"-cpu.json")
				cli(t, cudaBin, append(append(solo, "--device", "cuda", "--save", cudaSolo), common...)...)
				cli(t, cpuBin, append(append(solo, "--save", cpuSolo), common...)...)
				if d := paramDiff(swept, load(t, cudaSolo)); d != 0 {
					t.Errorf("%s: the CUDA sweep's network differs from the CUDA solo run's by %.3g relative, want 0", name, d)
				}
				if d := paramDiff(swept, load(t, cpuSolo)); d > 1e-9 {
					t.Errorf("%s: the CUDA sweep's network differs from the CPU solo run's by %.3g relative, want ≤ 1e-9", name, d)
				}
			}
		}
	}
}

// TestSweepLayersCUDA: a CUDA sweep of a network of sizes and two of
// layers (chapter 6's: each trains alone, outside the batched group)
// ends with each network where the CUDA binary's own solo run ends it,
// bit for bit.
func TestSweepLayersCUDA(t *testing.T) {
	_, cudaBin, data := binaries(t)
	dir := t.TempDir()
	common := []string{"--data", data, "--train-limit", "200", "--epochs", "1", "--dtype", "float64", "--eval", "none", "--eta", "0.1"}
	layers := "conv:2x5x5:relu,pool:2,softmax:10"
	cli(t, cudaBin, append([]string{"sweep", "--device", "cuda", "--quiet", "--sizes", "784,20,10", "--layers", layers, "--seed", "1,2",
		"--save-dir", filepath.Join(dir, "sweep")}, common...)...)
	for _, seed := range []int{1, 2} {
		for _, net := range [][]string{{"784-20-10", "--sizes", "784,20,10"}, {"conv-2x5x5-relu+pool-2+softmax-10", "--layers", layers}} {
			name := fmt.Sprintf("%s_b10_eta0.1_lambda0_seed%d", net[0], seed)
			if net[1] == "--sizes" {
				name += "_quadratic_sigmoid_large"
			}
			solo := filepath.Join(dir, name+"-solo.json")
			cli(t, cudaBin, append([]string{"train", "--quiet", "--device", "cuda", net[1], net[2], "--seed", fmt.Sprint(seed), "--save", solo}, common...)...)
			if d := paramDiff(load(t, filepath.Join(dir, "sweep", name+".json")), load(t, solo)); d != 0 {
				t.Errorf("%s: the CUDA sweep's network differs from the CUDA solo run's by %.3g relative, want 0", name, d)
			}
		}
	}
}

// paramDiff is the largest |a−b| / max(|b|, 1) over the parameters.
func paramDiff(a, b *network.Network) float64 {
	worst := 0.0
	for l := range a.Weights {
		for _, p := range [][2][]float64{{a.Weights[l], b.Weights[l]}, {a.Biases[l], b.Biases[l]}} {
			for i := range p[0] {
				worst = max(worst, math.Abs(p[0][i]-p[1][i])/max(math.Abs(p[1][i]), 1))
			}
		}
	}
	return worst
}

// TestSweepResumeCUDA: a CUDA sweep (its four networks one group)
// interrupted by SIGINT once its first epoch is out and resumed from its
// --out folder (--device cuda again: the device is not kept there) ends
// with the models of the sweep never stopped, bit for bit.
func TestSweepResumeCUDA(t *testing.T) {
	_, cudaBin, data := binaries(t)
	dir := t.TempDir()
	grid := []string{"sweep", "--device", "cuda", "--data", data, "--train-limit", "300", "--epochs", "3", "--eta", "0.5,3", "--seed", "1,2", "--eval", "none"}
	straight, out, models := filepath.Join(dir, "straight"), filepath.Join(dir, "out"), filepath.Join(dir, "models")
	cli(t, cudaBin, append(grid, "--quiet", "--save-dir", straight)...)
	cmd := exec.Command(cudaBin, append(grid, "--out", out, "--save-dir", models)...)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+libDir)
	lines, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(lines)
	for sc.Scan() && !strings.Contains(sc.Text(), `"epoch":0`) {
	}
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, lines)
	if err := cmd.Wait(); err == nil {
		t.Logf("the sweep ended before the signal: resuming a finished sweep")
	}
	cli(t, cudaBin, "sweep", "--device", "cuda", "--quiet", "--resume", out, "--save-dir", models)
	for _, eta := range []float64{0.5, 3} {
		for _, seed := range []int{1, 2} {
			name := fmt.Sprintf("784-30-10_b10_eta%g_lambda0_seed%d_quadratic_sigmoid_large.json", eta, seed)
			if d := paramDiff(load(t, filepath.Join(models, name)), load(t, filepath.Join(straight, name))); d != 0 {
				t.Errorf("%s: the resumed sweep's network differs from the straight one's by %.3g relative, want 0", name, d)
			}
		}
	}
}
