package mnist

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRawNamesChecked: files under the raw names are held to the canonical
// sizes and checksums; a dataset of one's own passes only with
// Options.NonCanonical, and is then listed as unverified.
func TestRawNamesChecked(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"wrong size", func(dir string) {}, "train-images-idx3-ubyte: 2368 bytes, want 47040016: not the canonical MNIST file (--allow-noncanonical"},
		{"right size, other bytes", func(dir string) {
			write(t, dir, "train-labels-idx1-ubyte", labelFile(60000))
			os.Remove(filepath.Join(dir, "train-images-idx3-ubyte"))
			write(t, dir, Files[0].Name, mustRead(t, filepath.Join(realDir(t), Files[0].Name)))
		}, "train-labels-idx1-ubyte: SHA-256 is "},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name != "wrong size" && testing.Short() {
				t.Skip("needs MNIST")
			}
			if c.name != "wrong size" {
				if _, err := Ensure(realDir(t), nil); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			for i, data := range [][]byte{imageFile(3), labelFile(3), imageFile(2), labelFile(2)} {
				write(t, dir, strings.TrimSuffix(Files[i].Name, ".gz"), data)
			}
			c.setup(dir)
			t.Setenv("PATH", t.TempDir())
			_, err := Ensure(dir, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Ensure: %v, want %q", err, c.want)
			}
			if _, err := EnsureWith(dir, nil, Options{NonCanonical: true}); err != nil {
				t.Fatalf("with NonCanonical: %v", err)
			}
		})
	}
}

// TestRawCanonical: the real files un-gzipped under the raw names are
// verified, and none is listed as unverified.
func TestRawCanonical(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MNIST")
	}
	src := realDir(t)
	if _, err := Ensure(src, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range Files {
		in, err := os.Open(filepath.Join(src, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, strings.TrimSuffix(f.Name, ".gz")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, z); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	t.Setenv("PATH", t.TempDir())
	d, err := Ensure(dir, nil)
	if err != nil || len(d.Unverified) != 0 || d.Training.Len() != 50000 {
		t.Fatalf("Ensure: %v, unverified %v", err, d)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNotRegular: a FIFO or a device where an IDX file belongs is refused
// at once, without blocking on the FIFO or reading the device.
func TestNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, "is a named pipe (FIFO), want an IDX file"},
		{"/dev/zero", "is a device, want an IDX file"},
	} {
		done := make(chan error)
		go func() { _, _, err := ReadImages(c.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.path, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still reading after 5 s", c.path)
		}
	}
}

// TestGzipBomb: a gzip stream that inflates far beyond what its header's
// count implies is refused after reading at most the implied bytes and a
// bounded tail, not inflated to its end.
func TestGzipBomb(t *testing.T) {
	pr, pw := io.Pipe()
	inflated := make(chan int64)
	go func() {
		zw := gzip.NewWriter(pw)
		zw.Write(labelFile(2))
		var n int64
		zeros := make([]byte, 1<<16)
		for n < 1<<34 { // 16 GiB, far more than any reader should inflate
			if _, err := zw.Write(zeros); err != nil {
				break
			}
			n += int64(len(zeros))
		}
		inflated <- n
		zw.Close()
		pw.Close()
	}()
	_, err := DecodeLabels(pr, "bomb")
	pr.Close()
	if err == nil || !strings.Contains(err.Error(), "trailing bytes") {
		t.Fatalf("DecodeLabels: %v, want trailing bytes", err)
	}
	if n := <-inflated; n > 4<<20 {
		t.Fatalf("%d bytes inflated past the header's 2 labels, want at most a bounded tail", n)
	}
}
