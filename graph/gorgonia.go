package graph

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	G "gorgonia.org/gorgonia"
)

// This file is the one place that reads Gorgonia's graph: the op types,
// unexported fields and op names that Gorgonia does not export but its
// graph carries. Each kind of op it produces has one handler in handlers;
// TestGorgoniaOpKinds pins the kinds each supported graph produces, so a
// Gorgonia upgrade that changes them fails there, by name, rather than in
// the compiler.

// handler lowers one node of a kind of op, given its children and their values.
type handler func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error)

var handlers = map[string]handler{
	"sizeOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		axis, err := intField(op, "axis")
		if err != nil {
			return value{}, err
		}
		return value{kind: vConst, c: float64(cs[0].Shape()[axis])}, nil
	},
	"reshapeOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		if len(n.Shape()) > 2 || lw.shaped(args[0]) {
			return lw.reshapeTensor(args[0], n), nil
		}
		r, c := dims2(n)
		return lw.reshape(args[0], r, c), nil
	},
	"transposeOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		if len(cs[0].Shape()) == 4 {
			return lw.permute(n, op, args[0])
		}
		if len(cs[0].Shape()) != 2 {
			return value{}, fmt.Errorf("transpose of a %d-d tensor", len(cs[0].Shape()))
		}
		a := args[0]
		if a.kind == vBuf {
			a.trans = !a.trans
		}
		return a, nil
	},
	"repeatOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		a := args[0]
		if a.kind == vConst || eqShape(cs[0], n) {
			return a, nil
		}
		along, err := intField(op, "along")
		if err != nil {
			return value{}, err
		}
		if along == 0 && a.kind == vBuf && !a.trans && lw.p.Bufs[a.buf].Rows == 1 {
			return value{kind: vRow, buf: a.buf}, nil
		}
		if v, ok := lw.repeatMap(cs[0], n, along, a); ok {
			return v, nil
		}
		return value{}, fmt.Errorf("broadcast %v not supported", op)
	},
	"linAlgBinOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		if len(cs[0].Shape()) != 2 || len(cs[1].Shape()) != 2 {
			return value{}, fmt.Errorf("%v: only products of two matrices are supported", op)
		}
		ta, err := boolField(op, "transA")
		if err != nil {
			return value{}, err
		}
		tb, err := boolField(op, "transB")
		if err != nil {
			return value{}, err
		}
		r, c := dims2(n)
		return lw.matmul(args[0], args[1], ta, tb, r, c)
	},
	"sumOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		along, err := intsField(op, "along")
		if err != nil {
			return value{}, err
		}
		in := cs[0].Shape()
		switch {
		case len(along) == len(in) || len(n.Shape()) == 0:
			return lw.sumAll(args[0])
		case len(in) == 2 && slices.Equal(along, []int{0}):
			return lw.sumRows(args[0], in[1])
		case len(in) > 2 && slices.Equal(along, []int{len(in) - 1}):
			return lw.sumInner(n, args[0])
		}
		return value{}, fmt.Errorf("%v not supported", op)
	},
	"softmaxOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		axis, err := intField(op, "axis")
		if err != nil {
			return value{}, err
		}
		if len(cs[0].Shape()) != 2 || axis != -1 && axis != 1 {
			return value{}, fmt.Errorf("softmax along axis %d of a %d-d tensor: rows of a matrix only", axis, len(cs[0].Shape()))
		}
		return lw.softmax(n, args[0])
	},
	"elemUnaryOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		if f, ok := unaryFns[op.String()]; ok {
			return lw.unary(n, f, args[0])
		}
		if o, ok := gorgoniaOp(op.String()); ok {
			return lw.direct(n, o, args[0], 0)
		}
		return value{}, fmt.Errorf("unary op %s is not supported", op)
	},
	"elemBinOp": func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
		sym := binSymbol(op)
		if f, ok := binaryFns[sym]; ok {
			return lw.binary(n, f, args[0], args[1])
		}
		if o, ok := gorgoniaOp(sym); ok && args[1].kind == vConst {
			return lw.direct(n, o, args[0], args[1].c)
		}
		return value{}, fmt.Errorf("element-wise %s of these operands is not supported", sym)
	},
}

// unaryFns and binaryFns name the Gorgonia element-wise ops (their String,
// or its first word) that the compiler lowers with algebra of its own
// (constant folding, affine forms, σ′ from σ). Any other one that an op
// of the instruction set computes directly is found in opTable (its
// Gorgonia field).
var (
	unaryFns  = map[string]fn{"neg": fnNeg, "square": fnSquare, "sigmoid": fnSigmoid}
	binaryFns = map[string]fn{"+": fnAdd, "-": fnSub, "⊙": fnMul, "÷": fnDiv}
)

// opKind names the kind of a Gorgonia op: its Go type, and for the
// element-wise ops the function it applies ("elemUnaryOp sigmoid").
func opKind(op G.Op) string {
	t := reflect.TypeOf(op)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch k := t.Name(); k {
	case "elemUnaryOp":
		return k + " " + op.String()
	case "elemBinOp":
		return k + " " + binSymbol(op)
	default:
		return k
	}
}

// binSymbol is an element-wise binary op's symbol ("+", "-", "⊙", "÷"),
// the first word of its String.
func binSymbol(op G.Op) string {
	if f := strings.Fields(op.String()); len(f) > 0 {
		return f[0]
	}
	return ""
}

// lower translates one node whose children are lowered already.
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
	if len(cs) == 0 {
		c, ok := constant(n)
		if !ok {
			return value{}, fmt.Errorf("constant of unsupported type %T", n.Value())
		}
		return value{kind: vConst, c: c}, nil
	}
	kind := opKind(op)
	h, ok := handlers[strings.Fields(kind)[0]]
	if !ok {
		return value{}, fmt.Errorf("op %v (%s) is not supported by the program compiler", op, kind)
	}
	return h(lw, n, op, cs, args)
}

// opKinds lists, sorted and without repeats, the kinds of op of the nodes
// the graph's outputs (and, in a training graph, cost and gradients) need.
func opKinds(gr *Graph) []string {
	var kinds []string
	for _, n := range postorder(gr.G, gr.roots()) {
		k := "input"
		if op := n.Op(); op != nil {
			k = opKind(op)
			if len(children(gr.G, n)) == 0 {
				k = "constant"
			}
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// roots are the nodes a program computes.
func (gr *Graph) roots() []*G.Node {
	roots := []*G.Node{gr.Output}
	if gr.Cost != nil {
		roots = append(roots, gr.Cost)
	}
	roots = append(roots, gr.WeightGrads...)
	roots = append(roots, gr.BiasGrads...)
	return roots
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

// dims2 is a node's shape as rows×cols: scalars 1×1, vectors 1×n, a
// tensor of rank > 2 its first axis by the product of the rest.
func dims2(n *G.Node) (int, int) {
	s := n.Shape()
	switch len(s) {
	case 0:
		return 1, 1
	case 1:
		return 1, s[0]
	}
	cols := 1
	for _, d := range s[1:] {
		cols *= d
	}
	return s[0], cols
}

// shapeOf is a node's Buf.Shape: its shape if of rank > 2, else nil.
func shapeOf(n *G.Node) []int {
	if s := n.Shape(); len(s) > 2 {
		return slices.Clone([]int(s))
	}
	return nil
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
// saying which when a Gorgonia upgrade has renamed it or changed its type.
func field(op G.Op, name string, kinds ...reflect.Kind) (reflect.Value, error) {
	v := reflect.ValueOf(op)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName(name); f.IsValid() && slices.Contains(kinds, f.Kind()) {
			return f, nil
		}
	}
	return reflect.Value{}, fmt.Errorf("gorgonia %s has no field %s of kind %v: the compiler needs updating for this Gorgonia version", opKind(op), name, kinds)
}

func intField(op G.Op, name string) (int, error) {
	f, err := field(op, name, reflect.Int)
	if err != nil {
		return 0, err
	}
	return int(f.Int()), nil
}

func boolField(op G.Op, name string) (bool, error) {
	f, err := field(op, name, reflect.Bool)
	if err != nil {
		return false, err
	}
	return f.Bool(), nil
}

// intsField reads a field holding a list of axes ([]int or a named type of it).
func intsField(op G.Op, name string) ([]int, error) {
	f, err := field(op, name, reflect.Slice)
	if err != nil {
		return nil, err
	}
	if f.Type().Elem().Kind() != reflect.Int {
		return nil, fmt.Errorf("gorgonia %s: field %s holds %v, not ints", opKind(op), name, f.Type())
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out, nil
}
