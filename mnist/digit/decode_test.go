package digit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/mnist/digit"
	"golang.org/x/image/bmp" // registers BMP with package image, as some other import could
)

// sample is a dark "L" on white, 40×60: not symmetric, so that its centre
// of mass is not half-way between two pixels once scaled (where JPEG's
// noise could tip the shift one way or the other).
func sample() *image.Gray {
	img := canvas(40, 60, 255)
	rect(img, image.Rect(12, 8, 20, 52), black)
	rect(img, image.Rect(12, 44, 30, 52), black)
	return img
}

func encode(t testing.TB, enc func(*bytes.Buffer, image.Image) error, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	encPNG  = func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }
	encJPEG = func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 90}) }
	encGIF  = func(b *bytes.Buffer, m image.Image) error {
		return gif.Encode(b, m, nil)
	}
	encBMP = func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) }
)

// withPNGSize rewrites a PNG's IHDR width and height (and its CRC), the
// way a forged or corrupt header would claim a huge image.
func withPNGSize(data []byte, w, h uint32) []byte {
	out := bytes.Clone(data)
	// signature (8), IHDR length (4), "IHDR" (4), width, height, ...
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// TestDecode: the three formats decode to the same digit; every fault is an
// error naming the file and what is wrong with it.
func TestDecode(t *testing.T) {
	dir := t.TempDir()
	pngData := encode(t, encPNG, sample())
	badCRC := bytes.Clone(pngData)
	badCRC[40] ^= 0xff // inside the IDAT data
	paletted := image.NewPaletted(image.Rect(0, 0, 40, 60), palette.Plan9)
	draw := func(p *image.Paletted) *image.Paletted {
		for y := range 60 {
			for x := range 40 {
				p.Set(x, y, sample().At(x, y))
			}
		}
		return p
	}(paletted)
	cases := []struct {
		name string
		data []byte
		want string // "" for success
	}{
		{"one.png", pngData, ""},
		{"one.jpg", encode(t, encJPEG, sample()), ""},
		{"one.gif", encode(t, encGIF, draw), ""},
		{"rgba.png", encode(t, encPNG, func() image.Image {
			m := image.NewNRGBA(image.Rect(0, 0, 40, 60))
			for y := range 60 {
				for x := range 40 {
					m.Set(x, y, color.NRGBAModel.Convert(sample().At(x, y)))
				}
			}
			return m
		}()), ""},
		{"empty.png", nil, "empty.png: empty file, not a PNG, JPEG or GIF image"},
		{"notes.png", []byte("seven, I think"), "notes.png: not a PNG, JPEG or GIF image"},
		{"one.bmp", encode(t, encBMP, sample()), "one.bmp: a BMP image, not a PNG, JPEG or GIF image"},
		{"truncated.png", pngData[:len(pngData)/2], "truncated.png: corrupt PNG: "},
		{"header-only.png", pngData[:20], "header-only.png: corrupt PNG: truncated file"},
		{"crc.png", badCRC, "crc.png: corrupt PNG: "},
		{"huge.png", withPNGSize(pngData, 100_000, 100_000), "huge.png: PNG image of 100000×100000 pixels: more than 50 megapixels"},
		{"truncated.jpg", encode(t, encJPEG, sample())[:200], "truncated.jpg: corrupt JPEG: "},
		{"truncated.gif", encode(t, encGIF, draw)[:30], "truncated.gif: corrupt GIF: "},
	}
	var want []uint8
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			img, err := digit.Decode(path)
			if c.want != "" {
				if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, c.want)) {
					t.Fatalf("got %v, want an error starting %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			px, err := digit.Preprocess(img)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = px
				return
			}
			// JPEG blurs the edges a little; the digit must stay the same.
			var diff int
			for i := range px {
				diff += max(int(px[i])-int(want[i]), int(want[i])-int(px[i]))
			}
			if mean := float64(diff) / 784; mean > 4 {
				t.Errorf("mean difference %.1f levels from the PNG's digit:\n%s", mean, ascii(px))
			}
		})
	}

	missing := filepath.Join(dir, "missing.png")
	if _, err := digit.Decode(missing); !errors.Is(err, os.ErrNotExist) || err.Error() != missing+": no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	if _, err := digit.Decode(dir); err == nil || err.Error() != dir+": is a directory" {
		t.Errorf("directory: %v", err)
	}
}

// FuzzPreprocess feeds arbitrary bytes through DecodeBytes and Preprocess:
// neither may panic, and a success is 784 pixels.
func FuzzPreprocess(f *testing.F) {
	seed := func(img image.Image) { f.Add(encode(f, encPNG, img)) }
	seed(sample())
	seed(canvas(5, 5, 255))
	seed(canvas(1, 1, 0))
	seed(image.NewNRGBA(image.Rect(0, 0, 3, 2)))
	tiny := canvas(3, 7, 0)
	tiny.Pix[10] = 255
	seed(tiny)
	wide := canvas(200, 2, 255)
	wide.Pix[150] = 0
	seed(wide)
	f.Add(encode(f, encGIF, image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9)))
	f.Add(encode(f, encJPEG, sample()))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := digit.DecodeBytes(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		if b := img.Bounds(); b.Dx()*b.Dy() > 1<<22 {
			return // valid but large: slow to fuzz, and covered by TestPreprocessSizes
		}
		px, err := digit.Preprocess(img)
		if err != nil {
			if !errors.Is(err, digit.ErrNoInk) {
				t.Fatalf("Preprocess error %v is not ErrNoInk", err)
			}
			return
		}
		if len(px) != digit.Pixels {
			t.Fatalf("%d pixels, want %d", len(px), digit.Pixels)
		}
	})
}
