package safefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFileAtomicKeeps: an existing file keeps its permissions, a
// symbolic link keeps pointing where it did, and temporary files that a
// killed write left behind are removed by the next write.
func TestWriteFileAtomicKeeps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.json")
	os.WriteFile(target, []byte("old"), 0o600)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("target.json", link); err != nil {
		t.Skip(err)
	}
	stale := filepath.Join(dir, ".target.json.tmp-123")
	os.WriteFile(stale, []byte("half"), 0o600)
	other := filepath.Join(dir, ".other.json.tmp-123")
	os.WriteFile(other, []byte("half"), 0o600)
	if err := WriteFileAtomic(link, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "new" {
		t.Fatalf("the target holds %q", data)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Fatalf("permissions became %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the stale temporary file is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another path's temporary file was removed: %v", err)
	}
}

// TestProbeWritable: a read-only directory fails the probe, and a
// writable one is left as it was.
func TestProbeWritable(t *testing.T) {
	dir := t.TempDir()
	if err := ProbeWritable(filepath.Join(dir, "m.json")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the probe left %v", entries)
	}
	if err := ProbeWritable(filepath.Join(dir, "no", "m.json")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	if os.Geteuid() == 0 {
		t.Log("running as root, who writes anywhere: the read-only case is not tested")
		return
	}
	if err := ProbeWritable(filepath.Join(ro, "m.json")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("read-only directory: %v", err)
	}
}

func TestWriteFileAtomicKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	os.WriteFile(path, []byte("old"), 0o644)
	full := errors.New("no space left on device")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return full
	})
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("error %v, want the write's error and a word that the old file is unchanged", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Fatalf("the previous file became %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no", "such", "dir", "m.json"), func(io.Writer) error { return nil }); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

// TestWriteFault: a write that SetWriteFault fails, as a full disk fails
// it, leaves the previous file and no temporary file; other paths write.
func TestWriteFault(t *testing.T) {
	dir := t.TempDir()
	full, other := filepath.Join(dir, "full.json"), filepath.Join(dir, "other.json")
	os.WriteFile(full, []byte("old"), 0o644)
	SetWriteFault(func(path string) error {
		if path == full {
			return syscall.ENOSPC
		}
		return nil
	})
	defer SetWriteFault(nil)
	write := func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }
	if err := WriteFileAtomic(full, write); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	if data, _ := os.ReadFile(full); string(data) != "old" {
		t.Errorf("the previous file holds %q", data)
	}
	if err := WriteFileAtomic(other, write); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the folder, want 2 (no temporary file left)", len(entries))
	}
}
