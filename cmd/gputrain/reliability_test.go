package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// badCase is one command line that must fail with code and one line on
// stderr holding want, and no stack trace.
type badCase struct {
	name string
	args []string
	code int
	want string
}

func runBad(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := runCLI(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errs)
			}
			if strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q: want one line containing %q", errs, c.want)
			}
			if strings.Contains(errs, "goroutine ") || strings.Contains(errs, "internal error") {
				t.Errorf("stderr %q: a stack trace or an internal error", errs)
			}
		})
	}
}

// noData is a --data folder that cannot exist: a command that read it
// would fail on it, so a case failing otherwise failed before reading data.
const noData = "/proc/no-mnist-here"

// TestRefuseBeforeAllocating: networks, batches and images that cannot fit
// are refused from the estimate alone, before the data is read.
func TestRefuseBeforeAllocating(t *testing.T) {
	t.Parallel()
	runBad(t, []badCase{
		{"huge hidden layer", []string{"train", "--data", noData, "--sizes", "784,100000000,10"}, exitUsage,
			"--sizes 784,100000000,10 at --batch-size 10 in float32 needs about 1.9 TB of memory, more than the "},
		{"two wide layers", []string{"train", "--data", noData, "--sizes", "784,50000,50000,10", "--max-memory", "20GB"}, exitUsage,
			"--sizes 784,50000,50000,10 at --batch-size 10 in float32 needs about 41.3 GB of memory, more than --max-memory 20GB allows"},
		{"a size past int range", []string{"train", "--data", noData, "--sizes", "784,4611686018427387904,10"}, exitUsage,
			"needs about 8.8e+22 bytes of memory"},
		{"a huge batch", []string{"train", "--data", noData, "--batch-size", "10000000", "--max-memory", "200MB"}, exitUsage,
			"--sizes 784,30,10 at --batch-size 50000 in float32 needs about "},
		{"a huge image", []string{"show", "--data", noData, "--split", "training", "--n", "50000", "--scale", "16", "--max-memory", "8GiB", filepath.Join(t.TempDir(), "big.png")}, exitUsage,
			"--n 50000 at --scale 16 (a grid of 50000 digits) needs about 45.0 GB of memory, more than --max-memory 8GiB allows"},
		// The expanded set's 196 MB of bytes pass 250MB; the standard run needs about 72 MB.
		{"the expanded training set", []string{"train", "--data", noData, "--train-set", "expanded", "--max-memory", "250MB"}, exitUsage,
			"--sizes 784,30,10 at --batch-size 10 in float32 on the expanded training set needs about 269.4 MB of memory, more than --max-memory 250MB allows"},
		{"a bad --max-memory", []string{"train", "--data", noData, "--max-memory", "lots"}, exitUsage,
			`--max-memory "lots": want a size such as 4GiB, 500MB or 2G`},
		{"a model too big for --max-memory", []string{"eval", "--data", noData, "--model", bigModel(t), "--max-memory", "60MB"}, exitUsage,
			"(sizes [784 30 10]) needs about 75.9 MB of memory, more than --max-memory 60MB allows"},
	})
}

// bigModel is a [784,30,10] model file.
func bigModel(t *testing.T) string {
	path, _ := randomModel(t)
	return path
}

// TestOutputsCheckedFirst: every output of train is tried (a file created
// and removed in its folder) before any data is read or epoch run.
func TestOutputsCheckedFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	runBad(t, []badCase{
		{"--save in /proc", []string{"train", "--data", noData, "--save", "/proc/m.json"}, exitUsage, "--save: /proc/m.json: cannot write in /proc: "},
		{"--save through a file", []string{"train", "--data", noData, "--save", filepath.Join(file, "m.json")}, exitUsage, "--save: " + filepath.Join(file, "m.json") + ": " + file + " is not a directory"},
		{"--plot missing folder", []string{"train", "--data", noData, "--plot", filepath.Join(dir, "no", "p.png")}, exitUsage, "--plot: " + filepath.Join(dir, "no", "p.png") + ": directory "},
		{"--checkpoint a file", []string{"train", "--data", noData, "--checkpoint", file}, exitUsage, "--checkpoint " + file + ": not a directory"},
		{"--checkpoint under a file", []string{"train", "--data", noData, "--checkpoint", filepath.Join(file, "ck")}, exitUsage, "--checkpoint " + filepath.Join(file, "ck") + ": not a directory"},
		{"--checkpoint in /proc", []string{"train", "--data", noData, "--checkpoint", "/proc/ck"}, exitUsage, "--checkpoint /proc/ck: "},
		{"predict --show checked first", []string{"predict", "--model", bigModel(t), "--show", filepath.Join(dir, "no", "s.png"), filepath.Join(dir, "none.png")}, exitUsage, "--show: " + filepath.Join(dir, "no", "s.png") + ": directory "},
		{"show output checked first", []string{"show", "--data", noData, "/proc/s.png"}, exitUsage, "/proc/s.png: cannot write in /proc"},
	})
}

// validCheckpoint is a checkpoint of a [784,5,10] run of 3 epochs on 2,000
// images, interrupted 500 images into epoch 1.
func validCheckpoint(t *testing.T) checkpoint {
	t.Helper()
	net, err := network.New([]int{784, 5, 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	sh := train.NewShuffler(1, true)
	sh.Order(2000)
	state, _ := sh.MarshalBinary()
	return checkpoint{
		Run: "test",
		Flags: trainFlags{Config: train.Config{Spec: network.Book([]int{784, 5, 10}), Epochs: 3, BatchSize: 10, Eta: 3, Seed: 1, Dtype: graph.Float32,
			TrainLimit: 2000, Eval: "none"}, LogFormat: "text"},
		Position: train.Position{Epoch: 1, Done: 500, Shuffle: state},
		Results:  []train.Result{{Epoch: 0, Cost: 0.1}},
		Model:    net,
	}
}

func writeCheckpointDir(t *testing.T, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, checkpointFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadCheckpoints: a checkpoint that could not continue its run bit for
// bit is refused before anything is read or trained, as a bad checkpoint
// (not as a flag the user never typed).
func TestBadCheckpoints(t *testing.T) {
	t.Parallel()
	good, _ := json.Marshal(validCheckpoint(t))
	if _, err := parseCheckpoint(good); err != nil {
		t.Fatalf("the valid checkpoint is refused: %v", err)
	}
	edit := func(f func(*checkpoint)) []byte {
		ck := validCheckpoint(t)
		f(&ck)
		data, _ := json.Marshal(ck)
		return data
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"done past the epoch", edit(func(c *checkpoint) { c.Position.Done = 5000 }), "position: 5000 images done is not a whole number of mini-batches of 10 within the 2000 images of an epoch"},
		{"done mid-batch", edit(func(c *checkpoint) { c.Position.Done = 505 }), "position: 505 images done"},
		{"negative done", edit(func(c *checkpoint) { c.Position.Done = -10 }), "position: -10 images done"},
		{"negative epoch", edit(func(c *checkpoint) { c.Position.Epoch = -1 }), "position: epoch -1 is outside the run's 3 epochs"},
		{"epoch past the run", edit(func(c *checkpoint) { c.Position.Epoch = 4 }), "position: epoch 4 is outside"},
		{"no shuffle state", edit(func(c *checkpoint) { c.Position.Shuffle = nil }), "position: no shuffle state"},
		{"bad shuffle state", edit(func(c *checkpoint) { c.Position.Shuffle = []byte("xyz") }), "position: shuffle state: "},
		{"stored batch size 0", edit(func(c *checkpoint) { c.Flags.BatchSize = 0 }), "bad checkpoint: its stored --batch-size 0: must be at least 1"},
		{"stored eta NaN", edit(func(c *checkpoint) { c.Flags.Eta = -1 }), "bad checkpoint: its stored --eta -1"},
		{"stored sizes", edit(func(c *checkpoint) { c.Flags.Sizes = []int{784, 6, 10} }), "its model's sizes [784 5 10] differ from its stored --sizes 784,6,10"},
		{"results missing", edit(func(c *checkpoint) { c.Results = nil }), "0 epoch results for a position in epoch 1"},
		{"no model", edit(func(c *checkpoint) { c.Model = nil }), "bad checkpoint: no model"},
		{"trailing data", append(append([]byte{}, good...), good...), "data after the checkpoint's JSON object"},
		{"null weight", []byte(strings.Replace(string(good), `"weights":[[[`, `"weights":[[[null,`, 1)), `null in "weights"`},
		{"not JSON", []byte("checkpoint"), "bad checkpoint: invalid character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeCheckpointDir(t, c.data)
			code, _, errs := runCLI("train", "--data", noData, "--resume", dir)
			if code != exitRuntime || strings.Count(errs, "\n") != 1 ||
				!strings.Contains(errs, filepath.Join(dir, checkpointFile)+": bad checkpoint: ") || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, %q: want 1 and one line with %q", code, errs, c.want)
			}
		})
	}
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, checkpointFile), 0o644); err != nil {
		t.Skip(err)
	}
	runBad(t, []badCase{
		{"a FIFO as checkpoint", []string{"train", "--data", noData, "--resume", fifoDir}, exitUsage, "--resume: " + filepath.Join(fifoDir, checkpointFile) + ": is a named pipe (FIFO), want a checkpoint"},
		{"a directory as checkpoint", []string{"train", "--data", noData, "--resume", filepath.Dir(fifoDir)}, exitUsage, "--resume: " + filepath.Dir(fifoDir) + "/checkpoint.json: no such file"},
		{"a checkpoint as --model", []string{"eval", "--data", noData, "--model", filepath.Join(writeCheckpointDir(t, good), checkpointFile)}, exitRuntime, "is a training checkpoint, not a model file: gputrain train --resume "},
	})
}

// FuzzParseCheckpoint: no input panics the checkpoint reader, and what it
// accepts can continue its run: a valid model of the stored sizes, a
// position inside the run with a shuffle state, one result per epoch done.
func FuzzParseCheckpoint(f *testing.F) {
	ck := checkpoint{
		Run:      "fuzz",
		Flags:    trainFlags{Config: train.Config{Spec: network.Book([]int{784, 1, 10}), Epochs: 2, BatchSize: 10, Eta: 3, Seed: 1, Dtype: graph.Float32, TrainLimit: 100, Eval: "none"}},
		Position: train.Position{Epoch: 1, Done: 50, Shuffle: []byte("pcg:0123456789abcdef")},
		Results:  []train.Result{{Epoch: 0}},
	}
	ck.Model, _ = network.New([]int{784, 1, 10}, 1)
	good, _ := json.Marshal(ck)
	f.Add(good)
	f.Add([]byte(`{"flags":{},"position":{"done":5000},"model":null}`))
	f.Add([]byte(`{}`))
	f.Add(append(good, '{'))
	f.Fuzz(func(t *testing.T, data []byte) {
		ck, err := parseCheckpoint(data)
		if err != nil {
			return
		}
		if err := ck.Model.Check(); err != nil {
			t.Fatalf("accepted a model that fails Check: %v", err)
		}
		p := ck.Position
		if p.Epoch < 0 || p.Epoch > ck.Flags.Epochs || p.Done < 0 || len(p.Shuffle) == 0 || len(ck.Results) != p.Epoch || ck.Flags.BatchSize < 1 {
			t.Fatalf("accepted a position that cannot continue: %+v", p)
		}
	})
}

// TestBadModelsAndImages: model files are read strictly and within
// bounds, and so are images; anything but a regular file is refused at once.
func TestBadModelsAndImages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := bigModel(t)
	good, _ := os.ReadFile(model)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	trailing := write("trailing.json", append(append([]byte{}, good...), "garbage"...))
	second := write("second.json", append(append([]byte{}, good...), good...))
	null := write("null.json", []byte(strings.Replace(string(good), `"biases":[[[`, `"biases":[[[null],[`, 1)))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	fifoData := t.TempDir()
	syscall.Mkfifo(filepath.Join(fifoData, mnist.Files[0].Name), 0o644)
	big := filepath.Join(dir, "big.png")
	f, _ := os.Create(big)
	f.Truncate(100 << 20) // sparse: 100 MiB that take no disk
	f.Close()
	runBad(t, []badCase{
		{"trailing data", []string{"eval", "--data", noData, "--model", trailing}, exitRuntime, trailing + ": data after the model's JSON object"},
		{"a second object", []string{"eval", "--data", noData, "--model", second}, exitRuntime, second + ": data after the model's JSON object"},
		{"a null", []string{"eval", "--data", noData, "--model", null}, exitRuntime, null + `: null in "biases": want numbers`},
		{"a FIFO model", []string{"eval", "--data", noData, "--model", fifo}, exitRuntime, fifo + ": is a named pipe (FIFO), want a model file"},
		{"/dev/zero as model", []string{"show", "--data", noData, "--model", "/dev/zero", filepath.Join(dir, "s.png")}, exitRuntime, "/dev/zero: is a device, want a model file"},
		{"a directory as --init", []string{"train", "--data", noData, "--init", dir}, exitRuntime, dir + ": is a directory, want a model file"},
		{"a FIFO image", []string{"predict", "--model", model, fifo}, exitRuntime, fifo + ": is a named pipe (FIFO), want an image file"},
		{"/dev/zero as image", []string{"predict", "--model", model, "/dev/zero"}, exitRuntime, "/dev/zero: is a device, want an image file"},
		{"a FIFO as data", []string{"train", "--data", fifoData}, exitRuntime, filepath.Join(fifoData, mnist.Files[0].Name) + ": is a named pipe (FIFO), want an IDX file"},
		{"an image too large", []string{"predict", "--model", model, big}, exitRuntime, big + ": 104.9 MB, more than the 67.1 MB it can be"},
	})
}

// writeIDX writes a handmade MNIST folder under the raw names: n training
// and m test images, every label 3.
func writeIDX(t *testing.T, n, m int) string {
	t.Helper()
	dir := t.TempDir()
	idx := func(name string, words []uint32, payload int, fill byte) {
		var b []byte
		for _, w := range words {
			b = binary.BigEndian.AppendUint32(b, w)
		}
		for range payload {
			b = append(b, fill)
		}
		os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".gz")), b, 0o644)
	}
	idx(mnist.Files[0].Name, []uint32{0x803, uint32(n), 28, 28}, n*784, 128)
	idx(mnist.Files[1].Name, []uint32{0x801, uint32(n)}, n, 3)
	idx(mnist.Files[2].Name, []uint32{0x803, uint32(m), 28, 28}, m*784, 128)
	idx(mnist.Files[3].Name, []uint32{0x801, uint32(m)}, m, 3)
	return dir
}

// TestEmptySetsAndNonCanonical: a dataset of one's own needs
// --allow-noncanonical; empty sets are refused by name, not as "0 / 0" or
// an --offset the user never gave.
func TestEmptySetsAndNonCanonical(t *testing.T) {
	small := writeIDX(t, 20, 5)  // 20 training images: no validation set
	empty := writeIDX(t, 0, 5)   // nothing to train on
	noTest := writeIDX(t, 20, 0) // nothing to test on
	model := bigModel(t)
	out := filepath.Join(t.TempDir(), "s.png")
	t.Setenv("PATH", t.TempDir()) // nothing is fetched
	runBad(t, []badCase{
		{"own data without the flag", []string{"train", "--data", small}, exitRuntime, "train-images-idx3-ubyte: 15696 bytes, want 47040016: not the canonical MNIST file (--allow-noncanonical takes a dataset of your own)"},
		{"no training images", []string{"train", "--data", empty, "--allow-noncanonical"}, exitRuntime, "--data " + empty + ": the training set has no images: nothing to train on"},
		{"empty evaluation set", []string{"train", "--data", small, "--allow-noncanonical", "--eval", "validation"}, exitRuntime, "--eval validation: the validation set of " + small + " has no images"},
		{"eval on an empty set", []string{"eval", "--data", noTest, "--allow-noncanonical", "--model", model}, exitRuntime, "the test set of " + noTest + " has no images: nothing to evaluate"},
		{"show an empty split", []string{"show", "--data", small, "--allow-noncanonical", "--split", "validation", out}, exitRuntime, "the validation set of " + small + " has no images"},
		{"data --data ''", []string{"data", "--data", ""}, exitUsage, "--data is empty: name the folder of the MNIST files"},
		{"train --data ''", []string{"train", "--data", ""}, exitUsage, "--data is empty"},
		{"octal-looking hex", []string{"train", "--data", noData, "--epochs", "0x10"}, exitUsage, `"0x10" is not a decimal integer`},
	})
	code, stdout, errs := runCLI("data", "--data", small, "--allow-noncanonical")
	if code != 0 || !strings.Contains(stdout, "4 of 4 files NOT verified: ") || strings.Contains(stdout, "checksums verified") {
		t.Errorf("data on a dataset of one's own: exit %d, %q %q", code, stdout, errs)
	}
	// A batch larger than the training set is all of it, with a note; and
	// 010 epochs are ten.
	code, stdout, errs = runCLI("train", "--data", small, "--allow-noncanonical", "--sizes", "784,5,10", "--epochs", "010",
		"--batch-size", "10000000", "--eval", "test", "--quiet")
	if code != 0 || strings.Count(stdout, "\n") != 10 || !strings.Contains(errs, "note: --batch-size 10000000 is more than the 20 training images: each epoch is one mini-batch of 20") {
		t.Errorf("a batch larger than the training set: exit %d, %q, %q", code, stdout, errs)
	}
	if code, stdout, _ := runCLI("help"); code != 0 || !strings.Contains(stdout, "eval --model M.json [--split test|validation|training]") {
		t.Errorf("help does not list the training split: %q", stdout)
	}
}

// TestDataBoundedByMemory: a dataset of one's own whose header claims more
// images than the memory allows is refused before its pixels are read.
func TestDataBoundedByMemory(t *testing.T) {
	dir := writeIDX(t, 20, 5)
	f, _ := os.OpenFile(filepath.Join(dir, "train-images-idx3-ubyte"), os.O_WRONLY, 0)
	f.WriteAt(binary.BigEndian.AppendUint32(nil, 9_000_000), 4) // the count
	f.Close()
	t.Setenv("PATH", t.TempDir())
	runBad(t, []badCase{{"10M images claimed", []string{"train", "--data", dir, "--allow-noncanonical", "--max-memory", "1GB"}, exitRuntime,
		"train-images-idx3-ubyte: header claims 9000000 images, 7056000000 bytes of pixels: more than the 984000000 bytes the memory allows (--max-memory)"}})
}

// TestResumeRefusesAnotherRun: with --resume, a flag that would make
// another run is refused, naming the flag and the stored value.
func TestResumeRefusesAnotherRun(t *testing.T) {
	t.Parallel()
	good, _ := json.Marshal(validCheckpoint(t))
	dir := writeCheckpointDir(t, good)
	model := bigModel(t)
	var cases []badCase
	for _, c := range [][2]string{
		{"--sizes", "784,6,10"}, {"--batch-size", "20"}, {"--eta", "0.5"}, {"--seed", "2"},
		{"--dtype", "float64"}, {"--train-limit", "100"}, {"--no-shuffle", "true"},
	} {
		stored := map[string]string{"--sizes": "784,5,10", "--batch-size": "10", "--eta": "3", "--seed": "1",
			"--dtype": "float32", "--train-limit": "2000", "--no-shuffle": "false"}[c[0]]
		cases = append(cases, badCase{c[0], []string{"train", "--data", noData, "--resume", dir, c[0] + "=" + c[1]}, exitUsage,
			c[0] + " " + c[1] + " differs from the checkpoint's " + stored + " in " + dir + ": it would be another run"})
	}
	cases = append(cases, badCase{"--init", []string{"train", "--data", noData, "--resume", dir, "--init", model}, exitUsage,
		"--init and --resume exclude each other"})
	runBad(t, cases)
}
