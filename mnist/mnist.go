// Package mnist reads the MNIST handwritten-digit files (IDX format) and
// fetches them through the Go module proxy when they are missing.
//
// The files may be gzipped or raw, whatever their names say; every header,
// length and label is checked, and every fault is an error that starts with
// the file's name. Load splits the data as Nielsen's book does: 50,000
// training, 10,000 validation and 10,000 test images.
package mnist

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Rows, Cols and Pixels are the geometry of one MNIST image.
const Rows, Cols, Pixels = 28, 28, 28 * 28

// Set is n images and their labels. The pixels are in Images, bytes as
// the IDX files hold them; or, for a set read from the book's pickle files
// (LoadPickle), in Float32 as that file holds them, with Images nil.
type Set struct {
	Images  []uint8   // n×Pixels, row-major, 0 (background) to 255 (ink)
	Float32 []float32 // n×Pixels, row-major, in [0, 1]: the pickle's values
	Labels  []uint8   // n, each 0..9
}

// Len returns the number of images in s.
func (s *Set) Len() int { return len(s.Labels) }

// Slice returns images lo..hi-1 of s. It shares memory with s, but its
// capacity ends at hi so that appending to it cannot overwrite image hi.
func (s *Set) Slice(lo, hi int) *Set {
	if s.Float32 != nil {
		return &Set{Float32: s.Float32[lo*Pixels : hi*Pixels : hi*Pixels], Labels: s.Labels[lo:hi:hi]}
	}
	return &Set{Images: s.Images[lo*Pixels : hi*Pixels : hi*Pixels], Labels: s.Labels[lo:hi:hi]}
}

// Image returns the Pixels bytes of image i, row-major, sharing memory with
// s; for a set of Float32 pixels, a copy rounded to bytes (to look at).
func (s *Set) Image(i int) []uint8 {
	if s.Float32 != nil {
		out := make([]uint8, Pixels)
		for j, v := range s.Float32[i*Pixels : (i+1)*Pixels] {
			out[j] = uint8(math.Round(float64(v) * 255))
		}
		return out
	}
	return s.Images[i*Pixels : (i+1)*Pixels : (i+1)*Pixels]
}

// Floats returns the pixels of s as p/255 in [0,1], row-major n×Pixels,
// computed in T so that float32 values are the nearest float32 to p/255;
// or a set's Float32 pixels as they are.
func Floats[T float32 | float64](s *Set) []T {
	if s.Float32 != nil {
		out := make([]T, len(s.Float32))
		for i, v := range s.Float32 {
			out[i] = T(v)
		}
		return out
	}
	out := make([]T, len(s.Images))
	for i, p := range s.Images {
		out[i] = T(p) / 255
	}
	return out
}

// Data is the book's split of MNIST.
type Data struct {
	Training   *Set // the training file but its last 10,000 images: 50,000
	Validation *Set // the training file's last 10,000 images
	Test       *Set // the test file: 10,000 images

	// Unverified lists the files EnsureWith accepted without checking
	// them against the canonical ones (Options.NonCanonical); Load leaves
	// it empty, having checked nothing.
	Unverified []string
	// Pickle is the book's pickle file the data was read from (LoadPickle),
	// with its own split and pixels; "" for the IDX files.
	Pickle string
}

// validationSize is how many of the training file's images the book keeps
// back for validation.
const validationSize = 10_000

// Load reads the four files of Files from dir. Each may be gzipped or raw,
// and a raw one may also go by its name without ".gz" when the .gz name is
// absent. Load neither fetches nor checks checksums (see Fetch and Ensure).
//
// The training file's last 10,000 images become the validation set and the
// rest the training set: 50,000 and 10,000 for the real file. A training
// file of 10,000 images or fewer (a handmade one) is all training, with an
// empty validation set.
func Load(dir string) (*Data, error) { return load(dir, 0) }

// load is Load refusing an image file whose header claims more than
// maxBytes of pixels (0: no bound but the header check's).
func load(dir string, maxBytes int64) (*Data, error) {
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
		images, n, err := readImages(imgPath, maxBytes)
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
	return &Data{
		Training:   train.Slice(0, split),
		Validation: train.Slice(split, train.Len()),
		Test:       test,
	}, nil
}

// find returns the path of name in dir, or else of its un-gzipped name.
func find(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	_, err := os.Stat(path)
	if err == nil {
		return path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", pathError(path, err)
	}
	raw := strings.TrimSuffix(path, ".gz")
	if _, err := os.Stat(raw); err == nil {
		return raw, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", pathError(raw, err)
	}
	return "", fmt.Errorf("%s: missing, and no un-gzipped %s either (Fetch downloads it): %w",
		path, filepath.Base(raw), fs.ErrNotExist)
}

// pathError puts the path first, as every error of this package does,
// rather than after the operation as *fs.PathError prints it.
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %s: %w", path, pe.Op, pe.Err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// SharedDir is the MNIST folder every checkout and working directory can
// share: $GPUTRAIN_DATA when set, else gputrain/mnist in the user's cache
// directory (~/.cache on Linux), else gputrain-mnist in the temporary
// directory. The tests read (and fetch) MNIST there, so that they leave
// nothing in the checkout.
func SharedDir() string {
	if d := os.Getenv("GPUTRAIN_DATA"); d != "" {
		return d
	}
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "gputrain", "mnist")
	}
	return filepath.Join(os.TempDir(), "gputrain-mnist")
}
