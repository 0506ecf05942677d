package graph

import (
	"fmt"
	"math"
)

// Op is an instruction's operation. Every instruction writes Dst; A and B
// are buffer indices, Alpha and Beta scalars. What each op means, which
// operands it reads, how their shapes must agree, its portable CPU kernel
// are declared once, in opTable; its opcode in cuda/kernels.cu is its value.
type Op uint8

// The instruction set, in opTable's order.
const (
	// MatMul: Dst = Alpha·op(A)·op(B) + Beta·Dst, op(X) = Xᵀ when TransA/TransB.
	MatMul Op = iota
	// AddRow: Dst[i,j] = A[i,j] + B[0,j] (bias broadcast over the mini-batch).
	AddRow
	// Add, Sub, Mul: Dst = A ∘ B element-wise.
	Add
	Sub
	Mul
	// Affine: Dst = Alpha·A + Beta (scaling, negation, 1−x).
	Affine
	// Sigmoid: Dst = 1/(1+exp(−A)).
	Sigmoid
	// Square: Dst = A·A.
	Square
	// SumRows: Dst[0,j] = Alpha·Σᵢ A[i,j] + Beta·Dst[0,j].
	SumRows
	// SumAll: Dst[0,0] = Σ A.
	SumAll
	// Update: Dst = Beta·Dst − Alpha·A, the SGD step (Beta the L2 weight
	// decay 1 − ηλ/n, or 1) where it was not fused into the op that
	// computes the gradient.
	Update
	// XEnt: Dst[i] = Σⱼ max(z,0) − y·z + ln(1 + exp(−|z|)) over row i of
	// logits A = z and targets B = y: the cross-entropy
	// −Σⱼ[y·ln σ(z) + (1−y)·ln(1−σ(z))] of a sample, in a form that stays
	// finite where σ(z) rounds to 0 or 1.
	XEnt
	// Tanh: Dst = tanh(A), chapter 3's alternative hidden neuron.
	Tanh
	// Gate: Dst = 1 where A ≥ Beta, else 0: ReLU's gate, as Gorgonia's
	// Rectify builds max(z,0) = (z ≥ 0)·z and differentiates through it.
	Gate
	// Softmax: each row of Dst = exp(row of A − its max) / Σ of those: chapter
	// 3's softmax output layer. Alpha holds the row length.
	Softmax
	// NLL: Dst[i] = Σⱼ y·(ln Σₖ exp z[k] − z[j]) over row i of logits
	// A = z and one-hot targets B = y: the log-likelihood −ln softmax(z)_y
	// of a sample, finite for any z.
	NLL
	// The ops of chapter 6's layers (ops_conv.go), on tensors of rank 4
	// laid out as Gorgonia's: images × maps × height × width (NCHW).
	//
	// Im2Col: Dst (m, oh, ow, c·f·f) holds each output position's input
	// patch of A (m, c, h, w), for a valid f×f cross-correlation.
	Im2Col
	// Col2Im: Dst (m, c, h, w) = the sum into each input position of the
	// patch gradients A (m, oh, ow, c·f·f): Im2Col's transpose.
	Col2Im
	// Permute: Dst = A with its axes reordered: Alpha 0 takes (m, h, w, c)
	// to (m, c, h, w), Alpha 1 back.
	Permute
	// MaxPool: Dst (m, c, h/p, w/p) = the largest of each whole p×p window
	// of A (m, c, h, w); p is Alpha.
	MaxPool
	// MaxPoolBack: Dst (m, c, h, w) = the pooled gradient A (m, c, h/p,
	// w/p) passed to the first largest input of each window of B, the
	// pool's input (m, c, h, w); 0 elsewhere. p is Alpha.
	MaxPoolBack
	// AddMap: Dst[i] = A[i] + B[(i/Alpha) mod len(B)]: a bias per feature
	// map broadcast over the images and each map's Alpha positions.
	AddMap
	// SumInner: Dst[o] = Σₖ A[o·K + k], K = len(A)/len(Dst): the sum over
	// a tensor's last axis.
	SumInner
	// Dropout: Dst[u] = 1 if unit u is kept, else 0: network3's dropout
	// mask of layer Beta (its index in the network's layers) with p =
	// Alpha, drawn by graph/dropout from the step's key, which A (a Key
	// buffer the machine fills each step) holds.
	Dropout

	numOps // the size of opTable; not an op
)

// Form is an op's operand rule: which buffers it reads and how their
// shapes must agree with Dst's. Backends schedule by it as well.
type Form uint8

// The operand forms.
const (
	// FormMatMul: op(A) m×k, op(B) k×n, Dst m×n; reads Dst when Beta ≠ 0.
	FormMatMul Form = iota
	// FormRow: A m×n, B 1×n, Dst m×n; element i of Dst reads B[i mod n].
	FormRow
	// FormBinary: A, B and Dst of one length, element by element.
	FormBinary
	// FormUnary: A and Dst of one length, element by element.
	FormUnary
	// FormUpdate: A and Dst of one length; reads Dst too, element by element.
	FormUpdate
	// FormColSums: Dst is 1×cols(A); reads Dst when Beta ≠ 0.
	FormColSums
	// FormScalar: Dst has one element, a reduction of all of A.
	FormScalar
	// FormRows: A and Dst of one shape; a row of Dst reads its row of A
	// whole. The CPU kernel takes the row length from the instruction's
	// Alpha.
	FormRows
	// FormRowCosts: A and B of one shape, Dst a column: Dst[i] is a
	// reduction of row i of A and B (a sample's cost).
	FormRowCosts
	// The forms of chapter 6's ops, whose kernels read their operands'
	// shapes (ShapedKernel); ops_conv.go checks them.
	//
	// FormIm2Col: A (m, c, h, w), Dst (m, h−f+1, w−f+1, c·f·f).
	FormIm2Col
	// FormCol2Im: A (m, h−f+1, w−f+1, c·f·f), Dst (m, c, h, w).
	FormCol2Im
	// FormPermute: A and Dst rank 4, Dst's axes A's reordered as Alpha says.
	FormPermute
	// FormPool: A (m, c, h, w), Dst (m, c, h/p, w/p), p = Alpha.
	FormPool
	// FormPoolBack: A (m, c, h/p, w/p), B and Dst (m, c, h, w), p = Alpha.
	FormPoolBack
	// FormMap: A and Dst of one length, a whole number of len(B)·Alpha;
	// element i of Dst reads B[(i/Alpha) mod len(B)].
	FormMap
	// FormGroups: A of a whole number K of Dst's length; Dst[o] reduces
	// A[o·K … o·K+K−1].
	FormGroups
	// FormMask: A is a Key buffer (dropout.KeyWords elements), Dst any
	// length.
	FormMask
)

// Kernel is an op's CPU implementation over whole buffers: d = op(a, b)
// with the instruction's scalars. b is nil for an op that reads no B. It
// is the portable reference a backend may replace with a faster kernel of
// its own, never with different arithmetic.
type Kernel[T float32 | float64] func(d, a, b []T, alpha, beta T)

// OpDef is everything about one op. Adding an element-wise op is one entry
// in opTable plus its case in cuda/kernels.cu, whose opcode OP_<NAME> is
// the op's value: go generate ./cuda/ writes it into cuda/ops.h, and the
// op's operand form into the CUDA stand-in's launch checks.
type OpDef struct {
	Name string
	Form Form
	// CPU32 and CPU64 are the kernel in each dtype; nil for MatMul, which
	// each backend plans as a GEMM, and for an op with a shaped kernel.
	CPU32 Kernel[float32]
	CPU64 Kernel[float64]
	// Shaped32 and Shaped64 are the kernel of an op that needs its
	// operands' shapes (convolution and pooling), in each dtype.
	Shaped32 ShapedKernel[float32]
	Shaped64 ShapedKernel[float64]
	// Gorgonia, for a FormUnary op, names the Gorgonia element-wise op it
	// computes as one instruction, so that the compiler lowers that op
	// with no case of its own: a unary op's name ("tanh"), or the symbol
	// of a binary op whose second operand is a constant, which the
	// instruction takes as Beta (">="). Empty for the ops the compiler
	// emits itself.
	Gorgonia string
}

var opTable = [numOps]OpDef{
	MatMul:  {Name: "matmul", Form: FormMatMul},
	AddRow:  {Name: "addrow", Form: FormRow, CPU32: AddRowKernel[float32], CPU64: AddRowKernel[float64]},
	Add:     {Name: "add", Form: FormBinary, CPU32: add[float32], CPU64: add[float64]},
	Sub:     {Name: "sub", Form: FormBinary, CPU32: sub[float32], CPU64: sub[float64]},
	Mul:     {Name: "mul", Form: FormBinary, CPU32: mul[float32], CPU64: mul[float64]},
	Affine:  {Name: "affine", Form: FormUnary, CPU32: affine[float32], CPU64: affine[float64]},
	Sigmoid: {Name: "sigmoid", Form: FormUnary, CPU32: SigmoidKernel[float32], CPU64: SigmoidKernel[float64]},
	Square:  {Name: "square", Form: FormUnary, CPU32: square[float32], CPU64: square[float64]},
	SumRows: {Name: "sumrows", Form: FormColSums, CPU32: SumRowsKernel[float32], CPU64: SumRowsKernel[float64]},
	SumAll:  {Name: "sumall", Form: FormScalar, CPU32: sumAll[float32], CPU64: sumAll[float64]},
	Update:  {Name: "update", Form: FormUpdate, CPU32: update[float32], CPU64: update[float64]},
	XEnt:    {Name: "xent", Form: FormRowCosts, CPU32: xent[float32], CPU64: xent[float64]},
	Tanh:    {Name: "tanh", Form: FormUnary, CPU32: tanh[float32], CPU64: tanh[float64], Gorgonia: "tanh"},
	Gate:    {Name: "gate", Form: FormUnary, CPU32: gate[float32], CPU64: gate[float64], Gorgonia: ">="},
	Softmax: {Name: "softmax", Form: FormRows, CPU32: softmax[float32], CPU64: softmax[float64]},
	NLL:     {Name: "nll", Form: FormRowCosts, CPU32: nll[float32], CPU64: nll[float64]},

	Im2Col:      {Name: "im2col", Form: FormIm2Col, Shaped32: im2col[float32], Shaped64: im2col[float64]},
	Col2Im:      {Name: "col2im", Form: FormCol2Im, Shaped32: col2im[float32], Shaped64: col2im[float64]},
	Permute:     {Name: "permute", Form: FormPermute, Shaped32: permute[float32], Shaped64: permute[float64]},
	MaxPool:     {Name: "maxpool", Form: FormPool, Shaped32: maxPool[float32], Shaped64: maxPool[float64]},
	MaxPoolBack: {Name: "maxpoolback", Form: FormPoolBack, Shaped32: maxPoolBack[float32], Shaped64: maxPoolBack[float64]},
	AddMap:      {Name: "addmap", Form: FormMap, CPU32: addMap[float32], CPU64: addMap[float64]},
	SumInner:    {Name: "suminner", Form: FormGroups, CPU32: sumInner[float32], CPU64: sumInner[float64]},
	Dropout:     {Name: "dropout", Form: FormMask, CPU32: dropoutMask[float32], CPU64: dropoutMask[float64]},
}

// gorgoniaOp is the op whose table entry names the Gorgonia element-wise
// op name (see OpDef.Gorgonia).
func gorgoniaOp(name string) (Op, bool) {
	for o, d := range opTable {
		if d.Gorgonia != "" && d.Gorgonia == name {
			return Op(o), true
		}
	}
	return 0, false
}

// opNamed is the op of the given name.
func opNamed(name string) (Op, bool) {
	for o, d := range opTable {
		if d.Name == name {
			return Op(o), true
		}
	}
	return 0, false
}

// Ops lists every op of the instruction set.
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// Def returns the op's definition; an op outside the set has none (nil).
func (o Op) Def() *OpDef {
	if o >= numOps {
		return nil
	}
	return &opTable[o]
}

func (o Op) String() string {
	if d := o.Def(); d != nil {
		return d.Name
	}
	return fmt.Sprintf("op%d", uint8(o))
}

// ReadsB reports whether instructions of the op read their B operand.
func (f Form) ReadsB() bool {
	return f == FormMatMul || f == FormRow || f == FormBinary || f == FormRowCosts ||
		f == FormPoolBack || f == FormMap
}

// Reads lists the buffers an instruction reads.
func (in Instr) Reads() []int {
	d := in.Op.Def()
	if d == nil {
		return nil
	}
	r := []int{in.A}
	if d.Form.ReadsB() {
		r = append(r, in.B)
	}
	switch d.Form {
	case FormUpdate:
		r = append(r, in.Dst)
	case FormMatMul, FormColSums:
		if in.Beta != 0 {
			r = append(r, in.Dst)
		}
	}
	return r
}

// check reports whether an instruction's operands have the shapes its
// op's form requires.
func (p *Program) check(in Instr) error {
	def := in.Op.Def()
	if def == nil {
		return fmt.Errorf("unknown op")
	}
	d, a := p.Bufs[in.Dst], p.Bufs[in.A]
	var b Buf
	if def.Form.ReadsB() {
		b = p.Bufs[in.B]
	}
	switch def.Form {
	case FormMatMul:
		m, k := p.opShape(in.A, in.TransA)
		k2, n := p.opShape(in.B, in.TransB)
		if k != k2 || d.Rows != m || d.Cols != n {
			return fmt.Errorf("%dx%d · %dx%d into %dx%d", m, k, k2, n, d.Rows, d.Cols)
		}
	case FormRow:
		if b.Rows != 1 || b.Cols != a.Cols || d.Rows != a.Rows || d.Cols != a.Cols {
			return fmt.Errorf("shapes %dx%d + row %dx%d into %dx%d", a.Rows, a.Cols, b.Rows, b.Cols, d.Rows, d.Cols)
		}
	case FormBinary:
		if a.Len() != d.Len() || b.Len() != d.Len() {
			return fmt.Errorf("lengths %d, %d into %d", a.Len(), b.Len(), d.Len())
		}
	case FormUnary, FormUpdate:
		if a.Len() != d.Len() {
			return fmt.Errorf("length %d into %d", a.Len(), d.Len())
		}
	case FormColSums:
		if d.Rows != 1 || d.Cols != a.Cols {
			return fmt.Errorf("column sums of %dx%d into %dx%d", a.Rows, a.Cols, d.Rows, d.Cols)
		}
	case FormScalar:
		if d.Len() != 1 {
			return fmt.Errorf("sum into %d elements", d.Len())
		}
	case FormRows:
		if d.Rows != a.Rows || d.Cols != a.Cols || in.Alpha != float64(a.Cols) {
			return fmt.Errorf("rows of %dx%d into %dx%d with row length %v", a.Rows, a.Cols, d.Rows, d.Cols, in.Alpha)
		}
	case FormRowCosts:
		if b.Rows != a.Rows || b.Cols != a.Cols || d.Rows != a.Rows || d.Cols != 1 {
			return fmt.Errorf("rows of %dx%d and %dx%d into %dx%d", a.Rows, a.Cols, b.Rows, b.Cols, d.Rows, d.Cols)
		}
	default:
		return checkConv(def.Form, in, d, a, b)
	}
	return nil
}

// The portable kernels. Scalars arrive rounded to T, as the CUDA kernels
// round them, so both backends compute the same products.

// AddRowKernel is addrow, b added to every row of a: the op table's, and
// the reference for the CPU backend's vector kernel.
func AddRowKernel[T float32 | float64](d, a, b []T, _, _ T) {
	n := len(b)
	for i := 0; i < len(d); i += n {
		add(d[i:i+n], a[i:i+n], b, 0, 0)
	}
}

func add[T float32 | float64](d, a, b []T, _, _ T) {
	a, b = a[:len(d)], b[:len(d)]
	for i := range d {
		d[i] = a[i] + b[i]
	}
}

func sub[T float32 | float64](d, a, b []T, _, _ T) {
	a, b = a[:len(d)], b[:len(d)]
	for i := range d {
		d[i] = a[i] - b[i]
	}
}

func mul[T float32 | float64](d, a, b []T, _, _ T) {
	a, b = a[:len(d)], b[:len(d)]
	for i := range d {
		d[i] = a[i] * b[i]
	}
}

func affine[T float32 | float64](d, a, _ []T, alpha, beta T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = T(alpha*a[i]) + beta
	}
}

// SigmoidKernel is σ through float64's exp: the reference for faster σ
// kernels (the CPU backend's SIMD one), and float64's σ.
func SigmoidKernel[T float32 | float64](d, a, _ []T, _, _ T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = T(1 / (1 + math.Exp(-float64(a[i]))))
	}
}

func square[T float32 | float64](d, a, _ []T, _, _ T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = a[i] * a[i]
	}
}

// SumRowsKernel is sumrows, d[j] = alpha·Σᵢ a[i,j] + beta·d[j] (each sum
// in row order from zero), the bias gradient fused with its update: the
// op table's, and the reference for the CPU backend's vector kernel.
func SumRowsKernel[T float32 | float64](d, a, _ []T, alpha, beta T) {
	n := len(d)
	for j := range d {
		var s T
		for i := j; i < len(a); i += n {
			s += a[i]
		}
		if beta == 0 {
			d[j] = alpha * s
		} else {
			d[j] = T(alpha*s) + T(beta*d[j])
		}
	}
}

// sumAll sums in float64 whatever the dtype: the cost of a mini-batch.
func sumAll[T float32 | float64](d, a, _ []T, _, _ T) {
	var s float64
	for _, v := range a {
		s += float64(v)
	}
	d[0] = T(s)
}

func update[T float32 | float64](d, a, _ []T, alpha, beta T) {
	a = a[:len(d)]
	if beta == 1 {
		for i := range d {
			d[i] -= T(alpha * a[i])
		}
		return
	}
	for i := range d {
		d[i] = T(beta*d[i]) - T(alpha*a[i])
	}
}

// xent is computed in float64 whatever the dtype, as σ is. A row's
// Σ ln(1 + e^−|z|) is the log of the product of its terms, each in (1, 2]:
// one log a sample, not one an output.
func xent[T float32 | float64](d, a, b []T, _, _ T) {
	cols := len(a) / len(d)
	for r := range d {
		var s float64
		p := 1.0
		for j := r * cols; j < (r+1)*cols; j++ {
			z, y := float64(a[j]), float64(b[j])
			s -= float64(y * z)
			if z > 0 {
				s += z
				z = -z
			}
			p *= 1 + math.Exp(z) // z ≤ 0 here: e^−|z|
		}
		d[r] = T(s + math.Log(p))
	}
}

// tanh is computed in float64 whatever the dtype, as σ is.
func tanh[T float32 | float64](d, a, _ []T, _, _ T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = T(math.Tanh(float64(a[i])))
	}
}

func gate[T float32 | float64](d, a, _ []T, _, beta T) {
	a = a[:len(d)]
	for i := range d {
		if a[i] >= beta {
			d[i] = 1
		} else {
			d[i] = 0
		}
	}
}

// softmax is computed in float64 whatever the dtype, as σ is.
func softmax[T float32 | float64](d, a, _ []T, cols, _ T) {
	n := int(cols)
	for r := 0; r+n <= len(d); r += n {
		row, out := a[r:r+n], d[r:r+n]
		hi, sum := expSum(row)
		for j, v := range row {
			out[j] = T(math.Exp(float64(v)-hi) / sum)
		}
	}
}

// nll is computed in float64 whatever the dtype.
func nll[T float32 | float64](d, a, b []T, _, _ T) {
	cols := len(a) / len(d)
	for r := range d {
		row, y := a[r*cols:(r+1)*cols], b[r*cols:(r+1)*cols]
		hi, sum := expSum(row)
		lse := hi + math.Log(sum)
		var c float64
		for j, v := range row {
			c += float64(float64(y[j]) * (lse - float64(v)))
		}
		d[r] = T(c)
	}
}

// expSum returns a row's largest value and Σ exp(v − it), which cannot
// overflow: softmax's denominator and ln Σ exp, less the largest.
func expSum[T float32 | float64](row []T) (hi, sum float64) {
	hi = float64(row[0])
	for _, v := range row {
		if float64(v) > hi {
			hi = float64(v)
		}
	}
	for _, v := range row {
		sum += math.Exp(float64(v) - hi)
	}
	return hi, sum
}
