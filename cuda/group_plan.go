package cuda

import (
	"fmt"
	"reflect"

	"github.com/gputrain/gputrain/graph"
)

// groupPlan is one program planned for a group of networks that train as
// one (group_gpu.go): the first network's schedule, whose launches every
// network runs, and each network's own op descriptors, which carry its
// own scalars (η, the weight decay 1 − ηλ/n) where the programs differ.
//
// A cuBLAS strided-batched product takes one α and one β for every
// matrix of the batch. A product whose α or β differ between the networks
// (the weight update W ← (1 − ηλ/n)·W − η/m·δᵀ·X) is split in two: the
// product alone, α = 1 and β = 0, into a scratch buffer S of each network,
// then one element-wise launch that gives each network its own
// W ← β·W + α·S (an UPDATE op; an AFFINE one where every β is 0, since W
// is then not to be read). Each element is rounded as the one product
// would round it, α·s and β·w apart, then their sum.
type groupPlan struct {
	s   *schedule    // the first network's, with the split products
	ops [][][]opDesc // by launch, then network: its descriptors (nil for a product)
}

// planGroup plans the programs of a group's networks, ps (one each, the
// same program but for their scalars); batchSize as newSchedule's.
func planGroup(ps []*graph.Program, lim limits, batchSize int) (*groupPlan, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("cuda: internal error: a group of no networks")
	}
	ss := make([]*schedule, len(ps))
	for j, p := range ps {
		s, err := newSchedule(p, lim, batchSize)
		if err != nil {
			return nil, err
		}
		if j > 0 {
			if err := sameSchedule(ss[0], s); err != nil {
				return nil, fmt.Errorf("cuda: network %d of the group compiles to another program than the first's (%v): it must train in a group of its own", j+1, err)
			}
		}
		ss[j] = s
	}
	lead := ss[0]
	out := &schedule{prog: lead.prog, ones: lead.ones, batchSize: lead.batchSize}
	gp := &groupPlan{s: out}
	for i, l := range lead.launches {
		if l.gemm == nil {
			out.launches = append(out.launches, l)
			per := make([][]opDesc, len(ss))
			for j, s := range ss {
				per[j] = s.launches[i].ops
			}
			gp.ops = append(gp.ops, per)
			continue
		}
		same, allZeroBeta := true, true
		for _, s := range ss {
			g := s.launches[i].gemm
			same = same && g.Alpha == l.gemm.Alpha && g.Beta == l.gemm.Beta
			allZeroBeta = allZeroBeta && g.Beta == 0
		}
		if same {
			out.launches = append(out.launches, l)
			gp.ops = append(gp.ops, nil)
			continue
		}
		// The product into a scratch buffer of the destination's shape,
		// then each network's own α and β.
		dst := out.prog.Bufs[l.gemm.Dst]
		scratch := len(out.prog.Bufs)
		out.prog.Bufs = append(out.prog.Bufs, graph.Buf{Name: "scratch-" + dst.Name, Rows: dst.Rows, Cols: dst.Cols, Kind: graph.Temp, Alias: -1})
		g := *l.gemm
		g.Dst, g.Alpha, g.Beta = scratch, 1, 0
		out.launches = append(out.launches, launch{gemm: &g, grid: 1, block: 1, instrs: l.instrs})
		gp.ops = append(gp.ops, nil)
		n := dst.Len()
		apply := launch{instrs: l.instrs}
		apply.grid, apply.block = gridFor(n, segnThreads)
		per := make([][]opDesc, len(ss))
		for j, s := range ss {
			gj := s.launches[i].gemm
			o := opDesc{Op: int64(graph.Update), Dst: int64(l.gemm.Dst), A: int64(scratch), B: -1, N: int64(n), Alpha: -gj.Alpha, Beta: gj.Beta}
			if allZeroBeta {
				o = opDesc{Op: int64(graph.Affine), Dst: int64(l.gemm.Dst), A: int64(scratch), B: -1, N: int64(n), Alpha: gj.Alpha}
			}
			per[j] = []opDesc{o}
		}
		apply.ops = per[0]
		out.launches = append(out.launches, apply)
		gp.ops = append(gp.ops, per)
	}
	return gp, nil
}

// sameSchedule reports how b's launches differ from a's other than in
// their scalars (α and β), if they do.
func sameSchedule(a, b *schedule) error {
	if !reflect.DeepEqual(a.prog.Bufs, b.prog.Bufs) {
		return fmt.Errorf("other buffers")
	}
	if len(a.launches) != len(b.launches) {
		return fmt.Errorf("%d launches, not %d", len(b.launches), len(a.launches))
	}
	for i, la := range a.launches {
		lb := b.launches[i]
		if (la.gemm == nil) != (lb.gemm == nil) || la.single != lb.single || la.grid != lb.grid || la.block != lb.block || len(la.ops) != len(lb.ops) {
			return fmt.Errorf("launch %d differs", i)
		}
		if la.gemm != nil {
			ga, gb := *la.gemm, *lb.gemm
			ga.Alpha, ga.Beta, gb.Alpha, gb.Beta = 0, 0, 0, 0
			if ga != gb {
				return fmt.Errorf("product %d differs", i)
			}
		}
		for k, oa := range la.ops {
			ob := lb.ops[k]
			oa.Alpha, oa.Beta, ob.Alpha, ob.Beta = 0, 0, 0, 0
			if oa != ob {
				return fmt.Errorf("op %d of launch %d differs", k, i)
			}
		}
	}
	return nil
}
