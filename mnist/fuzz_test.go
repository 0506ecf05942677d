package mnist

import (
	"bytes"
	"testing"
)

// The seeds are valid files, raw and gzipped, and broken ones of each kind
// the decoders report.
func FuzzDecodeImages(f *testing.F) {
	for _, seed := range [][]byte{
		imageFile(1),
		imageFile(0),
		gz(imageFile(2)),
		gz(imageFile(0)),
		imageFile(2)[:100],
		gz(imageFile(2))[:50],
		append(imageFile(1), 0),
		idx([]uint32{imageMagic, 1, 32, 32}, make([]byte, 1024)),
		idx([]uint32{imageMagic, 1 << 30, 28, 28}, nil),
		labelFile(3),
		{0x1f, 0x8b},
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pix, n, err := DecodeImages(bytes.NewReader(data), "fuzz")
		if err == nil && len(pix) != n*Pixels {
			t.Fatalf("%d images but %d bytes", n, len(pix))
		}
		if err != nil && (pix != nil || n != 0) {
			t.Fatalf("an error and %d images", n)
		}
	})
}

func FuzzDecodeLabels(f *testing.F) {
	for _, seed := range [][]byte{
		labelFile(3),
		labelFile(0),
		gz(labelFile(12)),
		labelFile(5)[:10],
		append(labelFile(2), 9),
		idx([]uint32{labelMagic, 2}, []byte{3, 12}),
		idx([]uint32{labelMagic, 1 << 30}, nil),
		imageFile(1),
		{0x1f, 0x8b, 8},
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeLabels(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		if len(data) < 8 {
			t.Fatalf("accepted %d bytes, shorter than a header", len(data))
		}
		for i, v := range l {
			if v > 9 {
				t.Fatalf("accepted label %d = %d", i, v)
			}
		}
	})
}
