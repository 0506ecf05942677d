// Command gputrain-bench measures gputrain against other implementations
// of the same training — the book's network.py, a batched numpy version,
// PyTorch on the CPU, Gorgonia's own TapeMachine and gputrain's CUDA
// backend — and writes the results into BENCHMARKS.md.
//
//	gputrain-bench peers       the side-by-side table (make bench)
//	gputrain-bench curves      seconds per epoch against hidden and batch size, and the PNG plots
//	gputrain-bench reproduce   the chapter's experiments, accuracy per epoch (make reproduce)
//	gputrain-bench peak        the measured peak FLOP/s of this CPU
//	gputrain-bench tapemachine train with Gorgonia's TapeMachine (one of the peers)
//
// Every peer is a separate process that trains and prints one JSON object
// per epoch, {"epoch", "correct", "total", "seconds"}, "seconds" being the
// training time of the epoch alone; the driver reads those lines and takes
// the process's peak resident set size from the kernel when it exits. Each
// subcommand rewrites only its own section of BENCHMARKS.md, between
// <!-- bench:NAME --> and <!-- /bench:NAME --> markers, and keeps the rest.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gputrain/gputrain/cmd/internal/cli"
)

const usage = `gputrain-bench measures gputrain against its peers and writes BENCHMARKS.md.

Usage:
  gputrain-bench peers [flags]        gputrain vs network.py, batched numpy, PyTorch, TapeMachine, CUDA
  gputrain-bench curves [flags]       seconds per epoch against hidden size and batch size, PNG plots
  gputrain-bench reproduce [flags]    the chapter's experiments, accuracy per epoch
  gputrain-bench peak                 measured peak FLOP/s of this CPU (float32 matrix products)
  gputrain-bench tapemachine [flags]  train with Gorgonia's TapeMachine, JSON lines per epoch

Run "gputrain-bench COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"peers":       runPeers,
		"curves":      runCurves,
		"reproduce":   runReproduce,
		"peak":        runPeak,
		"tapemachine": runTapeMachine,
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "gputrain-bench: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := cmd(args[1:], stdout, stderr)
	var ue *cli.UsageError
	switch {
	case err == nil, errors.Is(err, cli.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gputrain-bench %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "gputrain-bench %s: %v\n", name, err)
		return 1
	}
}
