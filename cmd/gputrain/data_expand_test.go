package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/mnist"
)

// TestTrainSetExpanded: train --train-set expanded builds the expanded set
// where it finds MNIST when the cache lacks it, and trains on its 250,000
// images; data --expand reuses a good cache and rebuilds a damaged one,
// saying so in one line. (mnist's tests check the set image by image.)
func TestTrainSetExpanded(t *testing.T) {
	t.Parallel()
	src := dataDir(t)
	dir := t.TempDir()
	for _, f := range mnist.Files {
		if err := os.Symlink(filepath.Join(src, f.Name), filepath.Join(dir, f.Name)); err != nil {
			t.Fatal(err)
		}
	}
	cache := filepath.Join(dir, mnist.ExpandedFile)
	// More images than the standard set holds: only the expanded one has them.
	over := []string{"train", "--data", dir, "--sizes", "784,10,10", "--epochs", "1", "--train-limit", "50010", "--batch-size", "50010", "--eval", "none", "--quiet"}
	if code, _, errs := runCLI(over...); code != exitUsage || !strings.Contains(errs, "--train-limit 50010: the training set has 50000 images") {
		t.Fatalf("standard set: exit %d, %q", code, errs)
	}
	code, out, errs := runCLI(append(over, "--train-set", "expanded")...)
	if code != 0 || !strings.Contains(errs, "building the expanded training set (250000 images) in "+cache) || !strings.HasPrefix(out, "Epoch 0 complete") {
		t.Fatalf("expanded set: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	want := "expanded training set in " + cache + ": 250000 images"
	code, out, errs = runCLI("data", "--data", dir, "--expand")
	if code != 0 || errs != "" || !strings.Contains(out, want) {
		t.Fatalf("data --expand on a good cache: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	f, err := os.OpenFile(cache, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff, 0xff}, 100_000)
	f.Close()
	code, out, errs = runCLI("data", "--data", dir, "--expand")
	if code != 0 || errs != cache+": damaged: its checksum does not match its content: rebuilding it\n" || !strings.Contains(out, want) {
		t.Fatalf("data --expand on a damaged cache: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, err := mnist.LoadExpanded(cache, mustLoad(t, dir).Training); err != nil {
		t.Errorf("the rebuilt cache: %v", err)
	}
}

func mustLoad(t *testing.T, dir string) *mnist.Data {
	t.Helper()
	d, err := mnist.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
