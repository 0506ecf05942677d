package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/internal/safefile"
)

// What a run does so that nothing it trained or writes is lost or
// misreported: --save owned by one live run at a time, a model kept
// somewhere writable when its own folders are full, and a record of which
// of its files were written.

// writes records whether a file written every epoch (--plot,
// --checkpoint) was written by this run, and when.
type writes struct {
	tried      bool
	lastOK     int  // the last epoch whose write succeeded, -1 for none
	lastFailed bool // the last write failed
}

func (w *writes) record(epoch int, err error) {
	if !w.tried {
		w.tried, w.lastOK = true, -1
	}
	w.lastFailed = err != nil
	if err == nil {
		w.lastOK = epoch
	}
}

// describe says how the summary lists path: as it is when its last write
// succeeded, with the epoch it holds when a later one failed, or not at all
// (and then why, in notWritten) when this run never wrote it.
func (w *writes) describe(path string) (listed, notWritten string) {
	switch {
	case !w.tried || !w.lastFailed:
		return path, ""
	case w.lastOK >= 0:
		return fmt.Sprintf("%s (as of epoch %d: later writes failed)", path, w.lastOK), ""
	}
	return "", path
}

// saveLockPath is the file a run holds flock on while it may write --save.
func saveLockPath(save string) string {
	return filepath.Join(filepath.Dir(save), "."+filepath.Base(save)+".gputrain.lock")
}

// lockSave refuses, at the start, a run whose --save another live run will
// write: the last writer would silently win, and one run's model be lost.
// A refusal before any work costs the user nothing; writing elsewhere would
// leave them to find out which model is which.
func (c *trainCmd) lockSave() error {
	if c.Save == "" || c.saveLock != nil {
		return nil
	}
	target := c.Save
	if t, err := filepath.EvalSymlinks(target); err == nil {
		target = t
	}
	c.saveLockPath = saveLockPath(target)
	l, err := lockPath(c.saveLockPath)
	if errors.Is(err, errLocked) {
		return cli.Usagef("--save %s: another gputrain run, still running, will write its model to this file: name another file with --save", c.Save)
	}
	if err != nil {
		return cli.Usagef("--save %s: locking it: %v", c.Save, unwrapPath(err))
	}
	c.saveLock = l
	return nil
}

// unlockSave releases --save and removes its lock file.
func (c *trainCmd) unlockSave() {
	if c.saveLock != nil {
		c.saveLock.Close()
		c.saveLock = nil
		os.Remove(c.saveLockPath)
	}
}

// foreignCheckpoint refuses a --checkpoint folder holding a checkpoint
// that is not this run's: another run's, which --resume continues, or a
// file gputrain cannot resume, which only moving it away settles.
func (c *trainCmd) foreignCheckpoint() error {
	path := filepath.Join(c.Checkpoint, checkpointFile)
	data, err := safefile.ReadFile(path, "a checkpoint", max(1, c.limit.Bytes/4))
	if err == nil {
		_, err = parseCheckpoint(data)
	}
	if err != nil {
		return cli.Usagef("--checkpoint %s: it holds %s, which this run would overwrite and which is no checkpoint gputrain can resume (%v): "+
			"move it away, or name another folder with --checkpoint", c.Checkpoint, checkpointFile, err)
	}
	return cli.Usagef("--checkpoint %s: it holds the checkpoint of another run, which this run would overwrite: "+
		"continue that run with --resume %s, or name another folder with --checkpoint", c.Checkpoint, c.Checkpoint)
}

// fallbackDirs are the folders a checkpoint the run must write (an
// interrupt, or a --save that failed) is tried in, in order: its
// --checkpoint; gputrain-checkpoint in the working directory, or a folder
// named for this run beside it when that one holds another run's; then,
// should those be on a full or read-only disk, the same under the user's
// cache directory and the temporary directory.
func (c *trainCmd) fallbackDirs() []string {
	var dirs []string
	if c.Checkpoint != "" {
		dirs = append(dirs, c.Checkpoint)
	}
	own := defaultCheckpoint + "-" + c.run
	dirs = append(dirs, defaultCheckpoint, own)
	if cache, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(cache, "gputrain", own))
	}
	return append(dirs, filepath.Join(os.TempDir(), own))
}

// keepCheckpoint writes the run's checkpoint at position at into the first
// of fallbackDirs that takes it, and returns that folder; or every
// folder's fault.
func (c *trainCmd) keepCheckpoint(b train.Trainer, at train.Position, results []train.Result) (string, error) {
	var faults []string
	seen := map[string]bool{}
	for _, dir := range c.fallbackDirs() {
		abs, _ := filepath.Abs(dir)
		if seen[abs] {
			continue
		}
		seen[abs] = true
		err := c.takeDir(dir)
		if err == nil {
			err = c.writeCheckpoint(b, dir, at, results)
		}
		if err == nil {
			c.Checkpoint = dir
			return dir, nil
		}
		faults = append(faults, err.Error())
	}
	return "", errors.New(strings.Join(faults, "; "))
}

// takeDir makes dir and locks it for this run, unless another run holds it
// or its checkpoint.
func (c *trainCmd) takeDir(dir string) error {
	abs, _ := filepath.Abs(dir)
	if here, _ := filepath.Abs(c.Checkpoint); c.lock != nil && here == abs {
		return nil // the run's own --checkpoint, locked since the start
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	c.unlock()
	if err := c.lockCheckpoint(dir); err != nil {
		return fmt.Errorf("%s: another gputrain run is writing to this folder", dir)
	}
	if !c.ownsCheckpoint(dir) {
		c.unlock()
		return fmt.Errorf("%s holds another run's checkpoint", dir)
	}
	return nil
}

// interrupted saves what an interrupted run has: its checkpoint (see
// keepCheckpoint), its --save model as it stands and its --plot, and says
// how to continue.
func (c *trainCmd) interrupted(b train.Trainer, in *train.Interrupted, results []train.Result) error {
	dir, err := c.keepCheckpoint(b, in.At, results)
	if err != nil {
		return fmt.Errorf("%v; saving the checkpoint failed: %w", in, err)
	}
	saved := ""
	if c.Save != "" {
		if err := c.save(b); err != nil {
			saved = fmt.Sprintf("; --save failed: %v", err)
		} else {
			saved = "; model as it stands saved to " + c.Save
		}
	}
	if c.Plot != "" && len(results) > 0 {
		if err := writeTrainingPlot(c.Plot, c.plotInfo(results), results, c.evalCosts); err != nil {
			saved += fmt.Sprintf("; --plot failed: %v", err)
		}
	}
	return fmt.Errorf("%w in epoch %d after %d images: checkpoint saved%s; continue with: gputrain train --resume %s",
		errInterrupted, in.At.Epoch, in.At.Done, saved, dir)
}

// keep writes the checkpoint of a finished run whose --save failed, so
// that the trained model is not lost, and says where it is, by its
// absolute path.
func (c *trainCmd) keep(b train.Trainer, at train.Position, results []train.Result, cause error) error {
	dir, err := c.keepCheckpoint(b, at, results)
	if err != nil {
		return fmt.Errorf("%v; keeping the model in a checkpoint failed too: %v", cause, err)
	}
	abs, _ := filepath.Abs(dir)
	return fmt.Errorf("%v; the trained model is kept in %s: gputrain train --resume %s --save FILE writes it",
		cause, filepath.Join(abs, checkpointFile), abs)
}
