package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/internal/safefile"
)

// startTrain runs a training command in the background; wait returns its
// exit status, stdout and stderr.
func startTrain(t *testing.T, args ...string) (out, errb *syncBuffer, wait func() int) {
	out, errb = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"train"}, args...), out, errb) }()
	return out, errb, func() int {
		select {
		case code := <-done:
			return code
		case <-time.After(120 * time.Second):
			t.Fatalf("training did not end: %q %q", out.String(), errb.String())
			return -1
		}
	}
}

// waitFor waits until s holds want.
func waitFor(t *testing.T, s *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never came: %q", want, s.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHangupKeepsEverything: SIGHUP (a dropped SSH session) checkpoints as
// SIGINT does, and writes the --save model as it stands and the --plot;
// then "--resume DIR" alone finishes the run with every setting it was
// started with (JSON log, --save, --plot).
func TestHangupKeepsEverything(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	ck, model, plot := filepath.Join(dir, "ck"), filepath.Join(dir, "m.json"), filepath.Join(dir, "p.png")
	// Should the run end before the signal, the signal must not end the test.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	out, errb, wait := startTrain(t, "--data", data, "--sizes", "784,10,10", "--train-limit", "1000", "--epochs", "200",
		"--eval", "none", "--quiet", "--checkpoint", ck, "--save", model, "--plot", plot, "--log-format", "json")
	waitFor(t, out, `"epoch":1,`)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	code := wait()
	if code != 130 || strings.Count(errb.String(), "\n") != 1 ||
		!strings.Contains(errb.String(), "checkpoint saved; model as it stands saved to "+model+"; continue with: gputrain train --resume "+ck) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	for _, p := range []string{model, plot, filepath.Join(ck, checkpointFile)} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(model)
	os.Remove(plot)
	code, stdout, stderr := runCLI("train", "--resume", ck, "--quiet")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || !strings.HasSuffix(lines[len(lines)-1], "}") || !strings.Contains(lines[len(lines)-1], `"epoch":199,`) {
		t.Fatalf("--resume alone: exit %d, last line %q, %s", code, lines[len(lines)-1], stderr)
	}
	if _, err := network.Load(model); err != nil {
		t.Fatalf("--resume alone did not write the --save model: %v", err)
	}
	if _, err := os.Stat(plot); err != nil {
		t.Fatalf("--resume alone did not draw the --plot: %v", err)
	}
}

// TestPlotFailureIsAWarning: a --plot that cannot be written mid-run (here
// a directory takes its place) is a warning each epoch; the run goes on
// and its --save is written.
func TestPlotFailureIsAWarning(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	model, plot := filepath.Join(dir, "m.json"), filepath.Join(dir, "p.png")
	out, errb, wait := startTrain(t, "--data", data, "--sizes", "784,10,10", "--train-limit", "1000", "--epochs", "40",
		"--eval", "none", "--quiet", "--save", model, "--plot", plot)
	waitFor(t, out, "Epoch 0 complete")
	os.Remove(plot)
	os.Mkdir(plot, 0o755)
	if code := wait(); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "gputrain train: warning: --plot: "+plot+": is a directory; training goes on") ||
		!strings.Contains(out.String(), "Epoch 39 complete") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errb.String())
	}
	if _, err := network.Load(model); err != nil {
		t.Fatalf("--save after a failing --plot: %v", err)
	}
}

// TestSaveFailureKeepsModel: a --save that fails after training leaves the
// model in a checkpoint (the default folder without --checkpoint), says
// where, and --resume with another --save writes exactly that model.
func TestSaveFailureKeepsModel(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	t.Chdir(dir)
	model := filepath.Join(dir, "m.json")
	out, errb, wait := startTrain(t, "--data", data, "--sizes", "784,10,10", "--train-limit", "1000", "--epochs", "30",
		"--eval", "none", "--quiet", "--save", model)
	waitFor(t, out, "Epoch 0 complete")
	os.Mkdir(model, 0o755) // --save cannot replace a directory
	if code := wait(); code != exitRuntime || strings.Count(errb.String(), "\n") != 1 ||
		!strings.Contains(errb.String(), "--save: "+model+": is a directory; the trained model is kept in "+filepath.Join(dir, defaultCheckpoint, checkpointFile)+": gputrain train --resume "+filepath.Join(dir, defaultCheckpoint)+" --save FILE writes it") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	// The kept model blocks no new run: one whose --save fails too keeps
	// its model in a folder of its own beside it.
	model2 := filepath.Join(dir, "m2.json")
	safefile.SetWriteFault(func(path string) error {
		if path == model2 {
			return syscall.ENOSPC
		}
		return nil
	})
	code, _, stderr := runCLI("train", "--data", data, "--sizes", "784,10,10", "--train-limit", "100", "--epochs", "1", "--eval", "none", "--quiet", "--save", model2)
	safefile.SetWriteFault(nil)
	if want := "the trained model is kept in " + filepath.Join(dir, defaultCheckpoint+"-"); code != exitRuntime || !strings.Contains(stderr, want) {
		t.Fatalf("a second run beside the kept model: exit %d, %q, want %q", code, stderr, want)
	}
	other := filepath.Join(dir, "other.json")
	code, stdout, stderr := runCLI("train", "--resume", "gputrain-checkpoint", "--save", other)
	if code != 0 || !strings.Contains(stdout, "had finished its 30 epochs: model written to "+other) {
		t.Fatalf("writing the kept model: exit %d, %q, %q", code, stdout, stderr)
	}
	// The kept model is the trained one: the same as a straight run's.
	straight := filepath.Join(dir, "straight.json")
	if code, _, stderr := runCLI("train", "--data", data, "--sizes", "784,10,10", "--train-limit", "1000", "--epochs", "30",
		"--eval", "none", "--quiet", "--save", straight, "--checkpoint", filepath.Join(dir, "ck2")); code != 0 {
		t.Fatal(stderr)
	}
	a, _ := network.Load(other)
	b, _ := network.Load(straight)
	if a == nil || b == nil || !a.Equal(b) {
		t.Fatal("the model kept after a failed --save differs from a straight run's")
	}
}

// TestNoCheckpointOverwritten: a --checkpoint folder (or the default one)
// holding another run's checkpoint is refused, naming the folder and
// --checkpoint; the run's own checkpoint is continued; and a folder that
// another process has locked fails at once.
func TestNoCheckpointOverwritten(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	t.Chdir(dir)
	ck := filepath.Join(dir, "ck")
	common := []string{"train", "--data", data, "--sizes", "784,10,10", "--train-limit", "500", "--eval", "none", "--quiet"}
	if code, _, errs := runCLI(append(common, "--epochs", "1", "--checkpoint", ck)...); code != 0 {
		t.Fatal(errs)
	}
	os.MkdirAll(defaultCheckpoint, 0o755)
	b, _ := os.ReadFile(filepath.Join(ck, checkpointFile))
	os.WriteFile(filepath.Join(defaultCheckpoint, checkpointFile), b, 0o644)
	runBad(t, []badCase{
		{"another run's --checkpoint", append(common, "--checkpoint", ck), exitUsage,
			"--checkpoint " + ck + ": it holds the checkpoint of another run, which this run would overwrite: continue that run with --resume " + ck + ", or name another folder with --checkpoint"},
	})
	// Another run's checkpoint in the default folder blocks nothing: an
	// interrupt of this run would go to a folder named for it.
	if code, _, errs := runCLI(append(common, "--epochs", "1")...); code != 0 {
		t.Fatalf("a run beside another's default checkpoint: %s", errs)
	}
	// A checkpoint.json gputrain cannot resume is not offered to --resume.
	foreign := filepath.Join(dir, "foreign")
	os.Mkdir(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, checkpointFile), []byte(`{"run": "x"}`), 0o644)
	runBad(t, []badCase{{"a foreign checkpoint.json", append(common, "--checkpoint", foreign), exitUsage,
		"--checkpoint " + foreign + ": it holds checkpoint.json, which this run would overwrite and which is no checkpoint gputrain can resume (no model): move it away, or name another folder with --checkpoint"}})
	if code, stdout, errs := runCLI("train", "--resume", ck, "--epochs", "2", "--quiet"); code != 0 || !strings.Contains(stdout, "Epoch 1 complete") {
		t.Fatalf("resuming its own checkpoint: exit %d, %q", code, errs)
	}

	// Another process holds the lock: this test takes it with flock itself.
	locked := filepath.Join(dir, "locked")
	os.Mkdir(locked, 0o755)
	f, err := os.OpenFile(filepath.Join(locked, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	runBad(t, []badCase{{"a locked folder", append(common, "--checkpoint", locked), exitUsage,
		"--checkpoint " + locked + ": another gputrain run is writing to this folder"}})
}

// TestMemoryEstimate runs the binary and holds the estimate to within 25%
// of its measured peak RSS: the book's network and a wide one at batch 100,
// and a show grid.
func TestMemoryEstimate(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	bin := filepath.Join(t.TempDir(), "gputrain")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	png := filepath.Join(t.TempDir(), "grid.png")
	for _, c := range []struct {
		name     string
		args     []string
		estimate float64
	}{
		{"train [784,30,10] batch 100", []string{"train", "--sizes", "784,30,10", "--batch-size", "100", "--epochs", "1"},
			trainEstimate([]int{784, 30, 10}, 100, 50000, graph.Float32, true, false)},
		{"train [784,1000,10] batch 100", []string{"train", "--sizes", "784,1000,10", "--batch-size", "100", "--epochs", "1"},
			trainEstimate([]int{784, 1000, 10}, 100, 50000, graph.Float32, true, false)},
		{"show 400 digits at scale 16", []string{"show", "--n", "400", "--scale", "16", png},
			showEstimate(400, 16, "", "#400", network.Arch{})},
	} {
		t.Run(c.name, func(t *testing.T) {
			peak := peakRSSOf(t, exec.Command(bin, append(c.args, "--data", data)...))
			ratio := c.estimate / peak
			t.Logf("estimate %.1f MB, peak RSS %.1f MB: %.2f", c.estimate/1e6, peak/1e6, ratio)
			if ratio < 0.75 || ratio > 1.25 {
				t.Errorf("estimate %.1f MB is not within 25%% of the peak RSS %.1f MB", c.estimate/1e6, peak/1e6)
			}
		})
	}
}

// peakRSSOf runs cmd and returns its peak RSS, VmHWM of /proc/PID/status
// read until it ends. (The rusage of a child started by Go counts the
// parent's RSS: the child shares the parent's memory until its exec.)
// The peak of every command measured comes seconds before its end.
func peakRSSOf(t *testing.T, cmd *exec.Cmd) float64 {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak float64
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			if peak == 0 {
				t.Skip("no VmHWM in /proc: peak RSS cannot be measured here")
			}
			return peak
		case <-time.After(5 * time.Millisecond):
		}
		b, _ := os.ReadFile(status)
		for _, line := range strings.Split(string(b), "\n") {
			var kb float64
			if _, err := fmt.Sscanf(line, "VmHWM: %g kB", &kb); err == nil {
				peak = max(peak, kb*1024)
			}
		}
	}
}

// TestDeepNetwork: the compiler takes any depth; here 300 hidden layers
// train and evaluate (5,000 of 30 neurons were tried by hand: they train,
// after about a minute of compiling).
func TestDeepNetwork(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	sizes := "784" + strings.Repeat(",4", 300) + ",10"
	code, stdout, stderr := runCLI("train", "--data", data, "--sizes", sizes, "--train-limit", "100", "--epochs", "1", "--quiet")
	if code != 0 || !strings.HasPrefix(stdout, "Epoch 0: ") {
		t.Fatalf("exit %d, %q, %q", code, stdout, stderr)
	}
}
