package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("12345"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink("f", link)
	for _, c := range []struct {
		path  string
		limit int64
		want  string // "" for success
	}{
		{file, 5, ""},
		{link, 5, ""},
		{file, 4, "f: 5 B, more than the 4 B it can be"},
		{dir, 100, "is a directory, want a thing"},
		{fifo, 100, "fifo: is a named pipe (FIFO), want a thing"},
		{"/dev/zero", 100, "/dev/zero: is a device, want a thing"},
		{filepath.Join(dir, "none"), 100, "none: no such file or directory"},
	} {
		data, err := ReadFile(c.path, "a thing", c.limit)
		switch {
		case c.want == "" && (err != nil || string(data) != "12345"):
			t.Errorf("ReadFile(%s): %q, %v", c.path, data, err)
		case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ReadFile(%s): %v, want the path first and %q", c.path, err, c.want)
		}
	}
	if _, err := Check(filepath.Join(dir, "none"), "a thing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 67108864: "67.1 MB", 44_900_000_000: "44.9 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
