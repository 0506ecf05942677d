package cpu

import "github.com/gputrain/gputrain/graph"

// The element-wise ops a step runs most, in vector kernels where the CPU
// has them (elementwiseKernels). Each element is the op table's one IEEE
// operation (two for affine: α·a rounded, then β added, never fused), so
// the bits are the op table's; TestElementwiseKernels holds them to it.

// elementwiseKernel returns the vector kernel of op in T, or nil where it
// has none here.
func elementwiseKernel[T Float](op graph.Op) graph.Kernel[T] {
	switch op {
	case graph.AddRow:
		if hasRowKernels() {
			return addRowKernel[T]
		}
		return nil
	case graph.SumRows:
		if hasRowKernels() {
			return sumRowsKernel[T]
		}
		return nil
	}
	f32, f64 := elementwiseKernels()
	var k any
	if _, ok := any(T(0)).(float32); ok {
		if k32, ok := f32[op]; ok {
			k = k32
		}
	} else if k64, ok := f64[op]; ok {
		k = k64
	}
	if k == nil {
		return nil
	}
	return k.(graph.Kernel[T])
}

// elementwiseSet makes the kernels of add, sub, mul, square and affine
// from the vector kernels in E, which cover whole registers of lanes
// elements; Go computes what is left. (addrow is not among them: its rows,
// a layer's width, are too short for a kernel call each to pay; it and
// sumrows have AVX-512 kernels of their own that take the whole matrix in
// one call, addRowKernel and sumRowsKernel.)
func elementwiseSet[E Float](add, sub, mul func(d, a, b *E, n int), affine func(d, a *E, n int, alpha, beta E), lanes int) map[graph.Op]graph.Kernel[E] {
	mulK := binaryKernel(mul, lanes, func(x, y E) E { return x * y })
	return map[graph.Op]graph.Kernel[E]{
		graph.Add:    binaryKernel(add, lanes, func(x, y E) E { return x + y }),
		graph.Sub:    binaryKernel(sub, lanes, func(x, y E) E { return x - y }),
		graph.Mul:    mulK,
		graph.Square: func(d, a, _ []E, _, _ E) { mulK(d, a, a, 0, 0) },
		graph.Affine: func(d, a, _ []E, alpha, beta E) {
			a = a[:len(d)]
			done := len(d) &^ (lanes - 1)
			if done > 0 {
				affine(&d[0], &a[0], done, alpha, beta)
			}
			for i := done; i < len(d); i++ {
				d[i] = E(alpha*a[i]) + beta
			}
		},
	}
}

// binaryKernel is d = a ∘ b through kernel over whole registers, then op.
func binaryKernel[E Float](kernel func(d, a, b *E, n int), lanes int, op func(x, y E) E) graph.Kernel[E] {
	return func(d, a, b []E, _, _ E) {
		a, b = a[:len(d)], b[:len(d)]
		done := len(d) &^ (lanes - 1)
		if done > 0 {
			kernel(&d[0], &a[0], &b[0], done)
		}
		for i := done; i < len(d); i++ {
			d[i] = op(a[i], b[i])
		}
	}
}

// addRowKernel is addrow, d = a + b in every row, with the whole-matrix
// kernel (addRowsVec): a call per row of a layer's 30 cost more than the
// Go loop.
func addRowKernel[T Float](d, a, b []T, _, _ T) {
	if len(b) == 0 || !addRowsVec(d, a, len(b), b, len(d)/len(b)) {
		graph.AddRowKernel(d, a, b, 0, 0)
	}
}

// sumRowsKernel is sumrows with its kernel (sumRowsVec).
func sumRowsKernel[T Float](d, a, _ []T, alpha, beta T) {
	if !sumRowsVec(d, a, alpha, beta) {
		graph.SumRowsKernel(d, a, nil, alpha, beta)
	}
}
