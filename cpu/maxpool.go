package cpu

import "github.com/gputrain/gputrain/graph"

// maxPool32 is the op table's max-pooling forward pass in float32, with
// the book's 2×2 windows over whole row pairs on the AVX-512 kernel
// (poolMax2Rows), and the rest as maxPoolBack32 leaves it: the same
// values bit for bit (−0 and 0, NaNs, told apart).
func maxPool32(d, a, _ []float32, s graph.Shapes, alpha, beta float32) {
	ref := graph.MaxPool.Def().Shaped32
	m, c, h, w := s.A[0], s.A[1], s.A[2], s.A[3]
	oh, ow := s.D[2], s.D[3]
	if alpha != 2 || h != 2*oh || !poolKernel() {
		ref(d, a, nil, s, alpha, beta)
		return
	}
	rows := m * c * oh
	for r := 0; r < rows; {
		r += poolMax2Rows(d[r*ow:], a[r*2*w:], rows-r, ow, w)
		if r < rows { // a row pair holding a NaN: the op table's kernel takes it
			pair := graph.Shapes{D: []int{1, 1, 1, ow}, A: []int{1, 1, 2, w}}
			ref(d[r*ow:][:ow], a[r*2*w:][:2*w], nil, pair, alpha, beta)
			r++
		}
	}
}

// maxPoolBack32 is the op table's max-pooling backward pass in float32,
// with the book's 2×2 windows over whole row pairs on the AVX-512 kernel
// (poolBack2Rows): the op table's kernel finds each window's largest input
// by scalar comparisons, about 50 instructions a window, and took a tenth
// of a chapter 6 step. The kernel gives every window the same input, and
// leaves a row pair holding a NaN to the op table's kernel, so the result
// is the same bit for bit. Pools of another size, maps of odd height, and
// CPUs without AVX-512 take the op table's kernel throughout.
func maxPoolBack32(d, a, b []float32, s graph.Shapes, alpha, beta float32) {
	ref := graph.MaxPoolBack.Def().Shaped32
	m, c, h, w := s.D[0], s.D[1], s.D[2], s.D[3]
	oh, ow := s.A[2], s.A[3]
	if alpha != 2 || h != 2*oh || !poolKernel() {
		ref(d, a, b, s, alpha, beta)
		return
	}
	if w != 2*ow {
		clear(d) // the last column, which no window covers
	}
	rows := m * c * oh
	for r := 0; r < rows; {
		r += poolBack2Rows(d[r*2*w:], b[r*2*w:], a[r*ow:], rows-r, ow, w)
		if r < rows { // a row pair holding a NaN: the op table's kernel takes it
			pair := graph.Shapes{D: []int{1, 1, 2, w}, A: []int{1, 1, 1, ow}, B: []int{1, 1, 2, w}}
			ref(d[r*2*w:][:2*w], a[r*ow:][:ow], b[r*2*w:][:2*w], pair, alpha, beta)
			r++
		}
	}
}
