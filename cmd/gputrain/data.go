package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/mnist"
)

// defaultData is where the MNIST files are looked for and fetched to when
// --data is not given: see defaultDataDir. Every command's --data flag
// shows it as its default.
var defaultData = defaultDataDir()

// defaultDataDir is $GPUTRAIN_DATA when set; else ./data/mnist when it
// exists, where gputrain used to fetch MNIST into the working directory;
// else gputrain/mnist in the user's cache directory (~/.cache on Linux),
// one copy for every working directory; else, with no home to hold a
// cache, ./data/mnist.
func defaultDataDir() string {
	if d := os.Getenv("GPUTRAIN_DATA"); d != "" {
		return d
	}
	local := filepath.Join("data", "mnist")
	if st, err := os.Stat(local); err == nil && st.IsDir() {
		return local
	}
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "gputrain", "mnist")
	}
	return local
}

func runData(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain data")
	dir := fs.String("data", defaultData, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz (default: $GPUTRAIN_DATA, else ./data/mnist if it exists, else the user's cache)")
	anyData := fs.Bool("allow-noncanonical", false, "accept MNIST files that are not the canonical ones (a dataset of your own)")
	expand := fs.Bool("expand", false, "also build chapter 6's expanded training set (--train-set expanded) and cache it beside the MNIST files")
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
	if d.Pickle != "" {
		verified = "the book's pickle " + d.Pickle + ", its own split and pixels"
	} else if len(d.Unverified) > 0 {
		verified = fmt.Sprintf("%d of %d files NOT verified: %s differ from the canonical MNIST files (taken with --allow-noncanonical)",
			len(d.Unverified), len(mnist.Files), strings.Join(d.Unverified, ", "))
	}
	fmt.Fprintf(stdout, "MNIST in %s: %d training, %d validation, %d test images, %s\n",
		*dir, d.Training.Len(), d.Validation.Len(), d.Test.Len(), verified)
	if *expand {
		e, err := mnist.EnsureExpanded(*dir, d, stderr, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "expanded training set in %s: %d images (each training image and its four one-pixel shifts), checksum verified\n",
			filepath.Join(*dir, mnist.ExpandedFile), e.Len())
	}
	return nil
}

// trainSets are the values of train's and sweep's --train-set.
var trainSets = []string{"standard", "expanded"}

const trainSetHelp = "the training images: standard (MNIST's 50,000) or expanded (chapter 6's 250,000, each with its four one-pixel shifts; built and cached beside the MNIST files when missing, as gputrain data --expand does)"

// useTrainSet makes the training set of d the one --train-set names,
// building the expanded set's cache in dir when it lacks it (a few
// seconds; a cache that cannot be written costs a warning, not the run).
func useTrainSet(set, dir string, d *mnist.Data, log io.Writer) error {
	if set != "expanded" {
		return nil
	}
	e, err := mnist.EnsureExpanded(dir, d, log, false)
	if err != nil && d.Pickle != "" {
		return fmt.Errorf("--train-set expanded: %w (the book's mnist_expanded.pkl.gz is the expanded set already: --train-set standard trains on it)", err)
	} else if err != nil {
		return fmt.Errorf("--train-set expanded: %w", err)
	}
	d.Training = e
	return nil
}

// trainSetImages is how many training images --train-set holds in the
// canonical files, before they are read.
func trainSetImages(set string) int {
	if set == "expanded" {
		return 5 * canonicalTraining
	}
	return canonicalTraining
}

// trainSetBytes is what the training set takes beyond the MNIST files:
// the expanded set's bytes, read whole from its cache.
func trainSetBytes(set string) float64 {
	if set == "expanded" {
		return float64(5 * canonicalTraining * (mnist.Pixels + 1))
	}
	return 0
}
