//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// errLocked is lockDir's error when another process holds the lock.
var errLocked = errors.New("locked by another process")

// lockFile is the file in a checkpoint folder that a run holds flock on.
const lockFile = ".gputrain.lock"

// lockDir takes an exclusive flock on dir's lock file, without waiting:
// a second run into the same folder fails at once. The kernel drops the
// lock when the process ends, however it ends.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

// removeLockFile removes dir's lock file, once the run no longer holds it.
func removeLockFile(dir string) { os.Remove(filepath.Join(dir, lockFile)) }
