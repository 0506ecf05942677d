package graph

import (
	"fmt"
	"slices"

	"github.com/gputrain/gputrain/graph/dropout"
	"github.com/gputrain/gputrain/graph/network"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file builds chapter 6's networks (network3.py's layers) with
// Gorgonia's own Conv2d and MaxPool2D, and lowers the ops those and their
// gradients produce (im2col, col2im, max-pooling and its gradient, the
// transposes between Gorgonia's NHWC product and NCHW maps, the bias
// broadcast over each map and its sums) into the instructions of
// ops_conv.go.

// buildLayers makes the graph of a network of layers for batch size m:
// X (m×784) seen as m images of one 28×28 map; each conv (with the pool
// after it: network3's ConvPoolLayer) is the activation of
// pool(conv(a, w)) + b, one bias per map; each fully connected or softmax
// layer a·wᵀ + b on the flattened maps.
func buildLayers(spec network.Spec, m int, dt Dtype, cost, grads bool) (*Graph, error) {
	g := G.NewGraph()
	t := dt.Tensor()
	gr := &Graph{G: g, Spec: spec.Norm()}
	gr.X = G.NewMatrix(g, t, G.WithShape(m, network.InputSize), G.WithName("X"))
	shapes, err := network.Shapes(spec.Layers)
	if err != nil {
		return nil, err
	}
	a, in := gr.X, network.InputShape
	layers := spec.Layers
	for l := 0; l < len(layers); l++ {
		layer, name := layers[l], fmt.Sprint(l+1)
		fail := func(err error) (*Graph, error) {
			return nil, fmt.Errorf("layer %d (%s): %w", l+1, layer, err)
		}
		switch layer.Kind {
		case network.ConvLayer:
			if a, err = G.Reshape(a, tensor.Shape{m, in.Maps, in.H, in.W}); err != nil {
				return fail(err)
			}
			w := G.NewTensor(g, t, 4, G.WithShape(layer.Maps, in.Maps, layer.Filter, layer.Filter), G.WithName("w"+name))
			b := G.NewTensor(g, t, 4, G.WithShape(1, layer.Maps, 1, 1), G.WithName("b"+name))
			gr.Weights, gr.Biases = append(gr.Weights, w), append(gr.Biases, b)
			z, err := G.Conv2d(a, w, tensor.Shape{layer.Filter, layer.Filter}, []int{0, 0}, []int{1, 1}, []int{1, 1})
			if err != nil {
				return fail(err)
			}
			if l+1 < len(layers) && layers[l+1].Kind == network.PoolLayer {
				l++ // the pool is this conv's: its bias and activation come after it
				p := layers[l].Pool
				if z, err = G.MaxPool2D(z, tensor.Shape{p, p}, []int{0, 0}, []int{p, p}); err != nil {
					return fail(err)
				}
			}
			if z, err = G.BroadcastAdd(z, b, nil, []byte{0, 2, 3}); err != nil {
				return fail(err)
			}
			act := hidden(layer.Activation)
			if act == nil {
				return fail(fmt.Errorf("activation %q has no Gorgonia function", layer.Activation))
			}
			if a, err = act(z); err != nil {
				return fail(err)
			}
		case network.FCLayer, network.SoftmaxLayer:
			if len(a.Shape()) != 2 {
				if a, err = G.Reshape(a, tensor.Shape{m, in.Size()}); err != nil {
					return fail(err)
				}
			}
			if layer.Dropout > 0 && grads {
				// Training: network3's dropout on the layer's input, kept units not rescaled.
				mask := G.NewMatrix(g, t, G.WithShape(m, in.Size()), G.WithName("mask"+name))
				gr.Masks = append(gr.Masks, Mask{Node: mask, Layer: l, P: layer.Dropout})
				if a, err = G.HadamardProd(a, mask); err != nil {
					return fail(err)
				}
			}
			w := G.NewMatrix(g, t, G.WithShape(layer.Units, in.Size()), G.WithName("w"+name))
			b := G.NewVector(g, t, G.WithShape(layer.Units), G.WithName("b"+name))
			gr.Weights, gr.Biases = append(gr.Weights, w), append(gr.Biases, b)
			wt, err := G.Transpose(w)
			if err != nil {
				return fail(err)
			}
			z, err := G.Mul(a, wt)
			if err != nil {
				return fail(err)
			}
			if layer.Dropout > 0 && !grads {
				// Evaluation: network3's output path, (1 − p)·a·w + b.
				if z, err = G.HadamardProd(z, G.NewConstant(scalar(dt, 1-layer.Dropout), G.WithName("1-p"+name))); err != nil {
					return fail(err)
				}
			}
			if z, err = G.BroadcastAdd(z, b, nil, []byte{0}); err != nil {
				return fail(err)
			}
			gr.Logits = z
			act := hidden(layer.Activation)
			if layer.Kind == network.SoftmaxLayer {
				act = func(z *G.Node) (*G.Node, error) { return G.SoftMax(z) }
			}
			if act == nil {
				return fail(fmt.Errorf("activation %q has no Gorgonia function", layer.Activation))
			}
			if a, err = act(z); err != nil {
				return fail(err)
			}
		}
		in = shapes[l]
	}
	gr.Output = a
	return gr.objective(m, dt, cost, grads)
}

// shaped reports whether a is a buffer with a shape of rank > 2.
func (lw *lowerer) shaped(a value) bool {
	return a.kind == vBuf && lw.p.Bufs[a.buf].Shape != nil
}

// reshapeTensor views a buffer with node n's shape: an alias, no copy
// (Gorgonia's reshapes keep the row-major order).
func (lw *lowerer) reshapeTensor(a value, n *G.Node) value {
	if a.kind != vBuf || a.trans {
		return a
	}
	src := lw.p.Bufs[a.buf]
	r, c := dims2(n)
	shape := shapeOf(n)
	if r == src.Rows && c == src.Cols && slices.Equal(shape, src.Shape) {
		return a
	}
	b := lw.newBuf(fmt.Sprintf("reshape%d", len(lw.p.Bufs)), r, c, src.Kind)
	lw.p.Bufs[b].Alias, lw.p.Bufs[b].Shape = a.buf, shape
	return value{kind: vBuf, buf: b}
}

// permute lowers a transpose of a rank-4 tensor: Conv2d's (m, h, w, maps)
// → (m, maps, h, w), and its gradient's inverse.
func (lw *lowerer) permute(n *G.Node, op G.Op, a value) (value, error) {
	pat, err := intsField(op, "pattern")
	if err != nil {
		return value{}, err
	}
	var alpha float64
	switch {
	case slices.Equal(pat, []int{0, 3, 1, 2}):
		alpha = 0
	case slices.Equal(pat, []int{0, 2, 3, 1}):
		alpha = 1
	default:
		return value{}, fmt.Errorf("transpose %v of a 4-d tensor: only the maps axis moves", pat)
	}
	if !lw.shaped(a) || a.trans {
		return value{}, fmt.Errorf("transpose of a constant or broadcast value")
	}
	return value{kind: vBuf, buf: lw.emit(Instr{Op: Permute, Dst: lw.temp(n, Permute), A: a.buf, Alpha: alpha})}, nil
}

// repeatMap lowers a repeat of a per-map bias along one more axis: a
// value whose element i is B[(i/inner) mod len(B)] stays one when the
// repeated axis (of length 1 before) lies outside a run of len(B)·inner
// elements (inner unchanged) or inside one run of equal values (inner
// grows by the repeat). Anything else is not a bias broadcast.
func (lw *lowerer) repeatMap(src, n *G.Node, along int, a value) (value, bool) {
	if a.trans || (a.kind != vBuf && a.kind != vRow) {
		return value{}, false
	}
	s := src.Shape()
	if along >= len(s) || s[along] != 1 {
		return value{}, false
	}
	c, inner := lw.p.Bufs[a.buf].Len(), max(1, a.inner)
	if a.kind == vBuf && c != s.TotalSize() {
		return value{}, false
	}
	post := 1
	for _, d := range s[along+1:] {
		post *= d
	}
	switch {
	case post%(inner*c) == 0:
	case inner%post == 0:
		inner *= n.Shape()[along]
	default:
		return value{}, false
	}
	return value{kind: vRow, buf: a.buf, inner: inner}, true
}

// sumInner lowers a sum over a tensor's last axis.
func (lw *lowerer) sumInner(n *G.Node, a value) (value, error) {
	if a.kind != vBuf || a.trans {
		return value{}, fmt.Errorf("sum of a broadcast or transposed value")
	}
	return value{kind: vBuf, buf: lw.emit(Instr{Op: SumInner, Dst: lw.temp(n, SumInner), A: a.buf})}, nil
}

// window reads the fields of Gorgonia's im2col (and col2im) op and checks
// that it is a valid, unit-stride, undilated f×f correlation.
func window(op G.Op, names ...string) ([]int, error) {
	var v []int
	for _, name := range names {
		x, err := intField(op, name)
		if err != nil {
			return nil, err
		}
		v = append(v, x)
	}
	return v, nil
}

func convOp(op G.Op) error {
	v, err := window(op, "h", "w", "padH", "padW", "strideH", "strideW", "dilationH", "dilationW")
	if err != nil {
		return err
	}
	if v[0] != v[1] || v[2] != 0 || v[3] != 0 || v[4] != 1 || v[5] != 1 || v[6] != 1 || v[7] != 1 {
		return fmt.Errorf("%v: only a square, valid, unit-stride, undilated window", op)
	}
	return nil
}

// poolSide checks a max-pooling op is network3's (whole p×p windows side
// by side, no padding) and returns p.
func poolSide(op G.Op) (int, error) {
	v, err := window(op, "h", "w", "strideH", "strideW", "padNorth", "padWest", "padSouth", "padEast")
	if err != nil {
		return 0, err
	}
	if v[0] != v[1] || v[2] != v[0] || v[3] != v[0] || v[4] != 0 || v[5] != 0 || v[6] != 0 || v[7] != 0 {
		return 0, fmt.Errorf("%v: only whole p×p windows side by side", op)
	}
	return v[0], nil
}

func init() {
	shapedOp := func(o Op, alpha func(G.Op) (float64, error), operands func(args []value) (a, b value)) handler {
		return func(lw *lowerer, n *G.Node, op G.Op, cs []*G.Node, args []value) (value, error) {
			al, err := alpha(op)
			if err != nil {
				return value{}, err
			}
			a, b := operands(args)
			if !lw.shaped(a) || (o.Def().Form.ReadsB() && !lw.shaped(b)) {
				return value{}, fmt.Errorf("%v of a value that is not a buffer of rank 4", o)
			}
			return value{kind: vBuf, buf: lw.emit(Instr{Op: o, Dst: lw.temp(n, o), A: a.buf, B: b.buf, Alpha: al})}, nil
		}
	}
	conv := func(op G.Op) (float64, error) { return 0, convOp(op) }
	pool := func(op G.Op) (float64, error) { p, err := poolSide(op); return float64(p), err }
	first := func(args []value) (value, value) { return args[0], value{} }
	handlers["im2colOp"] = shapedOp(Im2Col, conv, first)
	handlers["col2imOp"] = shapedOp(Col2Im, conv, first)
	handlers["maxPoolOp"] = shapedOp(MaxPool, pool, first)
	// maxPoolDiffOp reads (the pool's input, its output, the output's gradient).
	handlers["maxPoolDiffOp"] = shapedOp(MaxPoolBack, pool, func(args []value) (value, value) { return args[2], args[0] })
}

// masks makes each dropout mask a buffer that the step's first
// instructions draw, from the Key input.
func (lw *lowerer) masks(masks []Mask) {
	if len(masks) == 0 {
		return
	}
	p := lw.p
	p.Key = lw.newBuf("Key", 1, dropout.KeyWords, Input)
	for _, mk := range masks {
		r, c := dims2(mk.Node)
		b := lw.newBuf(fmt.Sprintf("mask%d", mk.Layer+1), r, c, Temp)
		lw.vals[mk.Node] = value{kind: vBuf, buf: b}
		lw.emit(Instr{Op: Dropout, Dst: b, A: p.Key, Alpha: mk.P, Beta: float64(mk.Layer)})
	}
}
