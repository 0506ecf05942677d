package mnist

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pyArrays are one set of the book's file: float32 images n×784, int64 labels.
type pyArrays struct {
	x []float32
	y []int64
}

// py2Pickle writes sets as Python 2's cPickle writes a tuple of numpy
// arrays at protocol 2 (pickletools' listing of mnist_loader's file): the
// globals memoised and fetched again with BINGET, dtype("f4", 0, 1) with
// Python 2 ints, and each array's bytes as one BINSTRING (SHORT_BINSTRING
// when under 256 bytes). With expanded, the training set is laid out as
// expand_mnist.py pickles mnist_expanded.pkl.gz: a list of two lists, one
// array of 784 pixels per image (appended in a batch, APPENDS) and one
// numpy scalar per label (appended one by one, APPEND).
func py2Pickle(sets [3]pyArrays, expanded bool) []byte {
	var b bytes.Buffer
	b.Write([]byte{opProto, 2})
	memo := map[string]byte{}
	glob := func(module, name string) {
		key := module + "." + name
		if k, ok := memo[key]; ok {
			b.Write([]byte{opBinGet, k})
			return
		}
		b.WriteString("c" + module + "\n" + name + "\n")
		k := byte(len(memo))
		memo[key] = k
		b.Write([]byte{opBinPut, k})
	}
	str := func(s []byte) {
		if len(s) < 256 {
			b.Write([]byte{opShortBinString, byte(len(s))})
		} else {
			b.WriteByte(opBinString)
			b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
		}
		b.Write(s)
	}
	int1 := func(v int) {
		if v < 256 {
			b.Write([]byte{opBinInt1, byte(v)})
			return
		}
		b.WriteByte(opBinInt)
		b.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
	}
	var dtype func(kind string)
	array := func(shape []int, kind string, data []byte) {
		glob("numpy.core.multiarray", "_reconstruct")
		glob("numpy", "ndarray")
		int1(0)
		b.WriteByte(opTuple1)
		str([]byte("b"))
		b.WriteByte(opTuple3)
		b.WriteByte(opReduce)
		b.WriteByte(opMark)
		int1(1)
		b.WriteByte(opMark)
		for _, d := range shape {
			int1(d)
		}
		b.WriteByte(opTuple)
		dtype(kind)
		b.WriteByte(opNewFalse)
		str(data)
		b.WriteByte(opTuple)
		b.WriteByte(opBuild)
	}
	dtype = func(kind string) {
		glob("numpy", "dtype")
		str([]byte(kind))
		int1(0)
		int1(1)
		b.WriteByte(opTuple3)
		b.WriteByte(opReduce)
		b.WriteByte(opMark)
		int1(3)
		str([]byte("<"))
		b.Write([]byte{opNone, opNone, opNone})
		b.Write([]byte{opBinInt, 0xff, 0xff, 0xff, 0xff, opBinInt, 0xff, 0xff, 0xff, 0xff})
		int1(0)
		b.WriteByte(opTuple)
		b.WriteByte(opBuild)
	}
	for i, s := range sets {
		var x, y []byte
		for _, v := range s.x {
			x = binary.LittleEndian.AppendUint32(x, math.Float32bits(v))
		}
		for _, v := range s.y {
			y = binary.LittleEndian.AppendUint64(y, uint64(v))
		}
		if expanded && i == 0 {
			b.Write([]byte{opEmptyList, opMark, opEmptyList, opMark})
			for k := range len(s.y) {
				array([]int{Pixels}, "f4", x[4*Pixels*k:4*Pixels*(k+1)])
			}
			b.Write([]byte{opAppends, opEmptyList})
			for k := range len(s.y) {
				glob("numpy.core.multiarray", "scalar")
				dtype("i8")
				str(y[8*k : 8*(k+1)])
				b.Write([]byte{opTuple2, opReduce, opAppend})
			}
			b.WriteByte(opAppends)
			continue
		}
		array([]int{len(s.y), Pixels}, "f4", x)
		array([]int{len(s.y)}, "i8", y)
		b.WriteByte(opTuple2)
	}
	b.WriteByte(opTuple3)
	b.WriteByte(opStop)
	return b.Bytes()
}

// bookSets returns three small sets of pixels k/256 (mnist_loader's
// values) and labels 0..9.
func bookSets(n ...int) [3]pyArrays {
	var sets [3]pyArrays
	for i := range sets {
		for j := range n[i] * Pixels {
			sets[i].x = append(sets[i].x, float32((j*7+i)%256)/256)
		}
		for j := range n[i] {
			sets[i].y = append(sets[i].y, int64((j+i)%10))
		}
	}
	return sets
}

// TestLoadPicklePython2: a pickle in cPickle's protocol-2 form loads with
// its own split, its pixels bit for bit and its labels.
func TestLoadPicklePython2(t *testing.T) {
	sets := bookSets(30, 7, 5)
	path := write(t, t.TempDir(), "mnist.pkl.gz", gz(py2Pickle(sets, false)))
	d, err := LoadPickle(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []*Set{d.Training, d.Validation, d.Test} {
		if s.Images != nil || !slices.Equal(s.Float32, sets[i].x) {
			t.Errorf("set %d: pixels differ from the pickle's (or bytes were made of them)", i)
		}
		for j, l := range s.Labels {
			if int64(l) != sets[i].y[j] {
				t.Fatalf("set %d: label %d is %d, want %d", i, j, l, sets[i].y[j])
			}
		}
	}
	if d.Pickle != path {
		t.Errorf("Data.Pickle = %q, want %q", d.Pickle, path)
	}
	// Floats widens the pickle's values exactly; Image rounds them to bytes.
	if f := Floats[float64](d.Test); f[5] != float64(sets[2].x[5]) {
		t.Errorf("Floats: %v, want %v", f[5], sets[2].x[5])
	}
	if got, want := d.Test.Image(0)[5], uint8(math.Round(float64(sets[2].x[5])*255)); got != want {
		t.Errorf("Image: %d, want %d", got, want)
	}
}

// TestLoadPickleExpanded: chapter 6's mnist_expanded.pkl.gz layout, its
// training set as lists of per-image arrays and numpy scalar labels,
// loads as the same sets as the arrays' layout.
func TestLoadPickleExpanded(t *testing.T) {
	sets := bookSets(12, 3, 2)
	dir := t.TempDir()
	want, err := LoadPickle(write(t, dir, "mnist.pkl.gz", gz(py2Pickle(sets, false))), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadPickle(write(t, dir, "mnist_expanded.pkl.gz", gz(py2Pickle(sets, true))), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, pair := range [][2]*Set{{got.Training, want.Training}, {got.Validation, want.Validation}, {got.Test, want.Test}} {
		if !slices.Equal(pair[0].Float32, pair[1].Float32) || !slices.Equal(pair[0].Labels, pair[1].Labels) || pair[0].Len() != len(sets[i].y) {
			t.Errorf("set %d differs from the arrays' layout", i)
		}
	}
}

// TestLoadPickleNumpy reads testdata/mnist-small.pkl.gz, written by numpy
// and Python 3's pickle at protocol 2 (mkpickle.py): MNIST's first 100+50
// training and 50 test images as p/256, as mnist_loader's file has them.
// With the IDX files at hand, every pixel is checked against them.
func TestLoadPickleNumpy(t *testing.T) {
	d, err := LoadPickle(filepath.Join("testdata", "mnist-small.pkl.gz"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Training.Len() != 100 || d.Validation.Len() != 50 || d.Test.Len() != 50 {
		t.Fatalf("split %d/%d/%d, want 100/50/50", d.Training.Len(), d.Validation.Len(), d.Test.Len())
	}
	// MNIST's first ten training labels.
	if got := d.Training.Labels[:10]; !slices.Equal(got, []uint8{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}) {
		t.Errorf("first labels %v", got)
	}
	dir := os.Getenv("GPUTRAIN_DATA")
	if dir == "" || testing.Short() {
		return
	}
	idx, err := Load(dir)
	if err != nil {
		t.Skipf("no IDX files to compare with: %v", err)
	}
	for i, pair := range [][2]*Set{{d.Training, idx.Training.Slice(0, 100)}, {d.Validation, idx.Training.Slice(100, 150)}, {d.Test, idx.Test.Slice(0, 50)}} {
		for j, v := range pair[0].Float32 {
			if want := float32(pair[1].Images[j]) / 256; v != want {
				t.Fatalf("set %d, pixel %d: %v, want %v", i, j, v, want)
			}
		}
		if !slices.Equal(pair[0].Labels, pair[1].Labels) {
			t.Fatalf("set %d: labels differ from the IDX file's", i)
		}
	}
}

// TestEnsurePickle: --data names the pickle, or a folder holding it and
// no IDX file; a folder with IDX files keeps to them.
func TestEnsurePickle(t *testing.T) {
	file := gz(py2Pickle(bookSets(20, 3, 4), false))
	dir := t.TempDir()
	path := write(t, dir, "mnist.pkl.gz", file)
	for _, p := range []string{path, dir} {
		var log bytes.Buffer
		d, err := EnsureWith(p, &log, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Pickle != path || d.Training.Len() != 20 {
			t.Errorf("EnsureWith(%s): read %q, %d training images", p, d.Pickle, d.Training.Len())
		}
		if p == dir && !strings.Contains(log.String(), "reading the book's "+path) {
			t.Errorf("EnsureWith(%s) said %q, want that it reads the pickle", p, log.String())
		}
	}
	// An IDX file present: the folder is IDX's, and the pickle is left alone.
	write(t, dir, "train-images-idx3-ubyte", imageFile(3))
	if pickleIn(dir) != "" {
		t.Error("a folder with an IDX file read as the pickle")
	}
}

// TestPickleFaults: each bad file is one error naming it and the fault.
func TestPickleFaults(t *testing.T) {
	good := py2Pickle(bookSets(3, 1, 1), false)
	// A gzip bomb: a few KB that unzip to 64 MB of MARK opcodes.
	bomb := append([]byte{opProto, 2}, bytes.Repeat([]byte{opMark}, 64<<20)...)
	evil := []byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R.")
	utf := []byte("\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.")
	dict := []byte("\x80\x02}q\x00.")
	ints := []byte("\x80\x02K\x01K\x02\x86.")
	appendToInt := []byte("\x80\x02K\x01K\x02a.")
	// An expanded pickle whose second label is an int32 scalar beside int64s.
	mixed := bytes.Replace(py2Pickle(bookSets(2, 1, 1), true), []byte("U\x02i8"), []byte("U\x02i4"), 2)
	mixed = bytes.Replace(mixed, []byte("U\x02i4"), []byte("U\x02i8"), 1)
	f8 := bookSets(2, 1, 1)
	f8pickle := bytes.Replace(py2Pickle(f8, false), []byte("U\x02f4"), []byte("U\x02f8"), 1)
	for _, c := range []struct {
		name string
		data []byte
		max  int64
		want string
	}{
		{"gzip bomb", gz(bomb), 1 << 20, "unzips to more than 1048576 bytes"},
		{"truncated pickle", gz(good[:len(good)/2]), 0, "truncated: the pickle ends before its STOP"},
		{"truncated gzip", gz(good)[:200], 0, "truncated"},
		{"not gzip", good, 0, "not gzip"},
		{"an IDX file", gz(imageFile(1)), 0, "not a pickle"},
		{"calls os.system", gz(evil), 0, "the pickle names os.system: only numpy's array reconstruction is allowed"},
		{"_codecs.encode of utf-8", gz(utf), 0, "only latin1 text is allowed"},
		{"a dict", gz(dict), 0, "pickle opcode '}' at an unexpected place"},
		{"a tuple of ints", gz(ints), 0, "not the book's MNIST layout: want a tuple of (training, validation, test), got (1, 2)"},
		{"float64 images", gz(f8pickle), 0, "holds 6272 bytes, want 12544"},
		{"APPEND to an int", gz(appendToInt), 0, "bad pickle: APPEND to 1"},
		{"labels of two dtypes", gz(mixed), 0, "a numpy scalar of dtype <i4 in 8 bytes"},
		{"data after STOP", gz(append(slices.Clip(good), 'N')), 0, "data after the pickle's STOP"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, t.TempDir(), "mnist.pkl.gz", c.data)
			_, err := LoadPickle(path, c.max)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line starting with the path and containing %q", err, c.want)
			}
		})
	}
}

// FuzzDecodePickle: any bytes, run as a pickle, end in an error or in
// three sets whose pixels are in [0, 1] and labels 0..9, never a panic.
func FuzzDecodePickle(f *testing.F) {
	f.Add(py2Pickle(bookSets(2, 1, 1), false))
	f.Add(py2Pickle(bookSets(2, 1, 1), true))
	f.Add([]byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85R."))
	f.Add([]byte("\x80\x02K\x01K\x02\x86."))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodePickle(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		for _, s := range []*Set{d.Training, d.Validation, d.Test} {
			if len(s.Float32) != s.Len()*Pixels {
				t.Fatalf("%d pixels for %d labels", len(s.Float32), s.Len())
			}
			for _, l := range s.Labels {
				if l > 9 {
					t.Fatalf("label %d", l)
				}
			}
		}
	})
}
