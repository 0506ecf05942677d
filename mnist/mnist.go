// Package mnist reads the MNIST handwritten-digit files (IDX format, gzip
// or raw), splits them as the book does, and fetches them through the Go
// module proxy when they are missing.
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Image geometry.
const (
	Rows   = 28
	Cols   = 28
	Pixels = Rows * Cols
)

// IDX magic numbers: 0x0000 0803 (unsigned bytes, 3 dimensions) for images,
// 0x0000 0801 for labels.
const (
	imageMagic = 2051
	labelMagic = 2049
)

// maxImages bounds a header's count so that a corrupt header cannot make
// the reader allocate gigabytes; MNIST itself has 60,000.
const maxImages = 10_000_000

// Set is n images and their labels.
type Set struct {
	Images []uint8 // n×784, row-major, 0 (background) to 255 (ink)
	Labels []uint8 // n, each 0..9
}

// Len is the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the 784 pixels of image i.
func (s *Set) Image(i int) []uint8 { return s.Images[i*Pixels : (i+1)*Pixels] }

// Slice returns images [lo,hi), sharing memory with s.
func (s *Set) Slice(lo, hi int) *Set {
	return &Set{Images: s.Images[lo*Pixels : hi*Pixels], Labels: s.Labels[lo:hi]}
}

// Floats returns the pixels as p/255 in [0,1], row-major n×784, computed in T.
func Floats[T float32 | float64](s *Set) []T {
	out := make([]T, len(s.Images))
	for i, p := range s.Images {
		out[i] = T(p) / 255
	}
	return out
}

// open returns a reader of the file's IDX bytes, un-gzipping when the file
// starts with gzip's magic bytes (whatever its name).
func open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, want an IDX file", path)
	}
	br := bufio.NewReader(f)
	head, err := br.Peek(2)
	if len(head) == 0 && err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(head, []byte{0x1f, 0x8b}) {
		z, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: corrupt gzip: %w", path, err)
		}
		return readCloser{z, f}, nil
	}
	return readCloser{br, f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// ReadImages reads an IDX image file.
func ReadImages(path string) ([]uint8, int, error) {
	r, err := open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	return DecodeImages(r, path)
}

// ReadLabels reads an IDX label file.
func ReadLabels(path string) ([]uint8, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return DecodeLabels(r, path)
}

// DecodeImages reads IDX image data (not gzipped); name is used in errors.
func DecodeImages(r io.Reader, name string) ([]uint8, int, error) {
	var h [4]uint32
	if err := header(r, name, h[:], imageMagic); err != nil {
		return nil, 0, err
	}
	n, rows, cols := int(h[1]), int(h[2]), int(h[3])
	if rows != Rows || cols != Cols {
		return nil, 0, fmt.Errorf("%s: images are %d×%d, want %d×%d", name, rows, cols, Rows, Cols)
	}
	if n > maxImages {
		return nil, 0, fmt.Errorf("%s: header claims %d images, more than any MNIST file", name, n)
	}
	pix, err := payload(r, name, n*Pixels, "pixels")
	return pix, n, err
}

// DecodeLabels reads IDX label data (not gzipped); name is used in errors.
func DecodeLabels(r io.Reader, name string) ([]uint8, error) {
	var h [2]uint32
	if err := header(r, name, h[:], labelMagic); err != nil {
		return nil, err
	}
	n := int(h[1])
	if n > maxImages {
		return nil, fmt.Errorf("%s: header claims %d labels, more than any MNIST file", name, n)
	}
	labels, err := payload(r, name, n, "labels")
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d is %d, want 0..9", name, i, l)
		}
	}
	return labels, nil
}

// header reads len(h) big-endian uint32s, checking the magic number
// first so that a swapped file is named as such even when short.
func header(r io.Reader, name string, h []uint32, magic uint32) error {
	buf := make([]byte, 4*len(h))
	n, err := io.ReadFull(r, buf[:4])
	if n == 0 && errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file", name)
	}
	if err == nil {
		if m := binary.BigEndian.Uint32(buf); m != magic {
			kind := map[uint32]string{imageMagic: "images", labelMagic: "labels"}
			if other, ok := kind[m]; ok {
				return fmt.Errorf("%s: holds %s (magic %d), want %s (magic %d): files swapped?", name, other, m, kind[magic], magic)
			}
			return fmt.Errorf("%s: magic number %d, want %d: not an MNIST IDX file", name, m, magic)
		}
		var k int
		k, err = io.ReadFull(r, buf[4:])
		n += k
	}
	if err != nil {
		return fmt.Errorf("%s: short header: %d of %d bytes: %w", name, n, len(buf), cause(err))
	}
	for i := range h {
		h[i] = binary.BigEndian.Uint32(buf[4*i:])
	}
	return nil
}

// payload reads exactly n bytes and checks that nothing follows.
func payload(r io.Reader, name string, n int, what string) ([]uint8, error) {
	// Grow in chunks rather than trusting the header's size up front, but
	// never past n, so a genuine file costs one exact allocation's worth.
	const chunk = 1 << 22
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf[:cap(buf)], make([]byte, min(n-len(buf), max(chunk, len(buf)/2)))...)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) && len(buf) < n {
			return nil, fmt.Errorf("%s: truncated: want %d bytes of %s, got %d", name, n, what, len(buf))
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: reading %s: %w", name, what, cause(err))
		}
	}
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return nil, fmt.Errorf("%s: trailing bytes after %d bytes of %s", name, n, what)
	}
	return buf, nil
}

// cause turns gzip's errors into words a user can act on.
func cause(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of file")
	}
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return fmt.Errorf("corrupt gzip: %w", err)
	}
	return err
}

// Data is the book's split of MNIST.
type Data struct {
	Training   *Set // the first 50,000 images of the training file
	Validation *Set // its last 10,000
	Test       *Set // the 10,000 test images
}

// validationSize is the book's validation split.
const validationSize = 10_000

// Load reads the four files from dir. Each may be gzipped or raw; a raw one
// may also go by the name without .gz. The training file's last 10,000
// images become the validation set (none when it holds 10,000 or fewer).
func Load(dir string) (*Data, error) {
	var sets [2]*Set
	for i := range sets {
		imgPath, err := find(dir, Files[2*i].Name)
		if err != nil {
			return nil, err
		}
		lblPath, err := find(dir, Files[2*i+1].Name)
		if err != nil {
			return nil, err
		}
		images, n, err := ReadImages(imgPath)
		if err != nil {
			return nil, err
		}
		labels, err := ReadLabels(lblPath)
		if err != nil {
			return nil, err
		}
		if len(labels) != n {
			return nil, fmt.Errorf("%s holds %d images but %s holds %d labels", imgPath, n, lblPath, len(labels))
		}
		sets[i] = &Set{Images: images, Labels: labels}
	}
	train, test := sets[0], sets[1]
	split := train.Len()
	if split > validationSize {
		split -= validationSize
	}
	return &Data{Training: train.Slice(0, split), Validation: train.Slice(split, train.Len()), Test: test}, nil
}

// find returns the path of name in dir, or of its un-gzipped name.
func find(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	raw := filepath.Join(dir, name[:len(name)-len(".gz")])
	if _, err := os.Stat(raw); err == nil {
		return raw, nil
	}
	return "", fmt.Errorf("%s: missing (run gputrain data --data %s to fetch it)", path, dir)
}
