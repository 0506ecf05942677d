package graph

import (
	"fmt"
	"reflect"
	"strings"

	G "gorgonia.org/gorgonia"
)

// Compile builds the graph of a training step for sizes and batch size m,
// differentiates it with Gorgonia and compiles it with the book's update
// w ← w − η·∂C/∂w (C being the mean cost over the mini-batch, so this is
// the book's w − (η/m)·Σₓ∂Cₓ/∂w).
func Compile(sizes []int, m int, dt Dtype, eta float64) (*Program, error) {
	if !(eta > 0) {
		return nil, fmt.Errorf("eta %v: must be > 0", eta)
	}
	gr, err := Build(sizes, m, dt, true)
	if err != nil {
		return nil, err
	}
	return Lower(gr, sizes, m, dt, eta)
}

// CompileForward compiles the forward pass alone, for evaluation.
func CompileForward(sizes []int, m int, dt Dtype) (*Program, error) {
	gr, err := Build(sizes, m, dt, false)
	if err != nil {
		return nil, err
	}
	return Lower(gr, sizes, m, dt, 0)
}

// value is what a graph node lowers to: a buffer (possibly viewed
// transposed), a scalar constant broadcast to the node's shape, or a row
// vector broadcast down the rows.
type value struct {
	kind  vkind
	buf   int
	trans bool
	c     float64
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
func Lower(gr *Graph, sizes []int, m int, dt Dtype, eta float64) (*Program, error) {
	p := &Program{Sizes: append([]int(nil), sizes...), Batch: m, Dtype: dt, Eta: eta, Y: -1, Cost: -1}
	lw := &lowerer{p: p, vals: map[*G.Node]value{}, producer: map[int]int{}, sigmoid: map[int]int{}}

	leaf := func(n *G.Node, name string, kind BufKind) int {
		r, c := dims2(n)
		b := lw.newBuf(name, r, c, kind)
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

	roots := []*G.Node{gr.Output}
	if gr.Cost != nil {
		roots = append(roots, gr.Cost)
		roots = append(roots, gr.WeightGrads...)
		roots = append(roots, gr.BiasGrads...)
	}
	for _, n := range postorder(gr.G, roots) {
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
	if gr.Cost != nil {
		if p.Cost, err = lw.materialize(lw.vals[gr.Cost]); err != nil {
			return nil, err
		}
		for l := range gr.Weights {
			if err := lw.update(p.Weights[l], lw.vals[gr.WeightGrads[l]]); err != nil {
				return nil, fmt.Errorf("weights %d: %w", l+1, err)
			}
			if err := lw.update(p.Biases[l], lw.vals[gr.BiasGrads[l]]); err != nil {
				return nil, fmt.Errorf("biases %d: %w", l+1, err)
			}
		}
		lw.fuseUpdates()
	}
	lw.eliminateDead()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("internal error: compiled program is inconsistent: %w", err)
	}
	return p, nil
}

// postorder lists the nodes the roots depend on, every node after its children.
func postorder(g *G.ExprGraph, roots []*G.Node) []*G.Node {
	var order []*G.Node
	seen := map[int64]bool{}
	var visit func(n *G.Node)
	visit = func(n *G.Node) {
		if seen[n.ID()] {
			return
		}
		seen[n.ID()] = true
		for _, c := range children(g, n) {
			visit(c)
		}
		order = append(order, n)
	}
	for _, r := range roots {
		visit(r)
	}
	return order
}

func children(g *G.ExprGraph, n *G.Node) []*G.Node {
	var cs []*G.Node
	it := g.From(n.ID())
	for it.Next() {
		cs = append(cs, it.Node().(*G.Node))
	}
	return cs
}

// dims2 is a node's shape as rows×cols: scalars 1×1, vectors 1×n.
func dims2(n *G.Node) (int, int) {
	s := n.Shape()
	switch len(s) {
	case 0:
		return 1, 1
	case 1:
		return 1, s[0]
	}
	return s[0], s[1]
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
	return lw.newBuf(fmt.Sprintf("%v%d", op, len(lw.p.Bufs)), r, c, Temp)
}

func (lw *lowerer) lower(g *G.ExprGraph, n *G.Node) (value, error) {
	op := n.Op()
	if op == nil {
		return value{}, fmt.Errorf("unbound input %q", n.Name())
	}
	cs := children(g, n)
	args := make([]value, len(cs))
	for i, c := range cs {
		args[i] = lw.vals[c]
	}
	typ := reflect.TypeOf(op).String()
	switch {
	case len(cs) == 0: // a constant
		c, ok := constant(n)
		if !ok {
			return value{}, fmt.Errorf("constant of unsupported type %T", n.Value())
		}
		return value{kind: vConst, c: c}, nil
	case strings.HasSuffix(typ, ".sizeOp"):
		axis := int(field(op, "axis").Int())
		return value{kind: vConst, c: float64(cs[0].Shape()[axis])}, nil
	case strings.HasSuffix(typ, ".reshapeOp"):
		a := args[0]
		if a.kind != vBuf || a.trans {
			return a, nil
		}
		r, c := dims2(n)
		if r == lw.p.Bufs[a.buf].Rows && c == lw.p.Bufs[a.buf].Cols {
			return a, nil
		}
		b := lw.newBuf(fmt.Sprintf("reshape%d", len(lw.p.Bufs)), r, c, lw.p.Bufs[a.buf].Kind)
		lw.p.Bufs[b].Alias = a.buf
		return value{kind: vBuf, buf: b}, nil
	case strings.HasSuffix(typ, ".transposeOp"):
		if len(cs[0].Shape()) != 2 {
			return value{}, fmt.Errorf("transpose of a %d-d tensor", len(cs[0].Shape()))
		}
		a := args[0]
		if a.kind == vBuf {
			a.trans = !a.trans
		}
		return a, nil
	case strings.HasSuffix(typ, ".repeatOp"):
		a := args[0]
		if a.kind == vConst {
			return a, nil
		}
		if eqShape(cs[0], n) {
			return a, nil
		}
		if field(op, "along").Int() == 0 && a.kind == vBuf && !a.trans && lw.p.Bufs[a.buf].Rows == 1 {
			return value{kind: vRow, buf: a.buf}, nil
		}
		return value{}, fmt.Errorf("broadcast %v not supported", op)
	case strings.HasSuffix(typ, ".linAlgBinOp"):
		a, b := args[0], args[1]
		if a.kind != vBuf || b.kind != vBuf || len(cs[0].Shape()) != 2 || len(cs[1].Shape()) != 2 {
			return value{}, fmt.Errorf("%v: only products of two matrices are supported", op)
		}
		dst := lw.temp(n, MatMul)
		return value{kind: vBuf, buf: lw.emit(Instr{Op: MatMul, Dst: dst, A: a.buf, B: b.buf,
			TransA: field(op, "transA").Bool() != a.trans, TransB: field(op, "transB").Bool() != b.trans,
			Alpha: 1})}, nil
	case strings.HasSuffix(typ, ".sumOp"):
		a := args[0]
		if a.kind != vBuf || a.trans {
			return value{}, fmt.Errorf("sum of a broadcast or transposed value")
		}
		along := field(op, "along")
		in := cs[0].Shape()
		dst := lw.temp(n, SumRows)
		if along.Len() == len(in) || len(n.Shape()) == 0 {
			lw.p.Bufs[dst].Name = fmt.Sprintf("sumall%d", dst)
			return value{kind: vBuf, buf: lw.emit(Instr{Op: SumAll, Dst: dst, A: a.buf})}, nil
		}
		if len(in) == 2 && along.Len() == 1 && along.Index(0).Int() == 0 {
			lw.p.Bufs[dst].Rows, lw.p.Bufs[dst].Cols = 1, in[1]
			return value{kind: vBuf, buf: lw.emit(Instr{Op: SumRows, Dst: dst, A: a.buf, Alpha: 1})}, nil
		}
		return value{}, fmt.Errorf("%v not supported", op)
	case strings.HasSuffix(typ, ".elemUnaryOp"):
		return lw.unary(n, op.String(), args[0])
	case strings.HasSuffix(typ, ".elemBinOp"):
		return lw.binary(n, strings.Fields(op.String())[0], args[0], args[1])
	}
	return value{}, fmt.Errorf("op %v (%s) is not supported by the program compiler", op, typ)
}

func (lw *lowerer) unary(n *G.Node, name string, a value) (value, error) {
	if a.kind == vConst {
		switch name {
		case "neg":
			return value{kind: vConst, c: -a.c}, nil
		case "square":
			return value{kind: vConst, c: a.c * a.c}, nil
		}
		return value{}, fmt.Errorf("%s of a constant", name)
	}
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("%s of a broadcast or transposed value", name)
	}
	switch name {
	case "neg":
		return lw.affine(n, a.buf, -1, 0), nil
	case "square":
		return value{kind: vBuf, buf: lw.emit(Instr{Op: Square, Dst: lw.temp(n, Square), A: a.buf})}, nil
	case "sigmoid":
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
	return value{}, fmt.Errorf("unary op %s is not supported", name)
}

func (lw *lowerer) binary(n *G.Node, sym string, a, b value) (value, error) {
	if a.trans || b.trans {
		return value{}, fmt.Errorf("element-wise %s of a transposed value", sym)
	}
	switch {
	case a.kind == vConst && b.kind == vConst:
		switch sym {
		case "+":
			return value{kind: vConst, c: a.c + b.c}, nil
		case "-":
			return value{kind: vConst, c: a.c - b.c}, nil
		case "⊙":
			return value{kind: vConst, c: a.c * b.c}, nil
		case "÷":
			return value{kind: vConst, c: a.c / b.c}, nil
		}
	case a.kind == vBuf && b.kind == vConst:
		switch sym {
		case "+":
			return lw.affine(n, a.buf, 1, b.c), nil
		case "-":
			return lw.affine(n, a.buf, 1, -b.c), nil
		case "⊙":
			return lw.affine(n, a.buf, b.c, 0), nil
		case "÷":
			return lw.affine(n, a.buf, 1/b.c, 0), nil
		}
	case a.kind == vConst && b.kind == vBuf:
		switch sym {
		case "+":
			return lw.affine(n, b.buf, 1, a.c), nil
		case "-":
			return lw.affine(n, b.buf, -1, a.c), nil
		case "⊙":
			return lw.affine(n, b.buf, a.c, 0), nil
		}
	case sym == "+" && (a.kind == vRow) != (b.kind == vRow) && a.kind != vConst && b.kind != vConst:
		if a.kind == vRow {
			a, b = b, a
		}
		dst := lw.temp(n, AddRow)
		return value{kind: vBuf, buf: lw.emit(Instr{Op: AddRow, Dst: dst, A: a.buf, B: b.buf})}, nil
	case a.kind == vBuf && b.kind == vBuf:
		op, ok := map[string]Op{"+": Add, "-": Sub, "⊙": Mul}[sym]
		if ok {
			return value{kind: vBuf, buf: lw.emit(Instr{Op: op, Dst: lw.temp(n, op), A: a.buf, B: b.buf})}, nil
		}
	}
	return value{}, fmt.Errorf("element-wise %s of these operands is not supported", sym)
}

// affine emits Alpha·src + Beta, composed with src's own affine producer so
// chains like neg(0.125·(2·d)) become one instruction.
func (lw *lowerer) affine(n *G.Node, src int, alpha, beta float64) value {
	if q, ok := lw.producer[src]; ok && lw.p.Instrs[q].Op == Affine {
		in := lw.p.Instrs[q]
		src, alpha, beta = in.A, alpha*in.Alpha, alpha*in.Beta+beta
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

// update appends param ← param − η·grad. A gradient that Gorgonia leaves
// transposed (∂C/∂w = (aᵀ·δ)ᵀ) is computed transposed instead: (AB)ᵀ = BᵀAᵀ.
func (lw *lowerer) update(param int, g value) error {
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
	lw.p.Instrs = append(lw.p.Instrs, Instr{Op: Update, Dst: param, A: g.buf, Alpha: lw.p.Eta})
	return nil
}

// readers counts the instructions that read buffer b's storage.
func (lw *lowerer) readers(b int) int {
	s, n := lw.p.Storage(b), 0
	for _, in := range lw.p.Instrs {
		for _, r := range in.Reads() {
			if lw.p.Storage(r) == s {
				n++
			}
		}
	}
	return n
}

// fuseUpdates turns "g = A·B; … ; w −= η·g" into "w = −η·A·B + w" (and the
// same for a bias's column sum) where g has no other reader, so the
// gradient is never stored and the weights are read and written once. The
// fused instruction takes the update's place, after every read of w.
func (lw *lowerer) fuseUpdates() {
	p := lw.p
	dead := map[int]bool{}
	for i, u := range p.Instrs {
		if u.Op != Update {
			continue
		}
		g := p.Storage(u.A)
		q, ok := lw.producer[g]
		if !ok || dead[q] || lw.readers(g) != 1 {
			continue
		}
		in := p.Instrs[q]
		if (in.Op != MatMul && in.Op != SumRows) || in.Beta != 0 ||
			p.Bufs[g].Rows != p.Bufs[u.Dst].Rows || p.Bufs[g].Cols != p.Bufs[u.Dst].Cols {
			continue
		}
		if lw.writtenBetween(in.Reads(), q, i) {
			continue
		}
		in.Dst, in.Alpha, in.Beta = u.Dst, -u.Alpha*in.Alpha, 1
		p.Instrs[i] = in
		dead[q] = true
	}
	kept := p.Instrs[:0]
	for i, in := range p.Instrs {
		if !dead[i] {
			kept = append(kept, in)
		}
	}
	p.Instrs = kept
}

// writtenBetween reports whether an instruction after from and before to
// writes the storage of any of bufs.
func (lw *lowerer) writtenBetween(bufs []int, from, to int) bool {
	for j := from + 1; j < to; j++ {
		for _, b := range bufs {
			if lw.p.Storage(lw.p.Instrs[j].Dst) == lw.p.Storage(b) {
				return true
			}
		}
	}
	return false
}

// eliminateDead drops instructions whose result nothing needs: not an
// output, not a parameter, not read by a needed instruction.
func (lw *lowerer) eliminateDead() {
	p := lw.p
	need := map[int]bool{p.Storage(p.Output): true}
	if p.Cost >= 0 {
		need[p.Storage(p.Cost)] = true
	}
	keep := make([]bool, len(p.Instrs))
	for i := len(p.Instrs) - 1; i >= 0; i-- {
		in := p.Instrs[i]
		d := p.Storage(in.Dst)
		if !need[d] && p.Bufs[d].Kind != Param {
			continue
		}
		keep[i] = true
		for _, r := range in.Reads() {
			need[p.Storage(r)] = true
		}
	}
	kept := p.Instrs[:0]
	for i, in := range p.Instrs {
		if keep[i] {
			kept = append(kept, in)
		}
	}
	p.Instrs = kept
}

func eqShape(a, b *G.Node) bool {
	ar, ac := dims2(a)
	br, bc := dims2(b)
	return ar == br && ac == bc
}

func constant(n *G.Node) (float64, bool) {
	switch v := n.Value().Data().(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	}
	return 0, false
}

// field reads an unexported field of a Gorgonia op (transA, axis, along),
// which Gorgonia does not export but its graph carries.
func field(op G.Op, name string) reflect.Value {
	v := reflect.ValueOf(op)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v.FieldByName(name)
}
