package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idx encodes an IDX file: big-endian header words, then the payload.
func idx(words []uint32, payload []byte) []byte {
	b := make([]byte, 0, 4*len(words)+len(payload))
	for _, w := range words {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return append(b, payload...)
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write(data)
	z.Close()
	return b.Bytes()
}

// pixels returns n images whose bytes run through every value 0..255.
func pixels(n int) []byte {
	pix := make([]byte, n*Pixels)
	for i := range pix {
		pix[i] = byte(i * 31)
	}
	return pix
}

// digits returns n labels 0, 1, ..., 9, 0, 1, ...
func digits(n int) []byte {
	l := make([]byte, n)
	for i := range l {
		l[i] = byte(i % 10)
	}
	return l
}

func imageFile(n int) []byte { return idx([]uint32{imageMagic, uint32(n), Rows, Cols}, pixels(n)) }
func labelFile(n int) []byte { return idx([]uint32{labelMagic, uint32(n)}, digits(n)) }

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func raw(b []byte) []byte { return b }

// TestRoundTrip: what is encoded, gzipped or not and whatever the name
// says, is what is read back.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		enc  func([]byte) []byte
		n    int
	}{
		{"raw", raw, 3},
		{"raw-named.gz", raw, 3},
		{"gzipped.idx", gz, 3},
		{"gzipped.gz", gz, 5},
		{"none", raw, 0},
		{"none.gz", gz, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ip := write(t, dir, "images-"+c.name, c.enc(imageFile(c.n)))
			lp := write(t, dir, "labels-"+c.name, c.enc(labelFile(c.n)))
			pix, n, err := ReadImages(ip)
			if err != nil {
				t.Fatal(err)
			}
			if n != c.n || !bytes.Equal(pix, pixels(c.n)) {
				t.Fatalf("%d images, pixels equal %v; want %d", n, bytes.Equal(pix, pixels(c.n)), c.n)
			}
			l, err := ReadLabels(lp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(l, digits(c.n)) {
				t.Fatalf("labels %v, want %v", l, digits(c.n))
			}
			// The decoders take the same bytes from any reader.
			pix, n, err = DecodeImages(bytes.NewReader(c.enc(imageFile(c.n))), "mem")
			if err != nil || n != c.n || !bytes.Equal(pix, pixels(c.n)) {
				t.Fatalf("DecodeImages: %d images, err %v", n, err)
			}
		})
	}
}

func TestSet(t *testing.T) {
	s := &Set{Images: pixels(4), Labels: digits(4)}
	if s.Len() != 4 {
		t.Fatalf("Len %d", s.Len())
	}
	if !bytes.Equal(s.Image(2), pixels(4)[2*Pixels:3*Pixels]) {
		t.Fatal("Image(2) is not the third image")
	}
	sub := s.Slice(1, 3)
	if sub.Len() != 2 || sub.Labels[0] != 1 || !bytes.Equal(sub.Image(1), s.Image(2)) {
		t.Fatalf("Slice(1, 3): %d images, labels %v", sub.Len(), sub.Labels)
	}
	sub.Images[0] = 99
	if s.Images[Pixels] != 99 {
		t.Fatal("Slice does not share memory")
	}
	// Appending to a slice or an image must not write over what follows.
	_ = append(sub.Labels, 7)
	_ = append(s.Image(0), 7)
	if s.Labels[3] != 3 || s.Images[Pixels] != 99 {
		t.Fatal("append wrote through to the next image")
	}
}

func TestFloats(t *testing.T) {
	s := &Set{Images: []byte{0, 1, 51, 128, 254, 255}}
	f32, f64 := Floats[float32](s), Floats[float64](s)
	if len(f32) != 6 || len(f64) != 6 {
		t.Fatalf("lengths %d and %d", len(f32), len(f64))
	}
	for i, p := range s.Images {
		if f32[i] != float32(p)/255 || f64[i] != float64(p)/255 {
			t.Errorf("pixel %d: %v and %v", p, f32[i], f64[i])
		}
	}
	if f32[5] != 1 || f64[0] != 0 {
		t.Errorf("ends %v %v, want 1 and 0", f32[5], f64[0])
	}
}

// TestMalformed: every fault is an error, not a panic, that starts with the
// file's path and says what is wrong.
func TestMalformed(t *testing.T) {
	good := imageFile(2)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[(i+len(b))%len(b)] ^= 0xff
		return b
	}
	cases := []struct {
		name, want string
		data       []byte
		labels     bool
	}{
		{"empty", "empty file", nil, false},
		{"empty labels", "empty file", nil, true},
		{"empty gzip", "empty file", gz(nil), false},
		{"short header", "short header: 10 of 16 bytes", good[:10], false},
		{"short magic", "short header: 3 of 8 bytes", []byte{0, 0, 8}, true},
		{"short label header", "short header: 6 of 8 bytes", labelFile(2)[:6], true},
		{"wrong magic", "magic number 1234 (0x000004d2), want 2051 (0x00000803)", idx([]uint32{1234, 1, 28, 28}, make([]byte, Pixels)), false},
		{"html", "not an MNIST IDX file", []byte("<!DOCTYPE html><html>404</html>"), true},
		{"labels for images", "holds labels (magic 2049), want images (magic 2051): images and labels files swapped?", labelFile(3), false},
		{"images for labels", "holds images (magic 2051), want labels (magic 2049): images and labels files swapped?", good, true},
		{"gzipped twice", "compressed twice?", gz(gz(good)), false},
		{"wrong rows", "images are 32×28, want 28×28", idx([]uint32{imageMagic, 1, 32, 28}, make([]byte, 32*28)), false},
		{"wrong cols", "images are 28×1, want 28×28", idx([]uint32{imageMagic, 1, 28, 1}, make([]byte, 28)), false},
		{"truncated", "truncated: want 1568 bytes of pixels, got 1000", good[:16+1000], false},
		{"no pixels", "truncated: want 1568 bytes of pixels, got 0", good[:16], false},
		{"truncated labels", "truncated: want 5 bytes of labels, got 4", labelFile(5)[:12], true},
		{"truncated inside gzip", "truncated: want 1568 bytes of pixels, got 1000", gz(good[:16+1000]), false},
		{"truncated gzip stream", "truncated", gz(good)[:30], false},
		{"trailing", "trailing bytes after the 1568 bytes of pixels", append(bytes.Clone(good), 0), false},
		{"trailing labels", "trailing bytes after the 2 bytes of labels", append(labelFile(2), 1, 2), true},
		{"trailing inside gzip", "trailing bytes", gz(append(bytes.Clone(good), 0)), false},
		{"label above 9", "label 1 is 12, want 0..9", idx([]uint32{labelMagic, 3}, []byte{3, 12, 255}), true},
		{"label 255", "label 0 is 255, want 0..9", idx([]uint32{labelMagic, 1}, []byte{255}), true},
		{"corrupt gzip header", "corrupt gzip header", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 40)...), false},
		{"gzip magic only", "corrupt gzip header", []byte{0x1f, 0x8b}, true},
		{"corrupt gzip body", "corrupt gzip", flip(gz(good), 20), false},
		{"corrupt gzip crc", "corrupt gzip", flip(gz(good), -8), false},
		{"corrupt gzip size", "corrupt gzip", flip(gz(labelFile(9)), -1), true},
		{"garbage after gzip", "corrupt gzip", append(gz(good), 0, 0, 0, 0), false},
		{"huge count", "header claims 4000000000 images, more than 10000000", idx([]uint32{imageMagic, 4000000000, 28, 28}, nil), false},
		{"huge label count", "header claims 10000001 labels", idx([]uint32{labelMagic, 10000001}, nil), true},
		{"overstated count", "truncated: want 7840000 bytes of pixels, got 1568", idx([]uint32{imageMagic, 10000, 28, 28}, pixels(2)), false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, dir, strings.ReplaceAll(c.name, " ", "-")+".gz", c.data)
			var err error
			if c.labels {
				_, err = ReadLabels(p)
			} else {
				_, _, err = ReadImages(p)
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant the path first and %q", err, c.want)
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, path, want string
	}{
		{"directory", dir, "is a directory"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"under a file", filepath.Join(write(t, dir, "file", nil), "x"), "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadImages(c.path)
			if err == nil || !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadImages: %v, want the path first and %q", err, c.want)
			}
			_, err = ReadLabels(c.path)
			if err == nil || !strings.HasPrefix(err.Error(), c.path+": ") {
				t.Fatalf("ReadLabels: %v", err)
			}
		})
	}
}

// dataDir writes the four files to a new directory: train training images
// gzipped, test test images raw under the names without .gz.
func dataDir(t *testing.T, train, test int) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, Files[0].Name, gz(imageFile(train)))
	write(t, dir, Files[1].Name, gz(labelFile(train)))
	write(t, dir, strings.TrimSuffix(Files[2].Name, ".gz"), imageFile(test))
	write(t, dir, strings.TrimSuffix(Files[3].Name, ".gz"), labelFile(test))
	return dir
}

func TestLoadSplit(t *testing.T) {
	for _, c := range []struct {
		train, test                  int
		training, validation, tested int
	}{
		{10007, 3, 7, 10000, 3},
		{20000, 1, 10000, 10000, 1},
		{10000, 2, 10000, 0, 2},
		{12, 5, 12, 0, 5},
		{0, 0, 0, 0, 0},
	} {
		d, err := Load(dataDir(t, c.train, c.test))
		if err != nil {
			t.Fatal(err)
		}
		if d.Training.Len() != c.training || d.Validation.Len() != c.validation || d.Test.Len() != c.tested {
			t.Fatalf("%d training images split %d/%d/%d, want %d/%d/%d", c.train,
				d.Training.Len(), d.Validation.Len(), d.Test.Len(), c.training, c.validation, c.tested)
		}
		if len(d.Training.Images) != c.training*Pixels || len(d.Validation.Images) != c.validation*Pixels {
			t.Fatalf("%d training images: image bytes do not match the labels", c.train)
		}
		if c.validation > 0 {
			if want := byte(c.training % 10); d.Validation.Labels[0] != want ||
				!bytes.Equal(d.Validation.Image(0), pixels(c.training + 1)[c.training*Pixels:]) {
				t.Fatalf("%d training images: validation does not start at image %d", c.train, c.training)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"mismatched counts", func(t *testing.T, dir string) {
			write(t, dir, Files[3].Name, gz(labelFile(4)))
		}, []string{"t10k-images-idx3-ubyte holds 3 images but ", "t10k-labels-idx1-ubyte.gz holds 4 labels"}},
		{"directory where a file belongs", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, Files[0].Name))
			os.Mkdir(filepath.Join(dir, Files[0].Name), 0o755)
		}, []string{Files[0].Name + ": is a directory"}},
		{"missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, Files[1].Name))
		}, []string{Files[1].Name + ": missing", "train-labels-idx1-ubyte either"}},
		{"bad labels", func(t *testing.T, dir string) {
			write(t, dir, Files[1].Name, idx([]uint32{labelMagic, 12}, append(digits(11), 10)))
		}, []string{Files[1].Name + ": label 11 is 10, want 0..9"}},
		{"swapped", func(t *testing.T, dir string) {
			write(t, dir, Files[0].Name, labelFile(12))
		}, []string{Files[0].Name + ": holds labels", "swapped?"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := dataDir(t, 12, 3)
			c.setup(t, dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want %q in it", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), dir) {
				t.Errorf("error %q does not start with a path", err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing directory: %v", err)
	}
}
