// Package cpu runs compiled graph programs on the CPU in pure Go: float64
// with plain loops, float32 with SIMD kernels (AVX2/FMA Go assembly on
// amd64) and the large matrix products split across cores.
package cpu

import (
	"math"

	"github.com/gputrain/gputrain/graph"
)

// Float is the element type of a machine.
type Float interface{ float32 | float64 }

// Machine holds a program's buffers, allocated once, and runs its
// instructions. It is not safe for concurrent use.
type Machine[T Float] struct {
	P     *graph.Program
	bufs  [][]T
	pool  *pool
	owns  bool             // whether Close stops the pool
	gemms []*gemm[T]       // each MatMul's plan, by instruction; built on first Run
	sigs  []*sigmoidJob[T] // each large Sigmoid's split over the pool
}

// sigmoidJob splits one large σ over the pool: exp dominates everything
// but the products in wide layers.
type sigmoidJob[T Float] struct {
	d, a   []T
	chunks int
	job    func(int)
}

func (s *sigmoidJob[T]) chunk(i int) {
	lo, hi := split(len(s.d), s.chunks, i, 8)
	sigmoid(s.d[lo:hi], s.a[lo:hi])
}

// parallelSigmoid is the size above which σ is worth splitting (about 100 µs of exp).
const parallelSigmoid = 1 << 14

// NewMachine allocates every buffer of p. Parameters start at zero; set
// them with Buf. workers ≤ 1 runs on the calling goroutine alone.
func NewMachine[T Float](p *graph.Program, workers int) *Machine[T] {
	var pl *pool
	if workers > 1 {
		pl = newPool(workers)
	}
	m := newMachine[T](p, pl)
	m.owns = true
	return m
}

func newMachine[T Float](p *graph.Program, pl *pool) *Machine[T] {
	m := &Machine[T]{P: p, bufs: make([][]T, len(p.Bufs)), pool: pl}
	for i, b := range p.Bufs {
		if b.Alias < 0 {
			m.bufs[i] = make([]T, b.Len())
		}
	}
	for i := range p.Bufs {
		m.bufs[i] = m.bufs[p.Storage(i)][:p.Bufs[i].Len()]
	}
	return m
}

// Share makes buffer i of m use the same memory as buffer j of o, so that
// programs for different batch sizes update one set of parameters.
func (m *Machine[T]) Share(i int, o *Machine[T], j int) {
	m.bufs[i] = o.bufs[j]
	m.gemms = nil // plans hold buffer slices
}

// plan builds each matrix product's plan once.
func (m *Machine[T]) plan() {
	p := m.P
	m.gemms = make([]*gemm[T], len(p.Instrs))
	m.sigs = make([]*sigmoidJob[T], len(p.Instrs))
	for i, in := range p.Instrs {
		if in.Op == graph.Sigmoid && m.pool != nil && p.Bufs[in.Dst].Len() >= parallelSigmoid {
			s := &sigmoidJob[T]{d: m.bufs[in.Dst], a: m.bufs[in.A], chunks: chunksPerWorker * m.pool.size()}
			s.job = s.chunk
			m.sigs[i] = s
		}
		if in.Op != graph.MatMul {
			continue
		}
		rows, cols, k := p.MatMulDims(in)
		g := &gemm[T]{
			transA: in.TransA, transB: in.TransB, m: rows, n: cols, k: k,
			alpha: T(in.Alpha), beta: T(in.Beta),
			a: m.bufs[in.A], lda: p.Bufs[in.A].Cols, b: m.bufs[in.B], ldb: p.Bufs[in.B].Cols, c: m.bufs[in.Dst], ldc: cols,
		}
		g.plan(m.pool)
		m.gemms[i] = g
	}
}

// Buf returns buffer i's memory.
func (m *Machine[T]) Buf(i int) []T { return m.bufs[i] }

// Close stops the machine's worker goroutines.
func (m *Machine[T]) Close() {
	if m.pool != nil && m.owns {
		m.pool.close()
		m.pool = nil
	}
}

// Run executes the program once: one mini-batch step, or one forward pass.
func (m *Machine[T]) Run() {
	if m.gemms == nil {
		m.plan()
	}
	for i, in := range m.P.Instrs {
		d, a := m.bufs[in.Dst], m.bufs[in.A]
		switch in.Op {
		case graph.MatMul:
			m.gemms[i].run(m.pool)
		case graph.AddRow:
			b := m.bufs[in.B]
			n := len(b)
			for i := 0; i < len(d); i += n {
				addVec(d[i:i+n], a[i:i+n], b)
			}
		case graph.Add:
			addVec(d, a, m.bufs[in.B])
		case graph.Sub:
			b := m.bufs[in.B][:len(d)]
			for i := range d {
				d[i] = a[i] - b[i]
			}
		case graph.Mul:
			b := m.bufs[in.B][:len(d)]
			for i := range d {
				d[i] = a[i] * b[i]
			}
		case graph.Affine:
			alpha, beta := T(in.Alpha), T(in.Beta)
			for i := range d {
				d[i] = alpha*a[i] + beta
			}
		case graph.Sigmoid:
			if s := m.sigs[i]; s != nil {
				m.pool.run(s.chunks, s.job)
			} else {
				sigmoid(d, a)
			}
		case graph.Square:
			for i := range d {
				d[i] = a[i] * a[i]
			}
		case graph.SumRows:
			sumRows(d, a, T(in.Alpha), T(in.Beta))
		case graph.SumAll:
			var s float64
			for _, v := range a {
				s += float64(v)
			}
			d[0] = T(s)
		case graph.Update:
			alpha := T(in.Alpha)
			for i := range d {
				d[i] -= alpha * a[i]
			}
		}
	}
}

func addVec[T Float](d, a, b []T) {
	b = b[:len(d)]
	a = a[:len(d)]
	for i := range d {
		d[i] = a[i] + b[i]
	}
}

func sigmoid[T Float](d, a []T) {
	if df, ok := any(d).([]float32); ok && hasSIMD {
		sigmoid32(df, any(a).([]float32))
		return
	}
	sigmoidGo(d, a)
}

// sigmoidGo is σ through float64's exp: the reference for the kernel, and
// float64's σ.
func sigmoidGo[T Float](d, a []T) {
	a = a[:len(d)]
	for i := range d {
		d[i] = T(1 / (1 + math.Exp(-float64(a[i]))))
	}
}

// sumRows: d[j] = alpha·Σᵢ a[i,j] + beta·d[j], the bias gradient fused with its update.
func sumRows[T Float](d, a []T, alpha, beta T) {
	n := len(d)
	for j := range d {
		var s T
		for i := j; i < len(a); i += n {
			s += a[i]
		}
		if beta == 0 {
			d[j] = alpha * s
		} else {
			d[j] = alpha*s + beta*d[j]
		}
	}
}
