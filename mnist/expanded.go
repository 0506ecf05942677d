package mnist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/gputrain/gputrain/internal/safefile"
)

// The expanded training set's cache: Expand's output kept beside the MNIST
// files, so that chapter 6's runs read it rather than build it each time.

// ExpandedFile is the cache's name in the MNIST folder.
const ExpandedFile = "expanded-training.gputrain"

// The cache's layout: expandedMagic; the SHA-256 of the training images
// and labels it was made from (SourceSum), so that a cache of other images
// is stale; n as a big-endian uint64; n×Pixels image bytes; n labels; and
// the SHA-256 of everything before it, so that a damaged file is known.
const (
	expandedMagic  = "gputrain-expand1"
	expandedHeader = len(expandedMagic) + sha256.Size + 8
)

// ErrExpandedStale is LoadExpanded's error for a cache made from other
// training images than the ones given.
var ErrExpandedStale = errors.New("made from other training images than these")

// ErrExpandedDamaged is LoadExpanded's error for a cache that is not whole:
// cut short, overwritten, or not a cache at all.
var ErrExpandedDamaged = errors.New("damaged")

// SourceSum is the SHA-256 of s's images and labels, which names the
// training set an expanded cache was made from.
func SourceSum(s *Set) [sha256.Size]byte {
	h := sha256.New()
	h.Write(s.Images)
	h.Write(s.Labels)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// LoadExpanded reads the cache at path made from training, whose byte
// images it must be. Its errors start with path and wrap fs.ErrNotExist,
// ErrExpandedStale or ErrExpandedDamaged, so that a caller can rebuild.
func LoadExpanded(path string, training *Set) (*Set, error) {
	n := 5 * training.Len()
	size := int64(expandedHeader) + int64(n)*(Pixels+1) + sha256.Size
	f, st, err := safefile.Open(path, "an expanded MNIST cache")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() != size {
		return nil, fmt.Errorf("%s: %w: %d bytes, want %d for %d images", path, ErrExpandedDamaged, st.Size(), size, n)
	}
	// One buffer of the size checked above, rather than io.ReadAll's
	// doubling: the images are sliced from it.
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrExpandedDamaged, err)
	}
	body := buf[:size-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], buf[len(body):]) || string(buf[:len(expandedMagic)]) != expandedMagic {
		return nil, fmt.Errorf("%s: %w: its checksum does not match its content", path, ErrExpandedDamaged)
	}
	src := SourceSum(training)
	if !bytes.Equal(buf[len(expandedMagic):len(expandedMagic)+sha256.Size], src[:]) {
		return nil, fmt.Errorf("%s: %w", path, ErrExpandedStale)
	}
	if got := binary.BigEndian.Uint64(buf[expandedHeader-8:]); got != uint64(n) {
		return nil, fmt.Errorf("%s: %w: it holds %d images, want %d", path, ErrExpandedDamaged, got, n)
	}
	images := body[expandedHeader : expandedHeader+n*Pixels]
	labels := body[expandedHeader+n*Pixels:]
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("%s: %w: label %d is %d", path, ErrExpandedDamaged, i, l)
		}
	}
	return &Set{Images: images[:len(images):len(images)], Labels: labels[:n:n]}, nil
}

// WriteExpanded writes expanded, Expand(training), to path whole or not
// at all.
func WriteExpanded(path string, training, expanded *Set) error {
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		h := sha256.New()
		bw := bufio.NewWriterSize(io.MultiWriter(w, h), 1<<20)
		src := SourceSum(training)
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(expanded.Len()))
		for _, b := range [][]byte{[]byte(expandedMagic), src[:], n[:], expanded.Images, expanded.Labels} {
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		_, err := w.Write(h.Sum(nil))
		return err
	})
}

// EnsureExpanded returns the expanded training set of d (Expand of its
// training images), read from the cache in dir when that holds it, else
// built and written there. It says on log what it did when it builds; a
// stale or damaged cache is rebuilt with one line naming the fault. A
// cache that cannot be written is an error when mustWrite, else a warning
// on log, and the set is returned all the same. Sets of Float32 pixels
// (the book's pickle) have no cache and are refused.
func EnsureExpanded(dir string, d *Data, log io.Writer, mustWrite bool) (*Set, error) {
	if d.Training.Images == nil {
		return nil, fmt.Errorf("%s: the expanded training set is built from the MNIST files' bytes, and this is the book's pickle: name the folder of the MNIST files", d.Pickle)
	}
	path := filepath.Join(dir, ExpandedFile)
	s, err := LoadExpanded(path, d.Training)
	switch {
	case err == nil:
		return s, nil
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(log, "building the expanded training set (%d images) in %s\n", 5*d.Training.Len(), path)
	case errors.Is(err, ErrExpandedStale), errors.Is(err, ErrExpandedDamaged):
		fmt.Fprintf(log, "%v: rebuilding it\n", err)
	default:
		return nil, err
	}
	s = Expand(d.Training)
	if err := WriteExpanded(path, d.Training, s); err != nil {
		if mustWrite {
			return nil, err
		}
		fmt.Fprintf(log, "warning: %v; training on it unsaved\n", err)
	}
	return s, nil
}
