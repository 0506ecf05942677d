package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/internal/safefile"
)

// The --checkpoint folder, made and locked for one run at a time.

// prepareOutputs makes the --checkpoint folder, locks it and checks that it
// holds no other run's checkpoint; without --checkpoint it checks that the
// folder an interrupt would use holds none either.
func (c *trainCmd) prepareOutputs() error {
	if err := c.lockSave(); err != nil {
		return err
	}
	if c.Checkpoint == "" {
		// An interrupt writes to gputrain-checkpoint/, or to a folder named
		// for this run when that one holds another's (fallbackDirs): an old
		// checkpoint there never blocks a new run.
		return nil
	}
	if err := os.MkdirAll(c.Checkpoint, 0o755); err != nil {
		return cli.Usagef("--checkpoint %s: %v", c.Checkpoint, unwrapPath(err))
	}
	if err := c.lockCheckpoint(c.Checkpoint); err != nil {
		return err
	}
	if !c.ownsCheckpoint(c.Checkpoint) {
		return c.foreignCheckpoint()
	}
	if err := safefile.ProbeWritable(filepath.Join(c.Checkpoint, checkpointFile)); err != nil {
		return cli.Usagef("--checkpoint: %v", err)
	}
	return nil
}

// ownsCheckpoint reports whether this run may write dir's checkpoint: there
// is none, or it is this run's.
func (c *trainCmd) ownsCheckpoint(dir string) bool {
	if abs, _ := filepath.Abs(dir); abs == c.resumedFrom {
		return true
	}
	run, ok := checkpointRun(dir)
	return ok && (run == "" || run == c.run)
}

func (c *trainCmd) lockCheckpoint(dir string) error {
	if c.lock != nil {
		return nil
	}
	l, err := lockDir(dir)
	if errors.Is(err, errLocked) {
		flag := "--checkpoint"
		if abs, _ := filepath.Abs(dir); abs == c.resumedFrom {
			flag = "--resume"
		}
		return cli.Usagef("%s %s: another gputrain run is writing to this folder", flag, dir)
	}
	if err != nil {
		return cli.Usagef("--checkpoint %s: locking it: %v", dir, unwrapPath(err))
	}
	c.lock = l
	return nil
}

func (c *trainCmd) unlock() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// unwrapPath drops the operation and path of an *fs.PathError, which the
// message names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
