package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/mnist"
)

// defaultData is where the MNIST files are looked for and fetched to.
const defaultData = "data/mnist"

func runData(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain data")
	dir := fs.String("data", defaultData, "directory of the MNIST files (fetched there when missing)")
	anyData := fs.Bool("allow-noncanonical", false, "accept MNIST files that are not the canonical ones (a dataset of your own)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *dir == "" {
		return cli.Usagef("--data is empty: name the folder of the MNIST files")
	}
	d, err := mnist.EnsureWith(*dir, stderr, dataOptions(*anyData, memlimit.Machine()))
	if err != nil {
		return err
	}
	verified := "checksums verified"
	if len(d.Unverified) > 0 {
		verified = fmt.Sprintf("%d of %d files NOT verified: %s differ from the canonical MNIST files (taken with --allow-noncanonical)",
			len(d.Unverified), len(mnist.Files), strings.Join(d.Unverified, ", "))
	}
	fmt.Fprintf(stdout, "MNIST in %s: %d training, %d validation, %d test images, %s\n",
		*dir, d.Training.Len(), d.Validation.Len(), d.Test.Len(), verified)
	return nil
}
