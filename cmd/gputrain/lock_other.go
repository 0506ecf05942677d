//go:build !linux

package main

import (
	"errors"
	"io"
)

var errLocked = errors.New("locked by another process")

// lockDir locks nothing outside Linux: two runs into one --checkpoint
// folder there are not stopped (docs/FLAGS.md says so).
func lockDir(dir string) (io.Closer, error) { return io.NopCloser(nil), nil }

// lockPath locks nothing outside Linux either.
func lockPath(path string) (io.Closer, error) { return io.NopCloser(nil), nil }

// removeLockFile has nothing to remove where lockDir writes no file.
func removeLockFile(dir string) {}
