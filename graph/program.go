// Package graph builds the networks of chapters 1 and 3 of Nielsen's
// "Neural Networks and Deep Learning" (network.py and network2.py: sigmoid,
// tanh or ReLU layers; quadratic, cross-entropy or softmax log-likelihood
// cost; L2): the Gorgonia expression graph of one mini-batch (forward pass
// and cost), the gradients Gorgonia derives from it, and the compiler that
// turns that graph plus the book's SGD step (with network2's weight decay)
// into a Program that a backend (cpu, cuda) runs.
package graph

import (
	"fmt"
	"github.com/gputrain/gputrain/graph/network"
	"strings"

	"gorgonia.org/tensor"
)

// Dtype is the element type a program computes in.
type Dtype uint8

// The two dtypes gputrain trains in.
const (
	Float32 Dtype = iota
	Float64
)

func (d Dtype) String() string {
	if d == Float64 {
		return "float64"
	}
	return "float32"
}

// MarshalText writes the dtype as --dtype names it, for the checkpoint.
func (d Dtype) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what ParseDtype reads; it makes a Dtype a flag
// (flag.TextVar) and a checkpoint field.
func (d *Dtype) UnmarshalText(text []byte) error {
	v, err := ParseDtype(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Tensor is the matching Gorgonia dtype.
func (d Dtype) Tensor() tensor.Dtype {
	if d == Float64 {
		return tensor.Float64
	}
	return tensor.Float32
}

// ParseDtype reads "float32" or "float64".
func ParseDtype(s string) (Dtype, error) {
	switch s {
	case "float32":
		return Float32, nil
	case "float64":
		return Float64, nil
	}
	return 0, fmt.Errorf("dtype %q: want float32 or float64", s)
}

// BufKind says where a buffer's contents come from.
type BufKind uint8

// Buffer kinds.
const (
	Temp  BufKind = iota // written by an instruction each step
	Input                // X or Y, filled by the backend before each step
	Param                // a weight or bias, persistent across steps
)

// Buf is a row-major Rows×Cols matrix; vectors are 1×n. A tensor of
// higher rank has its Shape (Rows the first axis, Cols the product of the
// rest: the 2-D view a matrix product takes); Shape is nil for a matrix.
// An alias buffer (Alias ≥ 0) is a reshaped view of another buffer's
// storage.
type Buf struct {
	Name       string
	Rows, Cols int
	Kind       BufKind
	Alias      int
	Shape      []int
}

// Dims is the buffer's shape: Shape, or Rows×Cols.
func (b Buf) Dims() []int {
	if b.Shape != nil {
		return b.Shape
	}
	return []int{b.Rows, b.Cols}
}

// Len is the number of elements.
func (b Buf) Len() int { return b.Rows * b.Cols }

// Instr is one step of a program.
type Instr struct {
	Op             Op
	Dst, A, B      int
	TransA, TransB bool
	Alpha, Beta    float64
}

// Program is a compiled mini-batch step (or forward pass) for one batch
// size: a fixed list of instructions over a fixed set of buffers, so a
// backend allocates everything once and reuses it every step.
type Program struct {
	Spec  network.Spec // normalised
	Batch int
	Dtype Dtype
	Eta   float64 // the learning rate folded into the update; 0 in a forward program

	Bufs   []Buf
	Instrs []Instr

	X, Y int // inputs (m×784, m×10); Y is -1 in a forward program
	// Key is the input the machine fills each step with the dropout masks'
	// key (dropout.StepKey of the run's seed and step, by dropout.SetKey);
	// -1 in a program without dropout.
	Key             int
	Weights, Biases []int // parameters by layer
	Output          int   // the last layer's activations, m×10
	// Cost is the mini-batch's mean cost without the L2 term, 1×1: the
	// quadratic (1/2m)·Σ‖y−a‖², or network2's cross-entropy or
	// log-likelihood fn over m; -1 in a forward program.
	Cost int
}

// Storage returns the buffer whose memory b uses (itself unless an alias).
func (p *Program) Storage(b int) int {
	for p.Bufs[b].Alias >= 0 {
		b = p.Bufs[b].Alias
	}
	return b
}

// Shape of op(A) for a matmul operand.
func (p *Program) opShape(b int, trans bool) (rows, cols int) {
	if trans {
		return p.Bufs[b].Cols, p.Bufs[b].Rows
	}
	return p.Bufs[b].Rows, p.Bufs[b].Cols
}

// MatMulDims returns m, n, k of a MatMul: Dst is m×n, op(A) m×k, op(B) k×n.
func (p *Program) MatMulDims(in Instr) (m, n, k int) {
	m, k = p.opShape(in.A, in.TransA)
	_, n = p.opShape(in.B, in.TransB)
	return m, n, k
}

// Validate checks every instruction's operand shapes against its op's
// form, so a backend can run a validated program without checking again.
func (p *Program) Validate() error {
	for i, in := range p.Instrs {
		for _, b := range append(in.Reads(), in.Dst) {
			if b < 0 || b >= len(p.Bufs) {
				return fmt.Errorf("instr %d (%v): buffer %d out of range", i, in.Op, b)
			}
		}
		if err := p.check(in); err != nil {
			return fmt.Errorf("instr %d (%v): %w", i, in.Op, err)
		}
	}
	return nil
}

// String lists the program, one instruction a line, for debugging and docs.
func (p *Program) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "program %v batch=%d dtype=%v eta=%g\n", p.Spec, p.Batch, p.Dtype, p.Eta)
	name := func(b int) string {
		if s := p.Bufs[b].Shape; s != nil {
			return fmt.Sprintf("%s%v", p.Bufs[b].Name, s)
		}
		return fmt.Sprintf("%s[%dx%d]", p.Bufs[b].Name, p.Bufs[b].Rows, p.Bufs[b].Cols)
	}
	for _, in := range p.Instrs {
		fmt.Fprintf(&s, "  %-8v %s ← %s", in.Op, name(in.Dst), name(in.A))
		if d := in.Op.Def(); d != nil && d.Form.ReadsB() {
			fmt.Fprintf(&s, ", %s", name(in.B))
		}
		if in.TransA || in.TransB {
			fmt.Fprintf(&s, " transA=%v transB=%v", in.TransA, in.TransB)
		}
		if in.Alpha != 0 || in.Beta != 0 {
			fmt.Fprintf(&s, " α=%g β=%g", in.Alpha, in.Beta)
		}
		s.WriteByte('\n')
	}
	return s.String()
}
