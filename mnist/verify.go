package mnist

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gputrain/gputrain/internal/safefile"
)

// raw is a canonical file un-gzipped: its size and SHA-256, by its name
// without .gz.
type rawFile struct {
	size   int64
	sha256 string
}

var canonicalRaw = map[string]rawFile{
	"train-images-idx3-ubyte": {47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
	"train-labels-idx1-ubyte": {60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
	"t10k-images-idx3-ubyte":  {7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
	"t10k-labels-idx1-ubyte":  {10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
}

// Options say what EnsureWith accepts.
type Options struct {
	// NonCanonical accepts files under the raw names (without .gz) that
	// are not MNIST's canonical ones: a dataset of one's own in IDX format.
	// Their sizes and checksums are then not checked; Data.Unverified
	// lists them.
	NonCanonical bool
	// MaxBytes, when not 0, bounds the pixels of each image file: a header
	// that claims more is refused before they are read. It matters for
	// non-canonical files only; the canonical ones are known.
	MaxBytes int64
}

// EnsureWith fetches what dir lacks (see Fetch), checks each file present
// only under its raw name against the canonical file's size and SHA-256,
// and loads the four (see Load). A raw file that differs is refused unless
// opt.NonCanonical; then it is listed in Data.Unverified.
//
// dir may also be one of the book's pickle files (PickleFiles), or a
// folder that holds mnist.pkl.gz and none of the IDX files: then that
// pickle is read (LoadPickle), nothing is fetched, and Data.Pickle names it.
func EnsureWith(dir string, log io.Writer, opt Options) (*Data, error) {
	if pkl := pickleIn(dir); pkl != "" {
		d, err := LoadPickle(pkl, opt.MaxBytes)
		if err == nil && log != nil && pkl != dir {
			fmt.Fprintf(log, "reading the book's %s (no IDX files in %s)\n", pkl, dir)
		}
		return d, err
	}
	if err := Fetch(dir, log); err != nil {
		return nil, fmt.Errorf("%w; or, with the book's file at hand, --data mnist.pkl.gz reads it", err)
	}
	var unverified []string
	for _, f := range Files {
		if _, err := safefile.Check(filepath.Join(dir, f.Name), "an IDX file"); !errors.Is(err, fs.ErrNotExist) {
			continue // the .gz name is there, and Fetch checked it
		}
		path := strings.TrimSuffix(filepath.Join(dir, f.Name), ".gz")
		ok, err := checkRaw(path, opt.NonCanonical)
		if err != nil {
			return nil, err
		}
		if !ok {
			unverified = append(unverified, path)
		}
	}
	d, err := load(dir, opt.MaxBytes)
	if err != nil {
		return nil, err
	}
	d.Unverified = unverified
	return d, nil
}

// pickleIn returns the pickle to read for dir: dir itself when it is a
// file that is not a folder, dir/mnist.pkl.gz when dir has that and no IDX
// file, else "".
func pickleIn(dir string) string {
	st, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	if !st.IsDir() {
		return dir
	}
	for _, f := range Files {
		for _, name := range []string{f.Name, strings.TrimSuffix(f.Name, ".gz")} {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				return ""
			}
		}
	}
	if pkl := filepath.Join(dir, PickleFiles[0]); fileExists(pkl) {
		return pkl
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkRaw reports whether the file at path is the canonical raw file of
// its name; one that is not is an error unless anyData is set. The size is
// checked first, so that a file of the wrong size is never read.
func checkRaw(path string, anyData bool) (bool, error) {
	want := canonicalRaw[filepath.Base(path)]
	f, st, err := safefile.Open(path, "an IDX file")
	if err != nil {
		return false, err
	}
	defer f.Close()
	const hint = "not the canonical MNIST file (--allow-noncanonical takes a dataset of your own)"
	if st.Size() != want.size {
		if anyData {
			return false, nil
		}
		return false, fmt.Errorf("%s: %d bytes, want %d: %s", path, st.Size(), want.size, hint)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, want.size)); err != nil {
		return false, pathError(path, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != want.sha256 {
		if anyData {
			return false, nil
		}
		return false, fmt.Errorf("%s: SHA-256 is %s, want %s: %s", path, sum, want.sha256, hint)
	}
	return true, nil
}
