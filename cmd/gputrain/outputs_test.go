package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gputrain/gputrain/internal/safefile"
)

// These tests train on the small mnist.pkl.gz (bookPickle): no MNIST
// download, a run in well under a second. A full disk is
// safefile.SetWriteFault failing every write under a folder with ENOSPC,
// after the temporary file is made, as a full disk fails them; a small
// tmpfs would need root, which CI does not have.

// fullDisk fails every WriteFileAtomic under dir (and of the paths in
// also) with ENOSPC until the test ends.
func fullDisk(t *testing.T, dir string, also ...string) {
	safefile.SetWriteFault(func(path string) error {
		path, _ = filepath.Abs(path) // the working directory's are relative
		if strings.HasPrefix(path, dir+string(filepath.Separator)) || slices.Contains(also, path) {
			return syscall.ENOSPC
		}
		return nil
	})
	t.Cleanup(func() { safefile.SetWriteFault(nil) })
}

// TestSaveOwnedByLiveRun: a run whose --save another live run will write
// is refused at the start, naming the file; a run holds its --save's lock
// for as long as it runs, and leaves no lock file behind. The live run
// is this test holding the flock a run takes (a run's epochs here take
// milliseconds, too few to race another against).
func TestSaveOwnedByLiveRun(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	f, err := os.OpenFile(saveLockPath(model), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	runBad(t, []badCase{{"the same --save", []string{"train", "--data", bookPickle, "--epochs", "1", "--quiet", "--save", model}, exitUsage,
		"--save " + model + ": another gputrain run, still running, will write its model to this file: name another file with --save"}})
	f.Close()
	os.Remove(saveLockPath(model))
	if _, err := os.Stat(model); err == nil {
		t.Fatal("the refused run wrote the model")
	}
	// A run holds the lock while it trains: the plot it writes after each
	// epoch is written while the lock is held.
	plot := filepath.Join(dir, "p.png")
	var held []bool
	safefile.SetWriteFault(func(path string) error {
		if path == plot {
			g, err := os.OpenFile(saveLockPath(model), os.O_RDWR, 0)
			if err == nil {
				held = append(held, syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil)
				g.Close()
			}
		}
		return nil
	})
	defer safefile.SetWriteFault(nil)
	if code, _, stderr := runCLI("train", "--data", bookPickle, "--epochs", "2", "--quiet", "--save", model, "--plot", plot); code != 0 {
		t.Fatalf("--save once free: %s", stderr)
	}
	if len(held) != 2 || !held[0] || !held[1] {
		t.Errorf("the lock held during the epochs: %v, want [true true]", held)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files left in the folder, want the model and the plot (no lock file)", len(entries))
	}
}

// TestFullDiskKeepsModel: with --checkpoint, --save and the working
// directory on a full disk, the trained model goes to the user's cache
// directory, the message names it by its absolute path, and --resume
// writes it.
func TestFullDiskKeepsModel(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	fullDisk(t, dir)
	code, _, stderr := runCLI("train", "--data", bookPickle, "--epochs", "2", "--quiet",
		"--checkpoint", filepath.Join(dir, "ck"), "--save", filepath.Join(dir, "m.json"))
	kept := filepath.Join(cache, "gputrain", defaultCheckpoint+"-")
	if code != exitRuntime || !strings.Contains(stderr, "m.json: no space left on device") || !strings.Contains(stderr, "the trained model is kept in "+kept) {
		t.Fatalf("exit %d, stderr %q, want the model kept under %s", code, stderr, kept)
	}
	safefile.SetWriteFault(nil)
	i := strings.Index(stderr, "--resume ")
	resume := strings.Fields(stderr[i+len("--resume "):])[0]
	if !filepath.IsAbs(resume) {
		t.Errorf("--resume %s: not an absolute path", resume)
	}
	out := filepath.Join(t.TempDir(), "m.json")
	if code, stdout, stderr := runCLI("train", "--resume", resume, "--save", out); code != 0 || !strings.Contains(stdout, "had finished its 2 epochs") {
		t.Fatalf("writing the kept model: exit %d, %q, %q", code, stdout, stderr)
	}
}

// TestFilesListsWritten: the summary's Files line names only files this
// run wrote: a --plot and --checkpoint on a full disk are not listed but
// named as not written, and a plot whose later writes failed says which
// epoch it holds.
func TestFilesListsWritten(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.Mkdir(full, 0o755)
	model, plot, ck := filepath.Join(dir, "m.json"), filepath.Join(full, "p.png"), filepath.Join(full, "ck")
	fullDisk(t, full)
	code, _, stderr := runCLI("train", "--data", bookPickle, "--epochs", "2", "--quiet", "--save", model, "--plot", plot, "--checkpoint", ck)
	if code != 0 || !strings.Contains(stderr, "Files: model "+model+"\n") ||
		!strings.Contains(stderr, "Not written (see the warnings above): "+plot+", "+filepath.Join(ck, checkpointFile)+"\n") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, p := range []string{plot, filepath.Join(ck, checkpointFile)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}

	// The disk fills after the first epoch's plot.
	plot2 := filepath.Join(dir, "p2.png")
	var n atomic.Int32
	safefile.SetWriteFault(func(path string) error {
		if path == plot2 && n.Add(1) > 1 {
			return syscall.ENOSPC
		}
		return nil
	})
	code, _, stderr = runCLI("train", "--data", bookPickle, "--epochs", "3", "--quiet", "--plot", plot2, "--checkpoint", filepath.Join(dir, "ck2"))
	if code != 0 || !strings.Contains(stderr, "Files: plot "+plot2+" (as of epoch 0: later writes failed), checkpoint "+filepath.Join(dir, "ck2", checkpointFile)+"\n") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestResumeLockedSaysResume: --resume of a checkpoint folder another
// process holds names --resume, the flag the user gave, not --checkpoint.
func TestResumeLockedSaysResume(t *testing.T) {
	t.Parallel()
	ck := filepath.Join(t.TempDir(), "ck")
	if code, _, stderr := runCLI("train", "--data", bookPickle, "--epochs", "1", "--quiet", "--checkpoint", ck); code != 0 {
		t.Fatal(stderr)
	}
	f, err := os.OpenFile(filepath.Join(ck, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	runBad(t, []badCase{{"a locked --resume", []string{"train", "--resume", ck, "--epochs", "2"}, exitUsage,
		"--resume " + ck + ": another gputrain run is writing to this folder"}})
}
