package main

import (
	"flag"
	"io"

	"github.com/gputrain/gputrain/cmd/internal/cli"
)

// The command-line plumbing is shared with gputrain (cmd/internal/cli);
// these short names keep the commands' code readable.
type (
	intList    = cli.IntList
	usageError = cli.UsageError
)

var (
	errHelp  = cli.ErrHelp
	usagef   = cli.Usagef
	newFlags = cli.NewFlags
)

// parse parses a subcommand's args; -h prints its flags to stdout.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	return cli.Parse(fs, "gputrain-bench", args, stdout)
}
