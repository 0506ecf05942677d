package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// The writing half of the package: files written whole or not at all.

// WriteFileAtomic writes path through a temporary file in its directory,
// syncs and renames it. On any error the temporary file is removed and the
// previous content of path, if any, is untouched. Temporary files of path
// that a killed write left behind are removed. An existing file keeps its
// permissions (a new one gets 0644), and a symbolic link keeps pointing
// where it did: the file it points to is replaced, not the link.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	if target, err := filepath.EvalSymlinks(path); err == nil && target != path {
		path = target
	}
	if err := CheckWritable(path); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	removeStaleTemps(path)
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write in %s: %w", path, dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("%s: %w (the previous file, if any, is unchanged)", path, err)
		}
	}()
	var w io.Writer = f
	if fault := writeFault.Load(); fault != nil {
		if ferr := (*fault)(path); ferr != nil {
			w = failingWriter{ferr}
		}
	}
	if err = write(w); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), perm); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeFault, when set (SetWriteFault), says which writes fail as a full
// disk fails them.
var writeFault atomic.Pointer[func(path string) error]

// SetWriteFault makes WriteFileAtomic's writes of every path for which
// fault returns an error fail with that error, after the temporary file is
// created, as the writes of a full disk do (syscall.ENOSPC); nil restores
// real writes. It exists for tests of what a program does when its disk
// fills up mid-run, which CI cannot arrange without root.
func SetWriteFault(fault func(path string) error) {
	if fault == nil {
		writeFault.Store(nil)
		return
	}
	writeFault.Store(&fault)
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// tempPattern names WriteFileAtomic's temporary files of path.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// removeStaleTemps removes the temporary files of earlier writes of path
// that never reached their rename (the process was killed). Two processes
// writing one path at once are at odds anyway; checkpoints are locked.
func removeStaleTemps(path string) {
	dir := filepath.Dir(path)
	entries, _ := os.ReadDir(dir)
	prefix := strings.TrimSuffix(tempPattern(path), "*")
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// CheckWritable reports, before any work is done, why path could not be
// written: its directory is missing or not a directory, or path is one.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	return nil
}

// ProbeWritable is CheckWritable and more: it creates and removes a
// temporary file next to path, so that a read-only directory, a full
// quota or a path through a file fails now rather than after hours of
// training.
func ProbeWritable(path string) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	if err := CheckWritable(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write in %s: %w", path, filepath.Dir(path), err)
	}
	f.Close()
	return os.Remove(f.Name())
}
