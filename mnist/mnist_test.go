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
	var b bytes.Buffer
	for _, w := range words {
		binary.Write(&b, binary.BigEndian, w)
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write(data)
	z.Close()
	return b.Bytes()
}

func images(n int) []byte {
	pix := make([]byte, n*Pixels)
	for i := range pix {
		pix[i] = byte(i * 31)
	}
	return idx([]uint32{imageMagic, uint32(n), 28, 28}, pix)
}

func labels(n int) []byte {
	l := make([]byte, n)
	for i := range l {
		l[i] = byte(i % 10)
	}
	return idx([]uint32{labelMagic, uint32(n)}, l)
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadGzipAndRaw(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		enc  func([]byte) []byte
	}{{"raw.idx", func(b []byte) []byte { return b }}, {"named-raw.gz", func(b []byte) []byte { return b }}, {"zipped.bin", gz}} {
		ip := write(t, dir, "img-"+c.name, c.enc(images(3)))
		lp := write(t, dir, "lbl-"+c.name, c.enc(labels(3)))
		pix, n, err := ReadImages(ip)
		if err != nil || n != 3 || len(pix) != 3*Pixels || pix[Pixels+1] != byte((Pixels+1)*31%256) {
			t.Fatalf("%s: %d images, err %v", c.name, n, err)
		}
		l, err := ReadLabels(lp)
		if err != nil || len(l) != 3 || l[2] != 2 {
			t.Fatalf("%s: labels %v, err %v", c.name, l, err)
		}
	}
	s := &Set{Images: []byte{0, 51, 255, 0}, Labels: []byte{1}}
	f32, f64 := Floats[float32](s), Floats[float64](s)
	for i, p := range s.Images {
		if f32[i] != float32(p)/255 || f64[i] != float64(p)/255 {
			t.Fatalf("pixel %d: %v %v", p, f32[i], f64[i])
		}
	}
}

func TestMalformed(t *testing.T) {
	good := images(2)
	cases := []struct {
		name, want string
		data       []byte
		labels     bool
	}{
		{"empty", "empty file", nil, false},
		{"short header", "short header", good[:10], false},
		{"wrong magic", "magic number 1234, want 2051", idx([]uint32{1234, 1, 28, 28}, make([]byte, Pixels)), false},
		{"labels for images", "holds labels (magic 2049), want images", labels(3), false},
		{"images for labels", "holds images (magic 2051), want labels", good, true},
		{"wrong size", "images are 32×32, want 28×28", idx([]uint32{imageMagic, 1, 32, 32}, make([]byte, 1024)), false},
		{"truncated", "truncated: want 1568 bytes of pixels, got 1000", good[:16+1000], false},
		{"truncated gz", "truncated", gz(good[:16+1000]), false},
		{"trailing", "trailing bytes", append(append([]byte{}, good...), 0), false},
		{"label above 9", "label 1 is 12, want 0..9", idx([]uint32{labelMagic, 2}, []byte{3, 12}), true},
		{"corrupt gzip", "corrupt gzip", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 40)...), false},
		{"corrupt gzip body", "", func() []byte { b := gz(good); b[len(b)/2] ^= 0xff; return b }(), false},
		{"huge count", "claims 4000000000 images", idx([]uint32{imageMagic, 4000000000, 28, 28}, nil), false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, dir, strings.ReplaceAll(c.name, " ", "-"), c.data)
			var err error
			if c.labels {
				_, err = ReadLabels(p)
			} else {
				_, _, err = ReadImages(p)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want the file name first and %q", err, c.want)
			}
		})
	}
	if _, _, err := ReadImages(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("a directory: %v", err)
	}
	if _, _, err := ReadImages(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a missing file: %v", err)
	}
}

func TestLoadSplit(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, Files[0].Name, gz(images(10007)))
	write(t, dir, Files[1].Name, gz(labels(10007)))
	write(t, dir, "t10k-images-idx3-ubyte", images(5)) // raw, without .gz
	write(t, dir, Files[3].Name, labels(5))            // raw under the .gz name
	d, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Training.Len() != 7 || d.Validation.Len() != 10000 || d.Test.Len() != 5 {
		t.Fatalf("split %d/%d/%d, want 7/10000/5", d.Training.Len(), d.Validation.Len(), d.Test.Len())
	}
	if d.Validation.Labels[0] != 7 || !bytes.Equal(d.Validation.Image(0), images(10007)[16+7*Pixels:16+8*Pixels]) {
		t.Fatal("validation does not start at training image 7")
	}
	write(t, dir, Files[3].Name, labels(6))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "holds 5 images but") {
		t.Fatalf("mismatched counts: %v", err)
	}
	os.Remove(filepath.Join(dir, Files[3].Name))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestFetchRefusesWrongFile: a file under a canonical name with the wrong
// checksum is an error and stays untouched; nothing else is written.
func TestFetchRefusesWrongFile(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, Files[0].Name, []byte("not mnist"))
	err := Fetch(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), Files[0].Name) {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "not mnist" {
		t.Fatal("the user's file was changed")
	}
	if e, _ := os.ReadDir(dir); len(e) != 1 {
		t.Fatalf("files written: %v", e)
	}
}

// TestFetchReal downloads the module and checks every canonical checksum
// (Fetch verifies them) and the canonical first labels: 5 in training, 7 in test.
func TestFetchReal(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads MNIST through the Go module proxy")
	}
	dir := t.TempDir()
	d, err := Ensure(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Training.Len() != 50000 || d.Validation.Len() != 10000 || d.Test.Len() != 10000 {
		t.Fatalf("split %d/%d/%d", d.Training.Len(), d.Validation.Len(), d.Test.Len())
	}
	if d.Training.Labels[0] != 5 || d.Test.Labels[0] != 7 {
		t.Fatalf("first labels %d and %d, want 5 and 7", d.Training.Labels[0], d.Test.Labels[0])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("dir holds %d entries, want the 4 files and nothing half-written", len(entries))
	}
	if err := Fetch(dir, nil); err != nil {
		t.Fatalf("a second fetch: %v", err)
	}
}

func FuzzDecodeImages(f *testing.F) {
	f.Add(images(1))
	f.Add(images(0))
	f.Add(images(2)[:100])
	f.Add(labels(3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		pix, n, err := DecodeImages(bytes.NewReader(data), "fuzz")
		if err == nil && len(pix) != n*Pixels {
			t.Fatalf("%d images but %d bytes", n, len(pix))
		}
	})
}

func FuzzDecodeLabels(f *testing.F) {
	f.Add(labels(3))
	f.Add(idx([]uint32{labelMagic, 2}, []byte{3, 12}))
	f.Add(images(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLabels(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for _, v := range l {
			if v > 9 {
				t.Fatalf("accepted label %d", v)
			}
		}
	})
}
