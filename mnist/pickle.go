package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// The book's own files: mnist_loader's mnist.pkl.gz and chapter 6's
// mnist_expanded.pkl.gz, each a gzipped pickle of
// ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) with float32
// pixels n×784 in [0, 1) and int64 labels; expand_mnist.py writes its
// training set as [images, labels] lists instead, an array of 784 pixels
// per image and a numpy int64 scalar per label. Python 2's cPickle wrote
// them at protocol 2; Python 3's pickle at protocol 2 writes the same but
// for the arrays' bytes, which come as _codecs.encode(str, "latin1").
//
// unpickle.go is the subset of the pickle machine those files use, and no
// more: the only callables are numpy's array and scalar reconstruction,
// numpy.dtype and _codecs.encode with latin1, so a pickle cannot run
// anything else.

// PickleFiles are the names of the book's files, the one a data folder is
// searched for first.
var PickleFiles = []string{"mnist.pkl.gz", "mnist_expanded.pkl.gz"}

// maxPickle bounds a pickle's decompressed size: mnist_expanded.pkl.gz,
// the largest of the book's, is 250,000+20,000 float32 images and their
// labels, 849 MB.
const maxPickle = 900 << 20

// LoadPickle reads one of the book's pickle files (see PickleFiles): its
// own split, its pixels as they are (Set.Float32), its labels. maxBytes,
// when not 0, bounds the decompressed pickle below maxPickle. Every fault
// is one error that starts with path.
func LoadPickle(path string, maxBytes int64) (*Data, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: not gzip (%v): --data takes a folder of MNIST's IDX files or the book's mnist.pkl.gz", path, err)
	}
	limit := int64(maxPickle)
	if maxBytes > 0 && maxBytes < limit {
		limit = maxBytes
	}
	d, err := decodePickle(z, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Pickle = path
	return d, nil
}

// decodePickle runs the unzipped pickle r, of at most limit bytes, and
// makes the book's three sets of what it builds.
func decodePickle(r io.Reader, limit int64) (*Data, error) {
	u := &unpickler{r: bufio.NewReaderSize(r, 1<<16), left: limit, memo: map[int]any{}}
	if b, err := u.r.Peek(2); err != nil || b[0] != opProto {
		return nil, errors.New("not a pickle: --data takes a folder of MNIST's IDX files or the book's mnist.pkl.gz")
	}
	v, err := u.run()
	if err != nil {
		if errors.Is(err, errBudget) {
			return nil, fmt.Errorf("unzips to more than %d bytes: not one of the book's MNIST pickles (a gzip bomb?)", limit)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("truncated: the pickle ends before its STOP")
		}
		return nil, err
	}
	d, err := pickleData(v)
	if err != nil {
		return nil, fmt.Errorf("not the book's MNIST layout: %w", err)
	}
	return d, nil
}

// pickleData checks the unpickled value's layout and makes the three sets.
func pickleData(v any) (*Data, error) {
	top, ok := v.(tuple)
	if !ok || len(top) != 3 {
		return nil, fmt.Errorf("want a tuple of (training, validation, test), got %s", describe(v))
	}
	var sets [3]*Set
	for i, name := range []string{"training", "validation", "test"} {
		pair, ok := top[i].(tuple)
		if l, isList := top[i].(*list); isList {
			pair, ok = l.items, true // expand_mnist.py's [images, labels]
		}
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("the %s set: want a tuple (images, labels), got %s", name, describe(top[i]))
		}
		x, okx := stacked(pair[0])
		y, oky := stacked(pair[1])
		if !okx || !oky || x.data == nil || y.data == nil {
			return nil, fmt.Errorf("the %s set: want two numpy arrays, got %s and %s", name, describe(pair[0]), describe(pair[1]))
		}
		s, err := x.set(y)
		if err != nil {
			return nil, fmt.Errorf("the %s set: %w", name, err)
		}
		sets[i] = s
	}
	return &Data{Training: sets[0], Validation: sets[1], Test: sets[2]}, nil
}

// stacked is v as one array: an array as it is, or a list of arrays of
// one shape and dtype (mnist_expanded.pkl.gz's training images, each of
// 784 pixels, and labels, numpy scalars) as numpy.stack makes them.
func stacked(v any) (*ndarray, bool) {
	l, ok := v.(*list)
	if !ok {
		x, ok := v.(*ndarray)
		return x, ok
	}
	if len(l.items) == 0 {
		return nil, false
	}
	first, ok := l.items[0].(*ndarray)
	if !ok {
		return nil, false
	}
	out := &ndarray{shape: append([]int{len(l.items)}, first.shape...), dtype: first.dtype,
		data: make([]byte, 0, len(l.items)*len(first.data))}
	for _, it := range l.items {
		x, ok := it.(*ndarray)
		if !ok || x.dtype != first.dtype || !slices.Equal(x.shape, first.shape) || x.data == nil {
			return nil, false
		}
		out.data = append(out.data, x.data...)
	}
	return out, true
}

// set makes a Set of images x (float32, n×784) and labels y (int64 or
// int32, n, each 0..9).
func (x *ndarray) set(y *ndarray) (*Set, error) {
	if x.dtype != "<f4" || len(x.shape) != 2 || x.shape[1] != Pixels {
		return nil, fmt.Errorf("images are %s of shape %v, want float32 (<f4) of shape (n, %d)", x.dtype, x.shape, Pixels)
	}
	n := x.shape[0]
	if len(y.shape) != 1 || y.shape[0] != n || y.dtype != "<i8" && y.dtype != "<i4" {
		return nil, fmt.Errorf("labels are %s of shape %v, want int64 (<i8) of shape (%d,)", y.dtype, y.shape, n)
	}
	s := &Set{Float32: make([]float32, n*Pixels), Labels: make([]uint8, n)}
	for i := range s.Float32 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(x.data[4*i:]))
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("image %d, pixel %d is %v, want a value in [0, 1]", i/Pixels, i%Pixels, v)
		}
		s.Float32[i] = v
	}
	size := 8
	if y.dtype == "<i4" {
		size = 4
	}
	for i := range s.Labels {
		var l int64
		if size == 8 {
			l = int64(binary.LittleEndian.Uint64(y.data[8*i:]))
		} else {
			l = int64(int32(binary.LittleEndian.Uint32(y.data[4*i:])))
		}
		if l < 0 || l > 9 {
			return nil, fmt.Errorf("label %d is %d, want 0..9", i, l)
		}
		s.Labels[i] = uint8(l)
	}
	return s, nil
}
