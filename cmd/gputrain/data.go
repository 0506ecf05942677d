package main

import (
	"fmt"
	"io"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/mnist"
)

// defaultData is where the MNIST files are looked for and fetched to.
const defaultData = "data/mnist"

func runData(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain data")
	dir := fs.String("data", defaultData, "directory of the MNIST files (fetched there when missing)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	d, err := mnist.Ensure(*dir, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MNIST in %s: %d training, %d validation, %d test images, checksums verified\n",
		*dir, d.Training.Len(), d.Validation.Len(), d.Test.Len())
	return nil
}
