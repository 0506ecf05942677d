package cpu

import (
	"slices"

	"github.com/gputrain/gputrain/graph"
)

// What a step program must look like for a group to stack its first
// layer: the product X·W₁ᵀ first, W₁'s update last among what touches it,
// and, where it can, the bias added straight from the stacked product.

// firstUpdate is the index of the step program's update of W₁ from the
// shared X, W₁ ← β·W₁ + α·δᵀ·X, when it can wait until the program's
// other instructions are done (none after it writes W₁, δ or X, or reads
// W₁) and the batch fits the kernels' coefficients; -1 otherwise.
func firstUpdate(p *graph.Program) int {
	w, x := p.Storage(p.Weights[0]), p.Storage(p.X)
	for u, in := range p.Instrs {
		if in.Op != graph.MatMul || in.Dst != p.Weights[0] {
			continue
		}
		d := p.Storage(in.A)
		if in.B != p.X || !in.TransA || in.TransB || p.Batch > axpyMaxK || p.Bufs[in.A].Kind != graph.Temp || p.Bufs[in.A].Cols != p.Bufs[in.Dst].Rows {
			return -1
		}
		for _, later := range p.Instrs[u+1:] {
			if s := p.Storage(later.Dst); s == w || s == d || s == x || slices.Contains(later.Reads(), p.Weights[0]) {
				return -1
			}
		}
		return u
	}
	return -1
}

// firstProduct is the index of the step program's X·W₁ᵀ when it is the
// program's first instruction and nothing else views W₁'s or X's memory;
// -1 otherwise.
func firstProduct(p *graph.Program) int {
	if len(p.Instrs) == 0 || len(p.Weights) == 0 || p.Y < 0 {
		return -1
	}
	in := p.Instrs[0]
	if in.Op != graph.MatMul || in.A != p.X || in.B != p.Weights[0] || in.TransA || !in.TransB ||
		in.Alpha != 1 || in.Beta != 0 || p.Bufs[in.Dst].Kind != graph.Temp || p.Bufs[in.Dst].Alias >= 0 {
		return -1
	}
	for i := range p.Bufs {
		if s := p.Storage(i); i != s && (s == p.Weights[0] || s == p.X || s == p.Y || s == in.Dst) {
			return -1
		}
	}
	return 0
}

// biasNext reports whether the step program's second instruction adds the
// bias to the first's product X·W₁ᵀ and nothing else reads that product:
// a stacked step then adds the bias to its columns of the stacked product
// (each element the same sum) without copying them out first.
func biasNext(p *graph.Program) bool {
	if len(p.Instrs) < 2 {
		return false
	}
	z, add := p.Storage(p.Instrs[0].Dst), p.Instrs[1]
	if add.Op != graph.AddRow || p.Storage(add.A) != z || p.Storage(add.Dst) == z || p.Storage(add.B) == z {
		return false
	}
	for _, in := range p.Instrs[2:] {
		for _, r := range in.Reads() {
			if p.Storage(r) == z {
				return false
			}
		}
	}
	return true
}
