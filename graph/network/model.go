package network

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/internal/safefile"
)

// modelJSON is the file format of the book's network2.py save/load:
// weights as out×in nested lists, biases as out×1 column vectors.
// What network2 cannot express goes in fields of its own, which
// network2.load ignores: the hidden layers' activation, a softmax output
// layer (whose cost is the log-likelihood, written as CrossEntropyCost so
// that network2 loads it), and λ.
type modelJSON struct {
	Sizes      []int         `json:"sizes"`
	Weights    [][][]float64 `json:"weights"`
	Biases     [][][]float64 `json:"biases"`
	Cost       string        `json:"cost"`
	Activation Activation    `json:"activation,omitempty"`
	Output     Output        `json:"output,omitempty"`
	Lambda     float64       `json:"lambda,omitempty"`
}

// fileSpec is the spec a model file's fields describe.
func fileSpec(m *modelJSON) (Spec, error) {
	cost, err := fileCost(m.Cost, m.Output)
	if err != nil {
		return Spec{}, err
	}
	s := Spec{Arch: Arch{Sizes: m.Sizes, Activation: m.Activation}, Objective: Objective{Cost: cost, Lambda: m.Lambda}}
	return s.Norm(), s.Check()
}

// MarshalJSON writes the network in network2.py's format.
func (n *Network) MarshalJSON() ([]byte, error) {
	if len(n.Layers) > 0 {
		return n.marshalLayers()
	}
	spec := n.Spec.Norm()
	cost, err := CostOf(spec.Cost)
	if err != nil {
		return nil, err
	}
	m := modelJSON{Sizes: n.Sizes, Cost: cost.File, Lambda: spec.Lambda}
	if spec.Activation != Sigmoid {
		m.Activation = spec.Activation
	}
	if spec.Output() != SigmoidOutput {
		m.Output = spec.Output()
	}
	for l := 0; l < n.NumParams(); l++ {
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

// UnmarshalJSON reads network2.py's format and checks every shape. It is
// strict: one object and nothing after it, numbers only where numbers
// belong (a null weight is refused, not read as 0).
func (n *Network) UnmarshalJSON(data []byte) error {
	arch, err := scanModel(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if len(arch.Layers) > 0 {
		net, err := unmarshalLayers(data)
		if err != nil {
			return err
		}
		*n = *net
		return nil
	}
	var m modelJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return shapeError(err)
	}
	if m.Sizes == nil {
		return fmt.Errorf(`missing "sizes"`)
	}
	if m.Weights == nil || m.Biases == nil {
		return fmt.Errorf(`missing "weights" or "biases"`)
	}
	spec, err := fileSpec(&m)
	if err != nil {
		return err
	}
	L := len(m.Sizes) - 1
	if len(m.Weights) != L || len(m.Biases) != L {
		return fmt.Errorf("sizes %v need %d weight and bias layers, have %d and %d", m.Sizes, L, len(m.Weights), len(m.Biases))
	}
	out := Network{Spec: spec}
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

// shapes are the nesting network2.py writes each field in.
var shapes = map[string]string{
	"sizes":   "a list of layer sizes, [784, 30, 10]",
	"weights": "a list per layer of rows of numbers, [[[w, ...], ...], ...]",
	"biases":  "a list per layer of one-number rows, [[[b], [b], ...], ...] (flat lists of biases are not network2.py's format)",
	"lambda":  "a number",
}

// shapeError words json's type error ("cannot unmarshal number into Go
// struct field modelJSON.biases of type []float64") for the person who
// wrote the file: the field, what it holds and the shape it needs.
func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	field, _, _ := strings.Cut(te.Field, ".")
	want, ok := shapes[field]
	if !ok {
		want = "a string"
	}
	return fmt.Errorf("%q holds a %s where it needs %s", field, te.Value, want)
}

// maxModelBytesPerParam bounds a model file's size by its parameter
// count: the longest float64 is 24 characters, and indentation and
// separators take a few more.
const maxModelBytesPerParam = 64

// ErrCheckpoint is Load's error for a training checkpoint given as a model.
var ErrCheckpoint = errors.New("a training checkpoint, not a model file")

// Load reads a model file written by Save or by network2.py. See LoadChecked.
func Load(path string) (*Network, error) { return LoadChecked(path, nil) }

// LoadChecked reads a model file, refusing anything but a regular file.
// It first reads the file as a stream of tokens, in little memory, to find
// its architecture (sizes or layers); check (when not nil) may then refuse
// it, say for the memory it needs, and a file larger than its parameters
// can explain is refused before it is read whole.
func LoadChecked(path string, check func(arch Arch) error) (*Network, error) {
	f, st, err := safefile.Open(path, "a model file (JSON)")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	arch, err := scanModel(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if check != nil {
		if err := check(arch); err != nil {
			return nil, err
		}
	}
	limit := int64(math.MaxInt64)
	if l := 1<<20 + maxModelBytesPerParam*arch.ParamCount(); l < 1<<62 {
		limit = int64(l)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := safefile.ReadAll(f, path, st.Size(), limit)
	if err != nil {
		return nil, err
	}
	var n Network
	if err := n.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &n, nil
}

// scanModel reads a model's JSON as tokens, keeping none but the sizes
// (or a network of layers' layers, without their parameters), which it
// returns checked. It refuses what json.Unmarshal would let through: data
// after the object, and null where a number or a list belongs. A
// checkpoint (an object with "model" and "position") is ErrCheckpoint.
func scanModel(r io.Reader) (Arch, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil {
		return Arch{}, syntaxError(err)
	} else if tok != json.Delim('{') {
		return Arch{}, fmt.Errorf("not a JSON object")
	}
	var sizes []int
	var layers []Layer
	keys := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Arch{}, syntaxError(err)
		}
		key, _ := tok.(string)
		keys[key] = true
		if key == "sizes" {
			if sizes, err = scanSizes(dec); err != nil {
				return Arch{}, err
			}
			continue
		}
		if key == "layers" {
			if layers, err = scanLayers(dec); err != nil {
				return Arch{}, err
			}
			continue
		}
		if err := skipValue(dec, key); err != nil {
			return Arch{}, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Arch{}, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Arch{}, fmt.Errorf("data after the model's JSON object")
	}
	if keys["model"] && keys["position"] {
		return Arch{}, ErrCheckpoint
	}
	if keys["layers"] {
		if keys["sizes"] || keys["weights"] || keys["biases"] {
			return Arch{}, fmt.Errorf(`"layers" with "sizes", "weights" or "biases": a model has layers or network2's sizes, not both`)
		}
		a := Arch{Layers: layers}
		return a, Spec{Arch: a}.Check()
	}
	if !keys["sizes"] {
		return Arch{}, fmt.Errorf(`missing "sizes"`)
	}
	if err := CheckSizes(sizes); err != nil {
		return Arch{}, err
	}
	return Arch{Sizes: sizes}, nil
}

// scanSizes reads the list of layer sizes, each a JSON integer that fits an int.
func scanSizes(dec *json.Decoder) ([]int, error) {
	var raw []json.Number
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf(`"sizes": want a list of integers: %w`, err)
	}
	sizes := make([]int, len(raw))
	for i, v := range raw {
		k, err := strconv.ParseInt(v.String(), 10, 0)
		if err != nil {
			return nil, fmt.Errorf(`"sizes": %s is not a layer size`, v)
		}
		sizes[i] = int(k)
	}
	return sizes, nil
}

// skipValue reads the value of key, refusing null anywhere in it.
func skipValue(dec *json.Decoder, key string) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		switch tok {
		case nil:
			return fmt.Errorf("null in %q: want numbers", key)
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// syntaxError words a tokenizer's error as json.Unmarshal would: a file
// cut short is "unexpected EOF".
func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case err == io.EOF:
		return io.ErrUnexpectedEOF
	case errors.As(err, &se) && (strings.Contains(se.Error(), "'N'") || strings.Contains(se.Error(), "'I'")):
		return fmt.Errorf("holds NaN or Infinity: the model diverged")
	}
	return err
}

// Save writes the network to path atomically: a temporary file in the same
// directory is written, synced and renamed, so a failed write leaves any
// previous file intact.
func (n *Network) Save(path string) error {
	data, err := n.MarshalJSON()
	if err != nil {
		return err
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
