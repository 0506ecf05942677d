package cuda

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// This file turns a graph.Program into the launches that run it on a GPU:
// cuBLAS products and segments of the kernels in kernels.cu. It is pure Go,
// without cgo, so the tests check it on machines without CUDA; the gpu
// build replays what it plans.

// gemmCall is one cuBLAS gemm in cuBLAS's column-major terms:
// C = Alpha·op(A)·op(B) + Beta·C with C M×N, op(A) M×K, op(B) K×N, where
// cuBLAS's A, B and C are the program buffers First, Second and Dst.
type gemmCall struct {
	TransA, TransB bool // cuBLAS's transa and transb: CUBLAS_OP_T when set
	M, N, K        int
	First, Second  int // buffers passed as cuBLAS's A and B
	Dst            int
	LdA, LdB, LdC  int
	Alpha, Beta    float64
}

// planGEMM maps a row-major MatMul onto cuBLAS. A row-major r×c matrix is,
// byte for byte, the column-major c×r matrix of its transpose, so the
// program's C = op(A)·op(B) is cuBLAS's Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands
// swap places, each keeps its own transpose flag, and every leading
// dimension is a row length of the row-major buffer.
func planGEMM(p *graph.Program, in graph.Instr) gemmCall {
	m, n, k := p.MatMulDims(in)
	return gemmCall{
		TransA: in.TransB, TransB: in.TransA,
		M: n, N: m, K: k,
		First: in.B, LdA: p.Bufs[in.B].Cols,
		Second: in.A, LdB: p.Bufs[in.A].Cols,
		Dst: in.Dst, LdC: n,
		Alpha: in.Alpha, Beta: in.Beta,
	}
}

// Flops is the product's floating-point operation count, 2·M·N·K.
func (g gemmCall) Flops() float64 { return 2 * float64(g.M) * float64(g.N) * float64(g.K) }

// Op codes of the op descriptors beyond the op table's (a graph.Op's value).
const opEpilogue = 100

// opDesc is one op of a segment: kernels.cu's struct OpDesc. Dst, A and B
// index the program's buffer table (Program.Bufs, ones vectors included).
type opDesc struct {
	Op, Dst, A, B, N, Cols, Rows int64
	Alpha, Beta                  float64
}

// opDescSize is sizeof(OpDesc) in kernels.cu: nine 8-byte fields.
const opDescSize = 72

// encodeOps lays descriptors out as the kernels read them: little-endian,
// in field order, no padding.
func encodeOps(ops []opDesc) []byte {
	out := make([]byte, 0, len(ops)*opDescSize)
	for _, o := range ops {
		for _, v := range [...]int64{o.Op, o.Dst, o.A, o.B, o.N, o.Cols, o.Rows} {
			out = binary.LittleEndian.AppendUint64(out, uint64(v))
		}
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(o.Alpha))
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(o.Beta))
	}
	return out
}

// Block sizes the kernels are compiled for (SEG1_MAX_THREADS and
// SEGN_THREADS in kernels.cu).
const (
	seg1MaxThreads = 1024
	segnThreads    = 256
	maxGrid        = 65535 // grid-stride loops cover any size with at most this many blocks
)

// limits are what a schedule is planned for.
type limits struct {
	// maxThreads is the largest block gt_seg1 may be launched with on this
	// device (its CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, at most 1024).
	maxThreads int
	// singleMax is the largest op, in elements, that a one-block segment
	// takes: beyond it an element-wise op is worth a grid of blocks and a
	// column sum is worth a cuBLAS product.
	singleMax int
	// noGrid keeps every segment to one block (the tests use it to run each
	// op through gt_seg1 too).
	noGrid bool
}

// defaultLimits: up to 16,384 elements one block of 1024 threads takes an
// op in 16 strides, which costs less than the launch a separate grid-wide
// kernel would.
var defaultLimits = limits{maxThreads: seg1MaxThreads, singleMax: 1 << 14}

// launch is one kernel launch (or cuBLAS call) of a step.
type launch struct {
	gemm   *gemmCall // a product; nil for a segment
	single bool      // a segment run by gt_seg1 (one block), else by gt_segn
	grid   int       // blocks
	block  int       // threads per block
	ops    []opDesc  // the segment's ops
	instrs []int     // the program instructions this launch runs (len(Instrs) is the epilogue)
}

// schedule is a program planned for the GPU: its launches in stream order.
type schedule struct {
	prog      *graph.Program // the program, Bufs extended with ones vectors
	launches  []launch
	ones      int // the storage buffer of the ones vectors, -1 without
	batchSize int // the epilogue's batch size; 0 without an epilogue
}

// opClass says how an instruction can be launched.
type opClass uint8

const (
	classGEMM   opClass = iota // a cuBLAS product
	classElem                  // element-wise: in either kind of segment
	classSingle                // needs a block-wide barrier: one-block segments only
)

// node is an instruction (or the epilogue) with what the scheduler needs.
type node struct {
	idx     int // instruction index; len(Instrs) for the epilogue
	in      graph.Instr
	class   opClass
	small   bool  // fits a one-block segment
	reads   []int // storages read
	writes  []int // storages written
	spread  []int // storages read at indices other than the element written (AddRow's row)
	gemm    *gemmCall
	deps    []int // nodes that must run before, by index into the node list
	epilog  bool
	width   int // threads a one-block segment can keep busy on it
	maxElem int // the longest buffer it touches
}

// newSchedule plans p for the GPU. batchSize > 0 on a training program adds
// the epilogue that records each step's cost (as costs[offset/batchSize])
// and advances the batch offset by p.Batch.
func newSchedule(p *graph.Program, lim limits, batchSize int) (*schedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if lim.maxThreads < 32 || lim.singleMax < 1 {
		return nil, fmt.Errorf("cuda: launch limits %+v: need blocks of at least 32 threads and one-block ops of at least 1 element", lim)
	}
	// The kernels' grid-stride loops count in int: an index must stay below
	// 2³¹ even one stride (at most maxGrid·segnThreads) past the end.
	for _, b := range p.Bufs {
		if b.Len() > math.MaxInt32-maxGrid*segnThreads {
			return nil, fmt.Errorf("cuda: buffer %s has %d elements, more than the kernels index (2³¹−1 less a grid's stride)", b.Name, b.Len())
		}
	}
	ext := *p
	ext.Bufs = slices.Clone(p.Bufs)
	s := &schedule{prog: &ext, ones: -1}
	if batchSize > 0 && p.Cost >= 0 {
		s.batchSize = batchSize
	}

	// Column sums too large for one block become products with a ones
	// vector, Dst = α·1ᵀ·A + β·Dst, one 1×rows view per row count onto a
	// single storage as long as the longest.
	onesView := map[int]int{}
	for _, in := range p.Instrs {
		if in.Op == graph.SumRows && p.Bufs[in.A].Len() > lim.singleMax {
			onesView[p.Bufs[in.A].Rows] = -1
		}
	}
	if len(onesView) > 0 {
		longest := 0
		for r := range onesView {
			longest = max(longest, r)
		}
		s.ones = len(ext.Bufs)
		ext.Bufs = append(ext.Bufs, graph.Buf{Name: "ones", Rows: 1, Cols: longest, Kind: graph.Temp, Alias: -1})
		for _, r := range slices.Sorted(maps.Keys(onesView)) {
			onesView[r] = s.ones
			if r != longest {
				onesView[r] = len(ext.Bufs)
				ext.Bufs = append(ext.Bufs, graph.Buf{Name: fmt.Sprintf("ones%d", r), Rows: 1, Cols: r, Kind: graph.Temp, Alias: s.ones})
			}
		}
	}

	nodes := make([]*node, 0, len(p.Instrs)+1)
	for i, in := range p.Instrs {
		nodes = append(nodes, newNode(&ext, i, in, lim, onesView))
	}
	if s.batchSize > 0 {
		nodes = append(nodes, &node{
			idx: len(p.Instrs), epilog: true, class: classSingle, small: true, width: 1, maxElem: 1,
			in:    graph.Instr{Op: graph.Op(0), Dst: -1, A: p.Cost, B: -1},
			reads: []int{ext.Storage(p.Cost)}, writes: []int{-1}, // -1: the batch offset
		})
	}
	for j, b := range nodes {
		for i, a := range nodes[:j] {
			if overlaps(a.writes, b.reads) || overlaps(a.reads, b.writes) || overlaps(a.writes, b.writes) {
				b.deps = append(b.deps, i)
			}
		}
	}

	done := make([]bool, len(nodes)) // scheduled in an earlier launch
	left := len(nodes)
	for left > 0 {
		seg := s.segment(nodes, done, true, lim)
		if !lim.noGrid {
			// A grid runs element-wise ops faster than one block: it wins ties.
			if multi := s.segment(nodes, done, false, lim); len(multi.instrs) >= len(seg.instrs) {
				seg = multi
			}
		}
		var run []int
		if len(seg.instrs) > 0 {
			s.launches = append(s.launches, seg)
			run = seg.instrs
		} else {
			g := -1
			for i, n := range nodes {
				if !done[i] && n.class == classGEMM && ready(n, done, nil) {
					g = i
					break
				}
			}
			if g < 0 {
				return nil, fmt.Errorf("cuda: internal error: no instruction of the program can be scheduled")
			}
			s.launches = append(s.launches, launch{gemm: nodes[g].gemm, grid: 1, block: 1, instrs: []int{nodes[g].idx}})
			run = []int{nodes[g].idx}
		}
		for _, idx := range run {
			for i, n := range nodes {
				if n.idx == idx {
					done[i] = true
				}
			}
			left--
		}
	}
	return s, nil
}

func newNode(p *graph.Program, i int, in graph.Instr, lim limits, onesView map[int]int) *node {
	n := &node{idx: i, in: in, writes: []int{p.Storage(in.Dst)}}
	for _, r := range in.Reads() {
		n.reads = append(n.reads, p.Storage(r))
	}
	for _, b := range append([]int{in.Dst}, in.Reads()...) {
		n.maxElem = max(n.maxElem, p.Bufs[b].Len())
	}
	n.small = n.maxElem <= lim.singleMax
	a := p.Bufs[in.A]
	switch in.Op.Def().Form {
	case graph.FormMatMul:
		n.class = classGEMM
		g := planGEMM(p, in)
		n.gemm = &g
	case graph.FormColSums:
		if ones, ok := onesView[a.Rows]; ok && !n.small {
			n.class = classGEMM
			g := planGEMM(p, graph.Instr{Op: graph.MatMul, Dst: in.Dst, A: ones, B: in.A, Alpha: in.Alpha, Beta: in.Beta})
			n.gemm = &g
			n.reads = append(n.reads, p.Storage(ones))
		} else {
			// Threads split the rows as well as the columns (gt_seg1).
			n.class, n.width = classSingle, a.Len()
		}
	case graph.FormScalar:
		// Any length: one block strides through it, so it is always "small".
		n.class, n.width, n.small = classSingle, a.Len(), true
	case graph.FormRows, graph.FormRowCosts:
		// A thread a row, reading it whole: one block strides through the
		// rows, which are few (a batch) and short (ten digits).
		n.class, n.width, n.small = classSingle, a.Rows, true
	case graph.FormIm2Col, graph.FormCol2Im, graph.FormPermute, graph.FormPool, graph.FormPoolBack, graph.FormMap, graph.FormGroups, graph.FormMask:
		// Chapter 6's ops: a thread per element of Dst, which reads its
		// operands elsewhere than at its own index, so only what earlier
		// launches wrote.
		n.class, n.width, n.spread = classElem, p.Bufs[in.Dst].Len(), n.reads
	default:
		n.class, n.width = classElem, p.Bufs[in.Dst].Len()
		if in.Op.Def().Form == graph.FormRow {
			n.spread = []int{p.Storage(in.B)}
		}
	}
	return n
}

func overlaps(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// ready reports whether every dependency of n has run, in an earlier launch
// or (when ok allows it) earlier in the segment being built.
func ready(n *node, done []bool, ok func(dep int) bool) bool {
	for _, d := range n.deps {
		if !done[d] && (ok == nil || !ok(d)) {
			return false
		}
	}
	return true
}

// segment gathers, in program order and until nothing more fits, the
// instructions that can run in one segment of the given kind after what is
// done. A one-block segment takes any small non-product instruction, in
// any dependency on the segment's earlier ops, the barrier after each op
// ordering them. A grid segment takes element-wise instructions only, and
// one that depends on an op of the same segment only where both touch the
// shared memory element by element: each thread then runs every op on its
// own elements, and nothing else orders them.
func (s *schedule) segment(nodes []*node, done []bool, single bool, lim limits) launch {
	in := make([]bool, len(nodes))
	seg := launch{single: single}
	eligible := func(n *node) bool {
		if single {
			return n.class != classGEMM && (n.small || lim.noGrid)
		}
		return n.class == classElem
	}
	for grew := true; grew; {
		grew = false
		for j, n := range nodes {
			if done[j] || in[j] || !eligible(n) {
				continue
			}
			ok := func(d int) bool {
				if !in[d] {
					return false
				}
				if single {
					return true
				}
				m := nodes[d]
				return !overlaps(m.writes, n.spread) && !overlaps(m.spread, n.writes)
			}
			if !ready(n, done, ok) {
				continue
			}
			in[j] = true
			grew = true
			seg.instrs = append(seg.instrs, n.idx)
			seg.ops = append(seg.ops, s.desc(n))
		}
	}
	if len(seg.instrs) == 0 {
		return seg
	}
	width := 1
	for j, n := range nodes {
		if in[j] {
			width = max(width, n.width)
		}
	}
	if single {
		seg.grid, seg.block = 1, oneBlock(width, lim.maxThreads)
	} else {
		seg.grid, seg.block = gridFor(width, segnThreads)
	}
	return seg
}

// desc is a node's op descriptor.
func (s *schedule) desc(n *node) opDesc {
	p := s.prog
	if n.epilog {
		return opDesc{Op: opEpilogue, Dst: -1, A: int64(n.in.A), B: -1, N: int64(p.Batch), Cols: int64(s.batchSize)}
	}
	in := n.in
	def := in.Op.Def()
	d := opDesc{Op: int64(in.Op), Dst: int64(in.Dst), A: int64(in.A), B: -1,
		N: int64(p.Bufs[in.Dst].Len()), Alpha: in.Alpha, Beta: in.Beta}
	a := p.Bufs[in.A]
	if def.Form.ReadsB() {
		d.B = int64(in.B)
	}
	switch def.Form {
	case graph.FormRow:
		d.Cols = int64(p.Bufs[in.B].Cols)
	case graph.FormColSums:
		d.Cols, d.Rows = int64(a.Cols), int64(a.Rows)
	case graph.FormScalar:
		d.Rows = int64(a.Len())
	case graph.FormRows, graph.FormRowCosts:
		d.Cols, d.Rows = int64(a.Cols), int64(a.Rows)
	default:
		shapedDesc(&d, def.Form, p.InstrShapes(in), in.Alpha)
	}
	return d
}

// oneBlock is the block for a one-block segment whose widest op keeps
// width threads busy: whole warps, no more than the device allows.
func oneBlock(width, maxThreads int) int {
	return max(32, min(roundUp(width, 32), maxThreads/32*32))
}

// gridFor is the geometry of a grid-stride kernel over n elements with
// blocks of up to block threads.
func gridFor(n, block int) (grid, threads int) {
	threads = max(32, min(block, roundUp(n, 32)))
	return max(1, min((n+threads-1)/threads, maxGrid)), threads
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// gatherGeometry is the launch of gt_gather for m images.
func gatherGeometry(m int) (grid, block int) { return gridFor(m*network.InputSize, segnThreads) }

// argmaxGeometry is the launch of gt_argmax for m rows.
func argmaxGeometry(m int) (grid, block int) { return gridFor(m, segnThreads) }

// matmulFlops counts the floating-point operations of the schedule's
// products that come from the program's MatMul instructions (not those
// standing in for other instructions, such as a row sum through a ones
// vector).
func (s *schedule) matmulFlops() float64 {
	var f float64
	for _, l := range s.launches {
		if l.gemm != nil && s.prog.Instrs[l.instrs[0]].Op == graph.MatMul {
			f += l.gemm.Flops()
		}
	}
	return f
}

// String lists the launches, for tests and for reading what a step costs.
func (s *schedule) String() string {
	var b strings.Builder
	p := s.prog
	name := func(i int) string {
		if i < len(p.Instrs) {
			return fmt.Sprintf("%v→%s", p.Instrs[i].Op, p.Bufs[p.Instrs[i].Dst].Name)
		}
		return "epilogue"
	}
	fmt.Fprintf(&b, "schedule batch=%d: %d launches + gather\n", p.Batch, len(s.launches))
	for _, l := range s.launches {
		switch {
		case l.gemm != nil:
			g := l.gemm
			fmt.Fprintf(&b, "  gemm   %s: %s%s m=%d n=%d k=%d A=%s lda=%d B=%s ldb=%d ldc=%d α=%g β=%g\n",
				name(l.instrs[0]), trans(g.TransA), trans(g.TransB), g.M, g.N, g.K,
				p.Bufs[g.First].Name, g.LdA, p.Bufs[g.Second].Name, g.LdB, g.LdC, g.Alpha, g.Beta)
		default:
			kind := "segn"
			if l.single {
				kind = "seg1"
			}
			var names []string
			for _, i := range l.instrs {
				names = append(names, name(i))
			}
			fmt.Fprintf(&b, "  %s   %d×%d: %s\n", kind, l.grid, l.block, strings.Join(names, ", "))
		}
	}
	return b.String()
}

func trans(t bool) string {
	if t {
		return "T"
	}
	return "N"
}
