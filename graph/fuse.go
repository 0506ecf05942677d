package graph

// The compiler's last passes over a lowered program: the SGD update fused
// into the product or sum that computes its gradient, and dead
// instructions dropped.

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

// fuseUpdates turns "g = A·B; … ; w ← d·w − η·g" into "w = −η·A·B + d·w" (and the
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
		in.Dst, in.Alpha, in.Beta = u.Dst, -u.Alpha*in.Alpha, u.Beta
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
