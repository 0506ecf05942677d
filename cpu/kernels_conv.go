package cpu

import (
	"slices"

	"github.com/gputrain/gputrain/graph"
)

// shapedKernel binds an op's shaped kernel (convolution, pooling) to its
// operands' shapes once, when the machine plans the program, so a step
// runs it as any other kernel and allocates nothing.
func shapedKernel[T Float](def *graph.OpDef, s graph.Shapes) graph.Kernel[T] {
	sk := shapedOf[T](def)
	return func(d, a, b []T, alpha, beta T) { sk(d, a, b, s, alpha, beta) }
}

func shapedOf[T Float](def *graph.OpDef) graph.ShapedKernel[T] {
	var k any = def.Shaped64
	if _, ok := any(T(0)).(float32); ok {
		k = def.Shaped32
	}
	return k.(graph.ShapedKernel[T])
}

// parallelShaped is the size (elements read and written) above which a
// shaped kernel is split over the pool: im2col, pooling and their
// gradients on one core took about a third of a chapter 6 step while the
// products ran on every core.
const parallelShaped = 1 << 14

// shapedJob splits a shaped kernel over the pool by images: every operand
// of these ops has the images on its first axis, and each image's output
// depends on that image's input alone, so a chunk of images is the same
// kernel on shorter operands, and the result is the same bit for bit.
type shapedJob[T Float] struct {
	parts []shapedPart[T]
	job   func(int)
}

// shapedPart is one chunk of images: the operands' slices and shapes.
type shapedPart[T Float] struct {
	d, a, b     []T
	s           graph.Shapes
	alpha, beta T
	k           graph.ShapedKernel[T]
}

// newShapedJob plans the split of step s (an instruction of form
// def.Form with shapes sh) into at most chunks pieces, or returns nil
// where the op is too small or has a single image.
func newShapedJob[T Float](def *graph.OpDef, sh graph.Shapes, s *step[T], chunks int) *shapedJob[T] {
	m := sh.D[0]
	if m < 2 || len(s.d)+len(s.a)+len(s.b) < parallelShaped {
		return nil
	}
	chunks = min(chunks, m)
	j := &shapedJob[T]{}
	k := shapedOf[T](def)
	// part cuts the images [lo, hi) out of an operand of shape dims.
	part := func(x []T, dims []int, lo, hi int) ([]T, []int) {
		if dims == nil {
			return nil, nil
		}
		per := len(x) / dims[0]
		sub := slices.Clone(dims)
		sub[0] = hi - lo
		return x[lo*per : hi*per], sub
	}
	for i := range chunks {
		lo, hi := split(m, chunks, i, 1)
		if lo == hi {
			continue
		}
		p := shapedPart[T]{alpha: s.alpha, beta: s.beta, k: k}
		p.d, p.s.D = part(s.d, sh.D, lo, hi)
		p.a, p.s.A = part(s.a, sh.A, lo, hi)
		p.b, p.s.B = part(s.b, sh.B, lo, hi)
		j.parts = append(j.parts, p)
	}
	j.job = func(i int) { p := &j.parts[i]; p.k(p.d, p.a, p.b, p.s, p.alpha, p.beta) }
	return j
}
