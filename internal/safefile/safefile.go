// Package safefile opens and reads the files a user names (data, models,
// images, checkpoints) with bounds: anything but a regular file is refused
// before it is opened, so that a FIFO cannot hang a command and /dev/zero
// cannot fill memory, and a read stops at the size its caller expects. It
// writes them whole or not at all (WriteFileAtomic), and says before any
// work is done why a path could not be written (CheckWritable, ProbeWritable).
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Check reports why path is not a regular file, naming what was wanted
// ("a model file"); its error wraps fs.ErrNotExist when path is missing.
func Check(path, want string) (fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	return st, checkMode(path, st, want)
}

func checkMode(path string, st fs.FileInfo, want string) error {
	m := st.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%s: is a directory, want %s", path, want)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s: is a named pipe (FIFO), want %s", path, want)
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("%s: is a device, want %s", path, want)
	}
	return fmt.Errorf("%s: is not a regular file (%v), want %s", path, m.Type(), want)
}

// Open opens path for reading once Check has passed, and checks again what
// was opened, in case the path changed in between.
func Open(path, want string) (*os.File, fs.FileInfo, error) {
	if _, err := Check(path, want); err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, pathError(path, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = checkMode(path, st, want)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// ReadFile reads the regular file at path, refusing one larger than limit
// bytes before reading it, and reading no more than limit+1 bytes even if
// it grows meanwhile.
func ReadFile(path, want string, limit int64) ([]byte, error) {
	f, st, err := Open(path, want)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, st.Size(), limit)
}

// ReadAll reads f, a regular file of size bytes opened at path, from where
// it stands to its end, refusing more than limit bytes.
func ReadAll(f io.Reader, path string, size, limit int64) ([]byte, error) {
	if size > limit {
		return nil, TooLarge(path, size, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathError(path, err)
	}
	if int64(len(data)) > limit {
		return nil, TooLarge(path, int64(len(data)), limit)
	}
	return data, nil
}

// TooLarge is the error for a file of size bytes where at most limit fit.
func TooLarge(path string, size, limit int64) error {
	return fmt.Errorf("%s: %s, more than the %s it can be", path, Bytes(size), Bytes(limit))
}

// Bytes formats a byte count for messages: "512 B", "3.2 MB", "44.9 GB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTPE"[i])
}

// pathError puts the path first and the operation after it, as every
// message of gputrain does.
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
