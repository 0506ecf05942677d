package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// modelJSON is the file format of the book's network2.py save/load:
// weights as out×in nested lists, biases as out×1 column vectors.
type modelJSON struct {
	Sizes   []int         `json:"sizes"`
	Weights [][][]float64 `json:"weights"`
	Biases  [][][]float64 `json:"biases"`
	Cost    string        `json:"cost"`
}

// CostName is the cost recorded in model files, as network2.py names it.
const CostName = "QuadraticCost"

// MarshalJSON writes the network in network2.py's format.
func (n *Network) MarshalJSON() ([]byte, error) {
	m := modelJSON{Sizes: n.Sizes, Cost: CostName}
	for l := 0; l < n.Layers(); l++ {
		in, out := n.Sizes[l], n.Sizes[l+1]
		w := make([][]float64, out)
		b := make([][]float64, out)
		for j := 0; j < out; j++ {
			w[j] = n.Weights[l][j*in : (j+1)*in]
			b[j] = []float64{n.Biases[l][j]}
		}
		m.Weights = append(m.Weights, w)
		m.Biases = append(m.Biases, b)
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads network2.py's format and checks every shape.
func (n *Network) UnmarshalJSON(data []byte) error {
	var m modelJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		if bytes.Contains(data, []byte("NaN")) || bytes.Contains(data, []byte("Infinity")) {
			return fmt.Errorf("holds NaN or Infinity: the model diverged")
		}
		return err
	}
	if m.Sizes == nil {
		return fmt.Errorf(`missing "sizes"`)
	}
	if m.Weights == nil || m.Biases == nil {
		return fmt.Errorf(`missing "weights" or "biases"`)
	}
	if m.Cost != "" && m.Cost != CostName {
		return fmt.Errorf("cost %q: gputrain trains with %s only", m.Cost, CostName)
	}
	if err := CheckSizes(m.Sizes); err != nil {
		return err
	}
	L := len(m.Sizes) - 1
	if len(m.Weights) != L || len(m.Biases) != L {
		return fmt.Errorf("sizes %v need %d weight and bias layers, have %d and %d", m.Sizes, L, len(m.Weights), len(m.Biases))
	}
	out := Network{Sizes: m.Sizes}
	for l := 0; l < L; l++ {
		in, rows := m.Sizes[l], m.Sizes[l+1]
		if len(m.Weights[l]) != rows {
			return fmt.Errorf("weights[%d]: want %d rows, have %d", l, rows, len(m.Weights[l]))
		}
		if len(m.Biases[l]) != rows {
			return fmt.Errorf("biases[%d]: want %d rows, have %d", l, rows, len(m.Biases[l]))
		}
		w := make([]float64, 0, rows*in)
		b := make([]float64, 0, rows)
		for j := 0; j < rows; j++ {
			if len(m.Weights[l][j]) != in {
				return fmt.Errorf("weights[%d][%d]: want %d columns, have %d", l, j, in, len(m.Weights[l][j]))
			}
			if len(m.Biases[l][j]) != 1 {
				return fmt.Errorf("biases[%d][%d]: want 1 column, have %d", l, j, len(m.Biases[l][j]))
			}
			w = append(w, m.Weights[l][j]...)
			b = append(b, m.Biases[l][j][0])
		}
		out.Weights = append(out.Weights, w)
		out.Biases = append(out.Biases, b)
	}
	if err := out.Check(); err != nil {
		return err
	}
	*n = out
	return nil
}

// Load reads a model file written by Save or by network2.py.
func Load(path string) (*Network, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path leads the message already
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var n Network
	if err := n.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &n, nil
}

// Save writes the network to path atomically: a temporary file in the same
// directory is written, synced and renamed, so a failed write leaves any
// previous file intact.
func (n *Network) Save(path string) error {
	data, err := n.MarshalJSON()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileAtomic writes path through a temporary file in its directory,
// syncs and renames it. On any error the temporary file is removed and the
// previous content of path, if any, is untouched.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	if err := CheckWritable(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write in %s: %w", path, dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("%s: %w (the previous file, if any, is unchanged)", path, err)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// CheckWritable reports, before any work is done, why path could not be
// written: its directory is missing or not a directory, or path is one.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: directory %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	return nil
}
