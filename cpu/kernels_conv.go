package cpu

import "github.com/gputrain/gputrain/graph"

// shapedKernel binds an op's shaped kernel (convolution, pooling) to its
// operands' shapes once, when the machine plans the program, so a step
// runs it as any other kernel and allocates nothing.
func shapedKernel[T Float](def *graph.OpDef, s graph.Shapes) graph.Kernel[T] {
	var k any = def.Shaped64
	if _, ok := any(T(0)).(float32); ok {
		k = def.Shaped32
	}
	sk := k.(graph.ShapedKernel[T])
	return func(d, a, b []T, alpha, beta T) { sk(d, a, b, s, alpha, beta) }
}
