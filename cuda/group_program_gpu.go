//go:build gpu

package cuda

import (
	"fmt"
	"unsafe"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"gorgonia.org/cu"
)

// A group's programs on the device: each built once per batch size and
// kind with a network axis, and a step's batched launches, direct or
// replayed from a captured graph, for a stretch of the group's networks.

// groupKey names a program of the group: its batch size and kind.
type groupKey struct {
	m    int
	kind train.Kind
}

// groupMachine is a program of the group on the device: its buffers
// (copies of them: one per network for a training program, one shared
// for a forward program, which runs one network at a time), a buffer
// table and op descriptors per network, and its captured steps.
type groupMachine struct {
	p           *graph.Program // the first network's, with the plan's scratch buffers
	plan        *groupPlan
	copies      int
	ptr         []cu.DevicePtr // network 0's address of every buffer
	param       []bool         // the buffer is a parameter
	arenaStride int64          // bytes between two copies of the other buffers; 0 with one copy
	nbufs       int64
	table       cu.DevicePtr   // nets × nbufs addresses
	descs       []cu.DevicePtr // by launch: nets × its ops; 0 for a product
	runs        int
	graphs      map[[3]int]*execGraph // by first network, networks and steps
}

// machine returns the group's program of kind for batch m, building it
// on first use.
func (g *Group) machine(m int, kind train.Kind) (*groupMachine, error) {
	key := groupKey{m, kind}
	if mc, ok := g.progs[key]; ok {
		return mc, nil
	}
	b := g.dev
	ps := make([]*graph.Program, len(g.members))
	for j, mb := range g.members {
		var err error
		switch kind {
		case train.StepProgram:
			ps[j], err = graph.Compile(mb.cfg.Spec, m, mb.cfg.Dtype, graph.Step{Eta: mb.cfg.Eta, N: mb.cfg.TrainSize, Batch: mb.cfg.BatchSize})
		case train.CostProgram:
			ps[j], err = graph.CompileMonitor(mb.cfg.Spec, m, mb.cfg.Dtype)
		default:
			ps[j], err = graph.CompileForward(mb.cfg.Spec, m, mb.cfg.Dtype)
		}
		if err != nil {
			return nil, err
		}
	}
	bs := 0
	if kind == train.StepProgram {
		bs = g.cfg.BatchSize
	}
	plan, err := planGroup(ps, b.lim, bs)
	if err != nil {
		return nil, err
	}
	s := plan.s
	nets := int64(len(g.members))
	mc := &groupMachine{p: s.prog, plan: plan, copies: 1, ptr: make([]cu.DevicePtr, len(s.prog.Bufs)),
		param: make([]bool, len(s.prog.Bufs)), nbufs: int64(len(s.prog.Bufs)), descs: make([]cu.DevicePtr, len(s.launches)),
		graphs: map[[3]int]*execGraph{}}
	if kind == train.StepProgram {
		mc.copies = int(nets)
	}
	what := fmt.Sprintf("the batch-%d programs of %d networks", m, nets)
	p0 := ps[0]
	paramOf := map[int]int64{}
	for l := range p0.Weights {
		paramOf[s.prog.Storage(p0.Weights[l])] = g.paramAt[2*l]
		paramOf[s.prog.Storage(p0.Biases[l])] = g.paramAt[2*l+1]
	}
	const align = 256
	offsets := make([]int64, len(s.prog.Bufs))
	var copyBytes int64
	for i, buf := range s.prog.Bufs {
		if _, ok := paramOf[i]; ok || buf.Alias >= 0 {
			continue
		}
		offsets[i] = copyBytes
		copyBytes += roundUp64(int64(buf.Len())*b.elem, align)
	}
	copyBytes = max(copyBytes, align)
	if mc.copies > 1 {
		mc.arenaStride = copyBytes
	}
	total := copyBytes * int64(mc.copies)
	tableAt := total
	total += roundUp64(nets*mc.nbufs*8, align)
	descStart := total
	var descs []byte
	descAt := make([]int64, len(s.launches))
	for i, l := range s.launches {
		if l.gemm != nil {
			continue
		}
		descAt[i] = total + int64(len(descs))
		for _, ops := range plan.ops[i] {
			descs = append(descs, encodeOps(ops)...)
		}
	}
	total += int64(len(descs))
	arena, err := b.alloc(total, what)
	if err != nil {
		return nil, err
	}
	done := false
	defer b.freeUnless(&done, arena, what)
	// Network n's address of buffer i.
	addr := func(n int64, i int) cu.DevicePtr {
		st := s.prog.Storage(i)
		if at, ok := paramOf[st]; ok {
			return g.params + cu.DevicePtr(n*g.paramStride+at)
		}
		return arena + cu.DevicePtr(n*mc.arenaStride+offsets[st])
	}
	table := make([]uint64, 0, nets*mc.nbufs)
	for n := range nets {
		for i := range s.prog.Bufs {
			table = append(table, uint64(addr(n, i)))
		}
	}
	for i := range s.prog.Bufs {
		mc.ptr[i] = addr(0, i)
		_, mc.param[i] = paramOf[s.prog.Storage(i)]
	}
	mc.table = arena + cu.DevicePtr(tableAt)
	for i, l := range s.launches {
		if l.gemm == nil {
			mc.descs[i] = arena + cu.DevicePtr(descAt[i])
		}
	}
	if err := b.zero(arena, copyBytes*int64(mc.copies)); err != nil {
		return nil, err
	}
	if s.ones >= 0 {
		ones := make([]float64, s.prog.Bufs[s.ones].Len())
		for i := range ones {
			ones[i] = 1
		}
		for n := range int64(mc.copies) {
			if err := b.floatsToDevice(addr(n, s.ones), ones, "a ones vector"); err != nil {
				return nil, err
			}
		}
	}
	if err := b.uploadTables(mc.table, table, arena+cu.DevicePtr(descStart), descs, what); err != nil {
		return nil, err
	}
	done = true
	g.progs[key] = mc
	return mc, nil
}

// launchNets launches f over nets networks: grid blocks for each.
func (g *Group) launchNets(f cu.Function, what string, grid, nets, block int, a []unsafe.Pointer) error {
	if err := f.Launch(grid, nets, 1, block, 1, 1, 0, g.dev.stream, a); err != nil {
		return fmt.Errorf("cuda: launching %s (%d×%d blocks of %d threads): %w", what, grid, nets, block, describe(err))
	}
	return nil
}

// enqueue issues one step of mc for networks first … first+nets−1: the
// gather of each one's batch (from its order in training, images base …
// base+m−1 of src otherwise), then the launches.
func (g *Group) enqueue(mc *groupMachine, first, nets int, src deviceSet, training bool, base int) error {
	b := g.dev
	m := mc.p.Batch
	// How many elements apart two networks' copies of buffer id are.
	stride := func(id int) int64 {
		if mc.param[id] {
			return g.paramStride / b.elem
		}
		return mc.arenaStride / b.elem
	}
	at := func(id int) cu.DevicePtr { return mc.ptr[id] + cu.DevicePtr(int64(first)*stride(id)*b.elem) }
	var y cu.DevicePtr
	if mc.p.Y >= 0 {
		y = at(mc.p.Y)
	}
	var order, offset, costs cu.DevicePtr
	if training {
		order = g.order + cu.DevicePtr(int64(first)*g.orderStride*4)
		offset = g.offsets + cu.DevicePtr(first*8)
		costs = g.costs + cu.DevicePtr(int64(first)*g.costStride*8)
	}
	grid, block := gatherGeometry(m)
	xs := uint64(stride(mc.p.X)) // Y's too: every buffer but the parameters has one stride
	if err := g.launchNets(g.fn.gather, "the batch gather", grid, nets, block, args(uint64(at(mc.p.X)), uint64(y), xs, xs,
		uint64(src.images), uint64(src.labels), uint64(order), uint64(g.orderStride), uint64(offset), uint64(base), uint64(m), uint64(nets))); err != nil {
		return err
	}
	table := uint64(mc.table) + uint64(first)*uint64(mc.nbufs)*8
	for i, l := range mc.plan.s.launches {
		if l.gemm != nil {
			if err := b.blas.gemmBatched(l.gemm, at, stride, nets); err != nil {
				return fmt.Errorf("cuda: matrix product %d×%d×%d (batch %d) of %d networks: %w", l.gemm.M, l.gemm.N, l.gemm.K, m, nets, err)
			}
			continue
		}
		nops := uint64(len(l.ops))
		descs := uint64(mc.descs[i]) + uint64(first)*nops*opDescSize
		if l.single {
			if err := g.launchNets(g.fn.seg1, "a one-block segment", 1, nets, l.block, args(descs, nops, table, uint64(mc.nbufs),
				uint64(offset), uint64(costs), uint64(g.costStride), uint64(nets))); err != nil {
				return err
			}
			continue
		}
		if err := g.launchNets(g.fn.segn, "an element-wise segment", l.grid, nets, l.block, args(descs, nops, table, uint64(mc.nbufs), uint64(nets))); err != nil {
			return err
		}
	}
	return nil
}

// step runs k training steps of mc for networks first … first+nets−1,
// launch by launch the first time, then by replaying a captured graph,
// as backend.step.
func (g *Group) step(mc *groupMachine, first, nets, k int) error {
	b := g.dev
	direct := func() error {
		return g.enqueue(mc, first, nets, b.sets[train.TrainingSlot], true, 0)
	}
	if !b.graphs || b.graphErr != nil || mc.runs == 0 {
		for range k {
			if err := direct(); err != nil {
				return err
			}
		}
		mc.runs++
		return nil
	}
	key := [3]int{first, nets, k}
	exec := mc.graphs[key]
	if exec == nil {
		if exec = b.captureSteps(k, direct); exec == nil {
			return g.step(mc, first, nets, k)
		}
		mc.graphs[key] = exec
	}
	if err := exec.launch(b.stream); err != nil {
		return fmt.Errorf("cuda: launching a captured step of %d networks (batch %d): %w", nets, mc.p.Batch, err)
	}
	g.replays++
	mc.runs++
	return nil
}

// runWaiting enqueues the steps of every waiting member, one batched run
// for each stretch of neighbours (by slot) that wait for the same steps,
// then wakes them. Called with g.mu held, every open member waiting.
func (g *Group) runWaiting() {
	for i := 0; i < len(g.members); {
		a := g.members[i]
		if !a.waiting {
			i++
			continue
		}
		j := i + 1
		for j < len(g.members) && g.members[j].waiting && g.members[j].m == a.m && g.members[j].k == a.k {
			j++
		}
		err := g.do("training", func() error {
			mc, err := g.machine(a.m, train.StepProgram)
			if err != nil {
				return err
			}
			for k := a.k; k > 0; {
				n := 1
				if k >= stepsPerGraph {
					n = stepsPerGraph
				}
				if err := g.step(mc, i, j-i, n); err != nil {
					return err
				}
				k -= n
			}
			return nil
		})
		for _, mb := range g.members[i:j] {
			mb.err = err
		}
		i = j
	}
	for _, mb := range g.members {
		mb.waiting = false
	}
	g.waiting = 0
	g.gen++
	g.cond.Broadcast()
}
