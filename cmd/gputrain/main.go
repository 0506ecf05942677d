// Command gputrain trains the networks of chapters 1 and 3 of Nielsen's
// "Neural Networks and Deep Learning" on MNIST, on the CPU or on an NVIDIA
// GPU, and predicts, evaluates and draws with them on either.
//
//	gputrain train [--sizes 784,30,10] [--epochs 30] [--batch-size 10] [--eta 3.0] [--device cpu|cuda] ...
//	gputrain [train flags]   (train: flags with no command mean train)
//	gputrain sweep [train flags as lists] [--device cpu|cuda]
//	gputrain predict --model M.json [--device cpu|cuda] IMAGE...   (--json, --show FILE.png)
//	gputrain eval --model M.json [--split test|validation|training] [--device cpu|cuda]
//	gputrain show [--split test] [--n 16] FILE.png
//	gputrain show --misclassified --model M.json [--device cpu|cuda] FILE.png
//	gputrain data [--data DIR]
//	gputrain version
//	gputrain doctor [--json]
//
// Run "gputrain help" or "gputrain train -h" for every flag.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cuda"
)

// Exit statuses: 2 for a bad command line, 1 for a fault while running.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

const usage = `gputrain trains the networks of chapters 1 and 3 of Nielsen's "Neural Networks
and Deep Learning" (mini-batch SGD; sigmoid, tanh or ReLU; quadratic, cross-entropy or
log-likelihood cost; L2) on MNIST.

Usage:
  gputrain train [flags]   train a network (gputrain train -h for the flags); flags
                           with no command mean train: gputrain --device cuda
  gputrain sweep [flags]   train many networks: lists such as --eta 0.025,0.25,2.5 --seed 1..5
                           (gputrain sweep -h); sweep merge DIR... joins sharded sweeps
  gputrain predict --model M.json [--json] [--show FILE.png] IMAGE...
                           recognise handwritten digits in PNG, JPEG or GIF images
  gputrain eval --model M.json [--split test|validation|training]
                           accuracy and confusion matrix of a trained model
  gputrain show [--split test|validation|training] [--n 16] FILE.png
  gputrain show --misclassified --model M.json FILE.png
                           draw digits (or the ones a model gets wrong) with their labels
  gputrain data [--data DIR]
                           fetch and verify the MNIST files
  gputrain version         (or --version) the build: version, revision, Go, backends
  gputrain doctor [--json] can this machine run this build? one line per check (run
                           it first when a GPU does not work: gputrain-cuda doctor)
  gputrain help            this text

train, sweep, predict, eval and show --misclassified take --device cpu|cuda: the
CPU build runs gputrain-cuda for --device cuda where one is installed.
`

type command struct {
	name string
	run  func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"train", runTrain},
		{"sweep", runSweep},
		{"predict", runPredict},
		{"eval", runEval},
		{"show", runShow},
		{"data", runData},
		{"version", runVersion},
		{"doctor", runDoctor},
	}
}

func main() {
	args := os.Args[1:]
	// The CPU build hands a --device cuda run to the CUDA build where one is
	// installed, here rather than in run so that no test replaces itself.
	if bin := cudaHandOff(args); bin != "" {
		code, err := handOff(bin, args)
		fmt.Fprintf(os.Stderr, "gputrain: --device cuda: running %s: %v\n", bin, err)
		os.Exit(code)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// withCommand gives a command line that starts with a flag its command,
// train: "gputrain --device cuda" is "gputrain train --device cuda". The
// help and version flags keep their own meaning.
func withCommand(args []string) []string {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return args
	}
	switch args[0] {
	case "-h", "-help", "--help", "-version", "--version":
		return args
	}
	return append([]string{"train"}, args...)
}

// deviceCommands are the commands that take --device.
var deviceCommands = []string{"train", "sweep", "predict", "eval", "show"}

// cudaHandOff is the CUDA build to run args with, or "": only the CPU build
// hands over, only a command of deviceCommands with --device cuda, and only
// to a gputrain-cuda beside it or on PATH (else the command says how to get
// one).
func cudaHandOff(args []string) string {
	args = withCommand(args)
	if cuda.Available || len(args) == 0 || !slices.Contains(deviceCommands, args[0]) || !wantsCUDA(args[1:]) {
		return ""
	}
	return findCUDABinary()
}

// run executes one command line and returns the exit status. Every error
// becomes one line on stderr.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// A bug must still not greet the user with a stack trace.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "gputrain: internal error: %v (please report it)\n", r)
			code = exitRuntime
		}
	}()
	args = withCommand(args)
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args[0] = "version"
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		var ue *cli.UsageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, cli.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "gputrain %s: %v\n", c.name, err)
			return exitUsage
		case errors.Is(err, errInterrupted):
			fmt.Fprintf(stderr, "gputrain %s: %v\n", c.name, err)
			return 130
		default:
			fmt.Fprintf(stderr, "gputrain %s: %v\n", c.name, err)
			return exitRuntime
		}
	}
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	hint := ""
	if c := cli.Closest(args[0], names); c != "" {
		hint = fmt.Sprintf("did you mean %s? ", c)
	}
	fmt.Fprintf(stderr, "gputrain: unknown command %q (%swant %s; see gputrain help)\n", args[0], hint, oneOf(names))
	return exitUsage
}
