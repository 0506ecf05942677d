// Command gputrain-bench measures gputrain against other implementations
// of the same training — the book's network.py, a batched numpy version,
// PyTorch on the CPU, Gorgonia's own TapeMachine, GoMLX and gputrain's
// CUDA backend — and writes the results into BENCHMARKS.md.
//
// Every program is a separate process that takes gputrain's training
// flags and prints one JSON object per epoch, {"epoch", "correct",
// "total", "seconds"}, "seconds" being the training time of the epoch
// alone. One runner serves every command: it runs a list of settings
// (a program and its flags) in rounds, reads the epoch lines and takes each
// process's peak resident set size from the kernel when it exits; the
// commands differ only in their settings and in the tables they make. Each
// rewrites only its own section of BENCHMARKS.md, between
// <!-- bench:NAME --> and <!-- /bench:NAME --> markers, and keeps the rest.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gputrain/gputrain/cmd/internal/cli"
)

const usage = `gputrain-bench measures gputrain against its peers and writes BENCHMARKS.md.

Usage:
  gputrain-bench peers [flags]      gputrain vs network.py, batched numpy, PyTorch, TapeMachine, GoMLX, CUDA
  gputrain-bench curves [flags]     seconds per epoch against hidden size and batch size, PNG plots
  gputrain-bench reproduce [flags]  the chapter's experiments, accuracy per epoch
  gputrain-bench sweep [flags]      many networks: gputrain sweep vs gputrain train one after another and two at a time
  gputrain-bench conv [flags]       chapter 6's networks: an epoch of gputrain train --layers vs PyTorch CPU (oneDNN)
  gputrain-bench reproduce-ch6 [flags]  chapter 6's networks, test accuracy at the epoch of best validation accuracy

Run "gputrain-bench COMMAND -h" for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cmds := map[string]func([]string, io.Writer, io.Writer) error{"peers": runPeers, "curves": runCurves, "reproduce": runReproduce, "sweep": runSweepBench,
		"conv": runConv, "reproduce-ch6": runReproduceCh6}
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return 2
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case cmds[args[0]] == nil:
		fmt.Fprintf(stderr, "gputrain-bench: unknown command %q (want peers, curves, reproduce, sweep, conv or reproduce-ch6; see gputrain-bench help)\n", args[0])
		return 2
	}
	return cli.Status("gputrain-bench "+args[0], cmds[args[0]](args[1:], stdout, stderr), stderr)
}
