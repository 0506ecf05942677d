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
func lockDir(dir string) (io.Closer, error) { return lockPath(filepath.Join(dir, lockFile)) }

// lockPath takes an exclusive flock on the file at path, created if need
// be, without waiting. A run that ends removes its lock file: should it do
// so between this open and this lock, the lock is on a file no one else
// can open, and is taken again on the new one.
func lockPath(path string) (io.Closer, error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
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
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
}

// removeLockFile removes dir's lock file, once the run no longer holds it.
func removeLockFile(dir string) { os.Remove(filepath.Join(dir, lockFile)) }
