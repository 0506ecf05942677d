package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/gputrain/gputrain/internal/safefile"
)

// IDX magic numbers: zero, zero, 0x08 (unsigned bytes), then the number of
// dimensions, 3 for images and 1 for labels.
const (
	imageMagic = 0x0803 // 2051
	labelMagic = 0x0801 // 2049
)

// maxCount bounds a header's count so that a corrupt one is reported as such
// rather than believed; MNIST's largest file holds 60,000.
const maxCount = 10_000_000

// ReadImages reads an IDX image file, gzipped or raw. It returns the pixels,
// n×Pixels bytes row-major, and n.
func ReadImages(path string) (images []uint8, n int, err error) {
	return readImages(path, 0)
}

// readImages is ReadImages refusing a header that claims more than
// maxBytes of pixels (0: no bound but maxCount) before reading them.
func readImages(path string, maxBytes int64) ([]uint8, int, error) {
	f, err := open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	r, err := gunzip(f, path)
	if err != nil {
		return nil, 0, err
	}
	pix, n, err := decodeImages(r, path, maxBytes, size)
	if err != nil {
		return nil, 0, gzipFault(r, path, err)
	}
	return pix, n, nil
}

// ReadLabels reads an IDX label file, gzipped or raw.
func ReadLabels(path string) ([]uint8, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeLabels(f, path)
}

// open opens path for reading, refusing anything but a regular file up
// front: a directory opens happily on Linux and fails only at the first
// read, a FIFO would block the open, a device would be read without end.
func open(path string) (*os.File, error) {
	if _, err := safefile.Check(path, "an IDX file"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			_, err = os.Stat(path)
			return nil, pathError(path, err)
		}
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	return f, nil
}

// DecodeImages reads IDX image data of 28×28 images from r, gzipped or raw
// (told apart by gzip's magic bytes). It returns the pixels, n×Pixels bytes
// row-major, and n. The data must end right after the last image. Errors
// start with name.
func DecodeImages(r io.Reader, name string) ([]uint8, int, error) {
	r, err := gunzip(r, name)
	if err != nil {
		return nil, 0, err
	}
	pix, n, err := decodeImages(r, name, 0, 0)
	if err != nil {
		return nil, 0, gzipFault(r, name, err)
	}
	return pix, n, nil
}

// decodeImages reads images as DecodeImages does; fileSize, the size of
// the file they come from (0: unknown), bounds the memory taken at once.
func decodeImages(r io.Reader, name string, maxBytes, fileSize int64) ([]uint8, int, error) {
	var h [4]uint32
	if err := header(r, name, h[:], imageMagic); err != nil {
		return nil, 0, err
	}
	if h[2] != Rows || h[3] != Cols {
		return nil, 0, fmt.Errorf("%s: images are %d×%d, want %d×%d", name, h[2], h[3], Rows, Cols)
	}
	if h[1] > maxCount {
		return nil, 0, fmt.Errorf("%s: header claims %d images, more than %d: corrupt header", name, h[1], maxCount)
	}
	n := int(h[1])
	if maxBytes > 0 && int64(n)*Pixels > maxBytes {
		return nil, 0, fmt.Errorf("%s: header claims %d images, %d bytes of pixels: more than the %d bytes the memory allows (--max-memory)",
			name, n, n*Pixels, maxBytes)
	}
	// A file holds at most about 1,000 times its size (deflate's limit);
	// MNIST's hold 5. Taken at once, the pixels need no copies as they
	// grow: growing them took 60 MB of copies and page faults, and the
	// collector spun while they ran, half a second of every start.
	pix, err := payload(r, name, n*Pixels, "pixels", int(min(int64(n*Pixels), max(1<<20, 32*fileSize))))
	if err != nil {
		return nil, 0, err
	}
	return pix, n, nil
}

// DecodeLabels reads IDX label data from r, gzipped or raw (told apart by
// gzip's magic bytes). Each label must be 0..9, and the data must end right
// after the last. Errors start with name.
func DecodeLabels(r io.Reader, name string) ([]uint8, error) {
	r, err := gunzip(r, name)
	if err != nil {
		return nil, err
	}
	labels, err := decodeLabels(r, name)
	if err != nil {
		return nil, gzipFault(r, name, err)
	}
	return labels, nil
}

func decodeLabels(r io.Reader, name string) ([]uint8, error) {
	var h [2]uint32
	if err := header(r, name, h[:], labelMagic); err != nil {
		return nil, err
	}
	if h[1] > maxCount {
		return nil, fmt.Errorf("%s: header claims %d labels, more than %d: corrupt header", name, h[1], maxCount)
	}
	labels, err := payload(r, name, int(h[1]), "labels", 1<<20)
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

// gunzip returns a reader of r's data, un-gzipped when r starts with gzip's
// magic bytes: MNIST files are often un-gzipped but keep their .gz name, or
// the reverse.
func gunzip(r io.Reader, name string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if head, _ := br.Peek(2); len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return br, nil // too short for gzip, the header check says why
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt gzip header: %w", name, err)
	}
	return z, nil
}

// gzipTail is how much of a gzip stream gzipFault reads past a fault.
const gzipTail = 1 << 20

// gzipFault returns err, the first fault found in the IDX data of r, unless
// r is a gzip stream that proves corrupt when read to its end: then that is
// the error, for a flipped bit shows up as nonsense in the data (a header of
// 495720×134414336 images, say) long before gzip's checksum at the end.
func gzipFault(r io.Reader, name string, err error) error {
	z, ok := r.(*gzip.Reader)
	if !ok {
		return err
	}
	// The rest is read to find the checksum, but no further than gzipTail:
	// a stream that goes on past what the header implies is at fault
	// already, and a gzip bomb must not be inflated to its end.
	switch k, zerr := io.CopyN(io.Discard, z, gzipTail); {
	case k == gzipTail:
		return err
	case zerr == nil || zerr == io.EOF:
		return err
	case errors.Is(zerr, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: corrupt gzip: truncated stream, or junk after it: %w", name, zerr)
	default:
		return fmt.Errorf("%s: corrupt gzip: %w", name, zerr)
	}
}

// header reads len(h) big-endian uint32s into h. The magic number is checked
// before the rest is read so that a short file of the wrong kind is named as
// such.
func header(r io.Reader, name string, h []uint32, magic uint32) error {
	buf := make([]byte, 4*len(h))
	k, err := io.ReadFull(r, buf[:4])
	if err == nil {
		if m := binary.BigEndian.Uint32(buf); m != magic {
			return magicError(name, m, magic)
		}
		var more int
		more, err = io.ReadFull(r, buf[4:])
		k += more
	}
	switch {
	case k == 0 && errors.Is(err, io.EOF):
		return fmt.Errorf("%s: empty file", name)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: short header: %d of %d bytes", name, k, len(buf))
	case err != nil:
		return fmt.Errorf("%s: reading the header: %w", name, err)
	}
	for i := range h {
		h[i] = binary.BigEndian.Uint32(buf[4*i:])
	}
	return nil
}

// magicError names the kind of file found when it is the other MNIST kind,
// the likeliest mix-up.
func magicError(name string, got, want uint32) error {
	kind := map[uint32]string{imageMagic: "images", labelMagic: "labels"}
	switch {
	case kind[got] != "":
		return fmt.Errorf("%s: holds %s (magic %d), want %s (magic %d): images and labels files swapped?",
			name, kind[got], got, kind[want], want)
	case got>>16 == 0x1f8b:
		return fmt.Errorf("%s: magic number 0x%08x, want %d: still gzipped after un-gzipping, compressed twice?", name, got, want)
	}
	return fmt.Errorf("%s: magic number %d (0x%08x), want %d (0x%08x): not an MNIST IDX file", name, got, got, want, want)
}

// payload reads exactly n bytes of what from r and checks that r ends there.
// The buffer starts at first bytes and grows as the data arrives, doubling
// but never past n, so a header that overstates its count costs at most
// first or twice what the data holds.
func payload(r io.Reader, name string, n int, what string, first int) ([]byte, error) {
	buf := make([]byte, 0, min(n, first))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), n-len(buf)))
		}
		k, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("%s: truncated: want %d bytes of %s, got %d", name, n, what, len(buf))
		case err != nil:
			return nil, fmt.Errorf("%s: reading %s: %w", name, what, err)
		}
	}
	// The end must come now. For gzip this read is also the one that checks
	// the CRC, so its error matters even when no byte follows.
	var one [1]byte
	switch k, err := io.ReadFull(r, one[:]); {
	case k > 0:
		return nil, fmt.Errorf("%s: trailing bytes after the %d bytes of %s", name, n, what)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: reading after the %d bytes of %s: %w", name, n, what, err)
	}
	return buf, nil
}
