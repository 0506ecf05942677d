package graph

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"

	G "gorgonia.org/gorgonia"
)

// Step is the SGD step a training program folds in: network2.py's
// w ← (1 − ηλ/n)·w − η·∂C/∂w, C being the mean cost over the mini-batch
// (so this is the book's w − (η/m)·Σₓ∂Cₓ/∂w), λ the spec's, n the size of
// the training set; biases are not regularised.
//
// A network of layers takes network3.py's L2 rule instead: its cost's term
// ½·λ·Σw² is divided by the number of training mini-batches, n/Batch
// (network3's num_training_batches), so the decay is 1 − ηλ/(n/Batch).
type Step struct {
	Eta   float64
	N     int // training-set size; needed when λ > 0
	Batch int // the full mini-batch size; needed when λ > 0 in a network of layers
}

// decay is the factor (1 − ηλ/n, or network3's 1 − ηλ/batches) the
// weights are scaled by each step.
func (s Step) decay(spec network.Spec) float64 {
	if spec.Lambda == 0 || s.Eta == 0 { // no decay, or no step (a forward or monitor program)
		return 1
	}
	if len(spec.Layers) > 0 {
		return 1 - s.Eta*spec.Lambda/float64(s.N/s.Batch)
	}
	return 1 - s.Eta*spec.Lambda/float64(s.N)
}

// Compile builds the graph of a training step for spec and batch size m,
// differentiates it with Gorgonia and compiles it with the SGD step.
func Compile(spec network.Spec, m int, dt Dtype, step Step) (*Program, error) {
	if !(step.Eta > 0) {
		return nil, fmt.Errorf("eta %v: must be > 0", step.Eta)
	}
	if spec.Lambda != 0 && step.N < 1 {
		return nil, fmt.Errorf("lambda %v: the L2 step needs the training-set size, have %d", spec.Lambda, step.N)
	}
	if spec.Lambda != 0 && len(spec.Layers) > 0 && (step.Batch < 1 || step.N/step.Batch < 1) {
		return nil, fmt.Errorf("lambda %v: network3's L2 step needs at least one full mini-batch of %d in %d images", spec.Lambda, step.Batch, step.N)
	}
	gr, err := Build(spec, m, dt, true)
	if err != nil {
		return nil, err
	}
	return Lower(gr, m, dt, step)
}

// CompileForward compiles the forward pass alone, for evaluation.
func CompileForward(spec network.Spec, m int, dt Dtype) (*Program, error) {
	gr, err := Build(spec, m, dt, false)
	if err != nil {
		return nil, err
	}
	return Lower(gr, m, dt, Step{})
}

// CompileMonitor compiles the forward pass and the mean cost over a batch
// of m, without any update: what network2.py's monitors measure.
func CompileMonitor(spec network.Spec, m int, dt Dtype) (*Program, error) {
	gr, err := build(spec, m, dt, true, false)
	if err != nil {
		return nil, err
	}
	return Lower(gr, m, dt, Step{})
}

// value is what a graph node lowers to: a buffer (possibly viewed
// transposed), a scalar constant broadcast to the node's shape, or a row
// vector broadcast down the rows.
type value struct {
	kind  vkind
	buf   int
	trans bool
	c     float64
	inner int // a vRow's run of equal elements (>1 for a bias per feature map; conv.go)
}

type vkind uint8

const (
	vBuf vkind = iota
	vConst
	vRow
)

type lowerer struct {
	p        *Program
	vals     map[*G.Node]value
	producer map[int]int // buffer → index of the instruction that writes it
	sigmoid  map[int]int // buffer z → buffer holding σ(z)
}

// Lower translates the graph into a program. It follows every node that the
// outputs need, folds transposes into matrix products, constants and
// broadcasts into scalar operands, rewrites σ(−z) as 1−σ(z) where σ(z) is
// already computed, appends the SGD update (when eta > 0), fuses each
// update into the product or sum that computes its gradient where that is
// the gradient's only use, and drops every instruction nothing needs.
func Lower(gr *Graph, m int, dt Dtype, step Step) (*Program, error) {
	p := &Program{Spec: gr.Spec, Batch: m, Dtype: dt, Eta: step.Eta, Y: -1, Cost: -1, Key: -1}
	lw := &lowerer{p: p, vals: map[*G.Node]value{}, producer: map[int]int{}, sigmoid: map[int]int{}}

	leaf := func(n *G.Node, name string, kind BufKind) int {
		r, c := dims2(n)
		b := lw.newBuf(name, r, c, kind)
		lw.p.Bufs[b].Shape = shapeOf(n)
		lw.vals[n] = value{kind: vBuf, buf: b}
		return b
	}
	p.X = leaf(gr.X, "X", Input)
	if gr.Y != nil {
		p.Y = leaf(gr.Y, "Y", Input)
	}
	for l := range gr.Weights {
		p.Weights = append(p.Weights, leaf(gr.Weights[l], fmt.Sprintf("w%d", l+1), Param))
		p.Biases = append(p.Biases, leaf(gr.Biases[l], fmt.Sprintf("b%d", l+1), Param))
	}

	lw.masks(gr.Masks)
	for _, n := range postorder(gr.G, gr.roots()) {
		if _, done := lw.vals[n]; done {
			continue
		}
		v, err := lw.lower(gr.G, n)
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", n.Name(), err)
		}
		lw.vals[n] = v
	}

	out, err := lw.materialize(lw.vals[gr.Output])
	if err != nil {
		return nil, err
	}
	p.Output = out
	if gr.Y != nil {
		if p.Cost, err = lw.cost(gr); err != nil {
			return nil, err
		}
		decay := step.decay(gr.Spec)
		for l := range gr.WeightGrads {
			if err := lw.update(p.Weights[l], lw.vals[gr.WeightGrads[l]], decay); err != nil {
				return nil, fmt.Errorf("weights %d: %w", l+1, err)
			}
			if err := lw.update(p.Biases[l], lw.vals[gr.BiasGrads[l]], 1); err != nil {
				return nil, fmt.Errorf("biases %d: %w", l+1, err)
			}
		}
		if len(gr.WeightGrads) > 0 {
			lw.fuseUpdates()
		}
	}
	lw.eliminateDead()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("internal error: compiled program is inconsistent: %w", err)
	}
	return p, nil
}

func (lw *lowerer) newBuf(name string, rows, cols int, kind BufKind) int {
	lw.p.Bufs = append(lw.p.Bufs, Buf{Name: name, Rows: rows, Cols: cols, Kind: kind, Alias: -1})
	return len(lw.p.Bufs) - 1
}

func (lw *lowerer) emit(in Instr) int {
	lw.p.Instrs = append(lw.p.Instrs, in)
	lw.producer[in.Dst] = len(lw.p.Instrs) - 1
	return in.Dst
}

// temp makes a buffer shaped like node n for the result of op.
func (lw *lowerer) temp(n *G.Node, op Op) int {
	r, c := dims2(n)
	b := lw.newBuf(fmt.Sprintf("%v%d", op, len(lw.p.Bufs)), r, c, Temp)
	lw.p.Bufs[b].Shape = shapeOf(n)
	return b
}

// reshape views a buffer as rows×cols.
func (lw *lowerer) reshape(a value, rows, cols int) value {
	if a.kind != vBuf || a.trans {
		return a
	}
	src := lw.p.Bufs[a.buf]
	if rows == src.Rows && cols == src.Cols {
		return a
	}
	b := lw.newBuf(fmt.Sprintf("reshape%d", len(lw.p.Bufs)), rows, cols, src.Kind)
	lw.p.Bufs[b].Alias = a.buf
	return value{kind: vBuf, buf: b}
}

// matmul emits op(a)·op(b) into a rows×cols buffer, folding each
// operand's own transposition into the product's flags.
func (lw *lowerer) matmul(a, b value, transA, transB bool, rows, cols int) (value, error) {
	if a.kind != vBuf || b.kind != vBuf {
		return value{}, fmt.Errorf("matrix product of a constant or broadcast value")
	}
	dst := lw.newBuf(fmt.Sprintf("%v%d", MatMul, len(lw.p.Bufs)), rows, cols, Temp)
	return value{kind: vBuf, buf: lw.emit(Instr{Op: MatMul, Dst: dst, A: a.buf, B: b.buf,
		TransA: transA != a.trans, TransB: transB != b.trans, Alpha: 1})}, nil
}

// sumAll emits the sum of every element of a.
func (lw *lowerer) sumAll(a value) (value, error) {
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("sum of a broadcast or transposed value")
	}
	dst := lw.newBuf(fmt.Sprintf("%v%d", SumAll, len(lw.p.Bufs)), 1, 1, Temp)
	return value{kind: vBuf, buf: lw.emit(Instr{Op: SumAll, Dst: dst, A: a.buf})}, nil
}

// sumRows emits the column sums of a, cols of them.
func (lw *lowerer) sumRows(a value, cols int) (value, error) {
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("sum of a broadcast or transposed value")
	}
	dst := lw.newBuf(fmt.Sprintf("%v%d", SumRows, len(lw.p.Bufs)), 1, cols, Temp)
	return value{kind: vBuf, buf: lw.emit(Instr{Op: SumRows, Dst: dst, A: a.buf, Alpha: 1})}, nil
}

// fn is an element-wise function of the graph in the compiler's own
// terms; gorgonia.go translates Gorgonia's op names into them.
type fn uint8

// The element-wise functions the compiler lowers: unary, then binary.
const (
	fnNeg fn = iota
	fnSquare
	fnSigmoid
	fnAdd
	fnSub
	fnMul
	fnDiv
)

var fnNames = [...]string{"neg", "square", "sigmoid", "+", "-", "⊙", "÷"}

func (f fn) String() string { return fnNames[f] }

func (lw *lowerer) unary(n *G.Node, f fn, a value) (value, error) {
	if a.kind == vConst {
		switch f {
		case fnNeg:
			return value{kind: vConst, c: -a.c}, nil
		case fnSquare:
			return value{kind: vConst, c: a.c * a.c}, nil
		}
		return value{}, fmt.Errorf("%v of a constant", f)
	}
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("%v of a broadcast or transposed value", f)
	}
	switch f {
	case fnNeg:
		return lw.affine(n, a.buf, -1, 0), nil
	case fnSquare:
		return lw.direct(n, Square, a, 0)
	case fnSigmoid:
		// Gorgonia differentiates σ as σ(z)·σ(−z); σ(−z) = 1−σ(z) saves an exp per element.
		if q, ok := lw.producer[a.buf]; ok {
			in := lw.p.Instrs[q]
			if in.Op == Affine && in.Alpha == -1 && in.Beta == 0 {
				if s, ok := lw.sigmoid[in.A]; ok {
					return lw.affine(n, s, -1, 1), nil
				}
			}
		}
		if s, ok := lw.sigmoid[a.buf]; ok {
			return value{kind: vBuf, buf: s}, nil
		}
		dst := lw.emit(Instr{Op: Sigmoid, Dst: lw.temp(n, Sigmoid), A: a.buf})
		lw.sigmoid[a.buf] = dst
		return value{kind: vBuf, buf: dst}, nil
	}
	return value{}, fmt.Errorf("unary op %v is not supported", f)
}

// direct emits op, a FormUnary op, of a with the scalar beta: a Gorgonia
// element-wise op computed as it stands (OpDef.Gorgonia, or Square).
func (lw *lowerer) direct(n *G.Node, op Op, a value, beta float64) (value, error) {
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("%v of a constant, broadcast or transposed value", op)
	}
	return value{kind: vBuf, buf: lw.emit(Instr{Op: op, Dst: lw.temp(n, op), A: a.buf, Beta: beta})}, nil
}

func (lw *lowerer) binary(n *G.Node, f fn, a, b value) (value, error) {
	if a.trans || b.trans {
		return value{}, fmt.Errorf("element-wise %v of a transposed value", f)
	}
	switch {
	case a.kind == vConst && b.kind == vConst:
		switch f {
		case fnAdd:
			return value{kind: vConst, c: a.c + b.c}, nil
		case fnSub:
			return value{kind: vConst, c: a.c - b.c}, nil
		case fnMul:
			return value{kind: vConst, c: a.c * b.c}, nil
		case fnDiv:
			return value{kind: vConst, c: a.c / b.c}, nil
		}
	case a.kind == vBuf && b.kind == vConst:
		switch f {
		case fnAdd:
			return lw.affine(n, a.buf, 1, b.c), nil
		case fnSub:
			return lw.affine(n, a.buf, 1, -b.c), nil
		case fnMul:
			return lw.affine(n, a.buf, b.c, 0), nil
		case fnDiv:
			return lw.affine(n, a.buf, 1/b.c, 0), nil
		}
	case a.kind == vConst && b.kind == vBuf:
		switch f {
		case fnAdd:
			return lw.affine(n, b.buf, 1, a.c), nil
		case fnSub:
			return lw.affine(n, b.buf, -1, a.c), nil
		case fnMul:
			return lw.affine(n, b.buf, a.c, 0), nil
		}
	case f == fnAdd && (a.kind == vRow) != (b.kind == vRow) && a.kind != vConst && b.kind != vConst:
		if a.kind == vRow {
			a, b = b, a
		}
		if b.inner > 1 || lw.p.Bufs[a.buf].Cols != lw.p.Bufs[b.buf].Len() {
			dst := lw.temp(n, AddMap)
			return value{kind: vBuf, buf: lw.emit(Instr{Op: AddMap, Dst: dst, A: a.buf, B: b.buf, Alpha: float64(max(1, b.inner))})}, nil
		}
		dst := lw.temp(n, AddRow)
		return value{kind: vBuf, buf: lw.emit(Instr{Op: AddRow, Dst: dst, A: a.buf, B: b.buf})}, nil
	case a.kind == vBuf && b.kind == vBuf:
		op, ok := map[fn]Op{fnAdd: Add, fnSub: Sub, fnMul: Mul}[f]
		if ok {
			return value{kind: vBuf, buf: lw.emit(Instr{Op: op, Dst: lw.temp(n, op), A: a.buf, B: b.buf})}, nil
		}
	}
	return value{}, fmt.Errorf("element-wise %v of these operands is not supported", f)
}

// softmax emits the row-wise softmax of a.
func (lw *lowerer) softmax(n *G.Node, a value) (value, error) {
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("softmax of a broadcast or transposed value")
	}
	cols := lw.p.Bufs[a.buf].Cols
	return value{kind: vBuf, buf: lw.emit(Instr{Op: Softmax, Dst: lw.temp(n, Softmax), A: a.buf, Alpha: float64(cols)})}, nil
}

// affine emits Alpha·src + Beta, composed with src's own affine producer so
// chains like neg(0.125·(2·d)) become one instruction.
func (lw *lowerer) affine(n *G.Node, src int, alpha, beta float64) value {
	if q, ok := lw.producer[src]; ok && lw.p.Instrs[q].Op == Affine {
		in := lw.p.Instrs[q]
		src, alpha, beta = in.A, alpha*in.Alpha, float64(alpha*in.Beta)+beta
	}
	if alpha == 1 && beta == 0 {
		return value{kind: vBuf, buf: src}
	}
	return value{kind: vBuf, buf: lw.emit(Instr{Op: Affine, Dst: lw.temp(n, Affine), A: src, Alpha: alpha, Beta: beta})}
}

// materialize makes v a plain buffer.
func (lw *lowerer) materialize(v value) (int, error) {
	if v.kind != vBuf || v.trans {
		return 0, fmt.Errorf("an output is a constant, broadcast or transposed value")
	}
	return v.buf, nil
}

// update appends param ← decay·param − η·grad. A gradient that Gorgonia leaves
// transposed (∂C/∂w = (aᵀ·δ)ᵀ) is computed transposed instead: (AB)ᵀ = BᵀAᵀ.
func (lw *lowerer) update(param int, g value, decay float64) error {
	if g.kind == vBuf && g.trans {
		q, ok := lw.producer[g.buf]
		if !ok || lw.p.Instrs[q].Op != MatMul || lw.readers(g.buf) != 0 {
			return fmt.Errorf("transposed gradient not produced by a private matrix product")
		}
		in := &lw.p.Instrs[q]
		in.A, in.B, in.TransA, in.TransB = in.B, in.A, !in.TransB, !in.TransA
		b := &lw.p.Bufs[g.buf]
		b.Rows, b.Cols = b.Cols, b.Rows
		g.trans = false
	}
	if g.kind != vBuf {
		return fmt.Errorf("gradient is a constant or broadcast value")
	}
	lw.p.Instrs = append(lw.p.Instrs, Instr{Op: Update, Dst: param, A: g.buf, Alpha: lw.p.Eta, Beta: decay})
	return nil
}

// cost appends the instructions of the mini-batch's mean cost where the
// graph has no node for it (a cost whose table entry gives δ and names the
// op of a sample's cost), and returns its buffer.
func (lw *lowerer) cost(gr *Graph) (int, error) {
	if gr.Cost != nil {
		return lw.materialize(lw.vals[gr.Cost])
	}
	z, err := lw.materialize(lw.vals[gr.Logits])
	if err != nil {
		return 0, err
	}
	d, err := network.CostOf(gr.Spec.Cost)
	if err != nil {
		return 0, err
	}
	op, ok := opNamed(d.RowCost)
	if !ok {
		return 0, fmt.Errorf("cost %s: no node for its value and no row-cost op %q", d.Name, d.RowCost)
	}
	rows := lw.p.Bufs[z].Rows
	in := Instr{Op: op, A: z, B: lw.p.Y}
	in.Dst = lw.newBuf(fmt.Sprintf("%v%d", in.Op, len(lw.p.Bufs)), rows, 1, Temp) // a sample's cost a row
	per := lw.emit(in)
	sum := lw.emit(Instr{Op: SumAll, Dst: lw.newBuf(fmt.Sprintf("sumall%d", len(lw.p.Bufs)), 1, 1, Temp), A: per})
	return lw.emit(Instr{Op: Affine, Dst: lw.newBuf(fmt.Sprintf("cost%d", len(lw.p.Bufs)), 1, 1, Temp), A: sum, Alpha: 1 / float64(lw.p.Batch)}), nil
}
