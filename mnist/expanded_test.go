package mnist

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExpandedRealData builds the expanded set of the real 50,000 training
// images through its cache and checks a sample of it against np.roll.
func TestExpandedRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MNIST, fetched through the Go module proxy when missing")
	}
	d, err := Ensure(realDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var log strings.Builder
	e, err := EnsureExpanded(dir, d, &log, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "building the expanded training set (250000 images)") {
		t.Errorf("log %q does not say it built the set", log.String())
	}
	if e.Len() != 250_000 || len(e.Images) != 250_000*Pixels {
		t.Fatalf("%d images, %d pixels; want 250000 images", e.Len(), len(e.Images))
	}
	checkShifts(t, d.Training, e, 997)
	st, err := os.Stat(filepath.Join(dir, ExpandedFile))
	if err != nil || st.Size() != int64(expandedHeader)+250_000*(Pixels+1)+32 {
		t.Fatalf("cache: %v, %v", st, err)
	}
}

// checkShifts checks every step-th image of s and its four shifts in e,
// images 5k..5k+4, against roll (np.roll with the wrapped row zeroed).
func checkShifts(t *testing.T, s, e *Set, step int) {
	t.Helper()
	for k := 0; k < s.Len(); k += step {
		img := s.Image(k)
		want := [][]uint8{img, roll(img, 1, 0), roll(img, -1, 0), roll(img, 1, 1), roll(img, -1, 1)}
		for j, w := range want {
			if !bytes.Equal(e.Image(5*k+j), w) || e.Labels[5*k+j] != s.Labels[k] {
				t.Fatalf("image %d·5+%d is not image %d's shift %d", k, j, k, j)
			}
		}
	}
}

// TestExpandedCache: a cache is reused, a damaged or stale one is rebuilt
// with one line saying why, and one that cannot be written fails or warns.
func TestExpandedCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := func(n int) *Data {
		s := &Set{Images: make([]uint8, n*Pixels), Labels: make([]uint8, n)}
		for i := range s.Images {
			s.Images[i] = uint8(rng.IntN(256))
		}
		for i := range s.Labels {
			s.Labels[i] = uint8(rng.IntN(10))
		}
		return &Data{Training: s}
	}
	d := src(40)
	path := func(dir string) string { return filepath.Join(dir, ExpandedFile) }
	build := func(t *testing.T, dir string, d *Data) (*Set, string) {
		t.Helper()
		var log strings.Builder
		e, err := EnsureExpanded(dir, d, &log, true)
		if err != nil {
			t.Fatal(err)
		}
		checkShifts(t, d.Training, e, 1)
		return e, log.String()
	}
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, dir string) // what happens to a good cache
		data   *Data                          // the training set it is asked for
		log    string                         // what EnsureExpanded says
	}{
		{"reused", func(*testing.T, string) {}, d, ""},
		{"missing", func(t *testing.T, dir string) { os.Remove(path(dir)) }, d, "building the expanded training set (200 images)"},
		{"one byte changed", func(t *testing.T, dir string) { flip(t, path(dir), expandedHeader+1234) }, d, "damaged: its checksum does not match its content: rebuilding it"},
		{"checksum changed", func(t *testing.T, dir string) { flip(t, path(dir), -1) }, d, "damaged: its checksum does not match"},
		{"cut short", func(t *testing.T, dir string) { os.Truncate(path(dir), 1000) }, d, "damaged: 1000 bytes, want"},
		{"other images", func(*testing.T, string) {}, src(40), "made from other training images than these: rebuilding it"},
		{"fewer images", func(*testing.T, string) {}, src(10), "damaged: 157088 bytes, want 39338 for 50 images"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			first, _ := build(t, dir, d)
			c.damage(t, dir)
			e, log := build(t, dir, c.data)
			if c.log == "" && log != "" || !strings.Contains(log, c.log) || strings.Count(log, "\n") > 1 {
				t.Errorf("logged %q, want one line with %q", log, c.log)
			}
			if c.data == d && !bytes.Equal(e.Images, first.Images) {
				t.Error("the rebuilt set differs from the first")
			}
			again, err := LoadExpanded(path(dir), c.data.Training)
			if err != nil || !bytes.Equal(again.Images, e.Images) || !bytes.Equal(again.Labels, e.Labels) {
				t.Errorf("the cache left behind does not load as the set: %v", err)
			}
		})
	}

	t.Run("unwritable", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing")
		var log strings.Builder
		if _, err := EnsureExpanded(dir, d, &log, true); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("must write: %v", err)
		}
		log.Reset()
		e, err := EnsureExpanded(dir, d, &log, false)
		if err != nil || e.Len() != 200 || !strings.Contains(log.String(), "warning: ") || !strings.Contains(log.String(), "training on it unsaved") {
			t.Errorf("may not write: %v, logged %q", err, log.String())
		}
		if _, err := LoadExpanded(path(dir), d.Training); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after a failed write: %v, want not exist", err)
		}
	})
	t.Run("pickle", func(t *testing.T) {
		p := &Data{Training: &Set{Float32: make([]float32, Pixels), Labels: []uint8{1}}, Pickle: "mnist.pkl.gz"}
		if _, err := EnsureExpanded(t.TempDir(), p, &strings.Builder{}, false); err == nil || !strings.HasPrefix(err.Error(), "mnist.pkl.gz: ") {
			t.Errorf("pickle: %v", err)
		}
	})
}

// flip inverts the byte at offset (from the end when negative) of path.
func flip(t *testing.T, path string, offset int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		offset += len(b)
	}
	b[offset] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
