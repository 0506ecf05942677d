//go:build gpu

package cuda

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Group trains several networks of one shape on the GPU as one batched
// program, a sweep's: each network is a trainer of its own (its own η and
// λ, parameters, shuffled order, evaluation and divergence), but their
// training steps run together. Every buffer of the compiled program has a
// network axis (one copy per network, a constant stride apart), each
// product is one strided-batched cuBLAS call over the networks, each
// segment of kernels one launch over them all (network n in blockIdx.y,
// reading its own buffer table and op descriptors, where its scalars
// are), and the gather reads each network's batch from its own order. A
// group's steps are captured into CUDA graphs and replayed as a solo
// run's are.
//
// A trainer's Train waits until every trainer of the group still open is
// waiting too; the last to arrive enqueues the steps of all of them (as
// cpu.Group does), so each network needs a goroutine of its own. The
// networks must have the same program: the same sizes, activation, cost,
// batch size and dtype (η, λ and the seed may differ); networks of layers
// (chapter 6) are not batched: open each with Open. Every trainer of a
// group is opened before any of them trains, and closed when done.
type Group struct {
	mu       sync.Mutex
	cond     *sync.Cond
	cfg      train.Config // the first network's
	members  []*member
	live     int // members not closed
	waiting  int // members inside Train
	gen      uint64
	training *mnist.Set
	dev      *backend // the device, opened with the first network
	device   string   // what Device says of it
	started  bool     // the group's memory is laid out: no more networks
	fn       struct{ seg1, segn, gather cu.Function }

	params      cu.DevicePtr // every network's parameters, paramStride bytes apart
	paramStride int64
	paramAt     []int64      // in a network's copy: layer l's weights at [2l], biases at [2l+1]
	order       cu.DevicePtr // int32: each network's epoch order, orderStride entries apart
	orderStride int64
	costs       cu.DevicePtr // float64: each network's step costs, costStride apart
	costStride  int64
	offsets     cu.DevicePtr // int64: each network's batch offset
	other       *mnist.Set   // the set in the device's other slot
	progs       map[groupKey]*groupMachine
	replays     int // captured graphs launched, for the tests
}

// NewGroup returns an empty group; its first Open opens the device.
func NewGroup() *Group {
	g := &Group{progs: map[groupKey]*groupMachine{}}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// member is one network of a group: its train.Machine.
type member struct {
	g       *Group
	slot    int // its index: its copy of every buffer
	cfg     train.Config
	net     *network.Network // parameters set before the group started
	other   *mnist.Set       // what its other slot holds
	m, k    int              // the waiting Train call
	waiting bool
	closed  bool
	err     error
}

// groupTrainer is a network of a group, which also names the device.
type groupTrainer struct{ *train.Session }

// Device names the GPU and the group.
func (t *groupTrainer) Device() string {
	mb := t.Machine().(*member)
	mb.g.mu.Lock()
	defer mb.g.mu.Unlock()
	return fmt.Sprintf("%s; a group of %d networks trained as one batched program", mb.g.device, len(mb.g.members))
}

// Open opens a trainer for cfg in the group.
func (g *Group) Open(cfg train.Config, training *mnist.Set) (train.Trainer, error) {
	if err := g.admit(cfg); err != nil {
		return nil, err
	}
	// train.Open loads the training set through the member, which takes
	// g.mu itself.
	s, err := train.Open(cfg, training, func(cfg train.Config) (train.Machine, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dev == nil {
			if err := g.openDevice(cfg); err != nil {
				return nil, err
			}
			g.cfg = cfg
		}
		mb := &member{g: g, slot: len(g.members), cfg: cfg}
		g.members = append(g.members, mb)
		g.live++
		return mb, nil
	})
	if err != nil {
		return nil, err
	}
	return &groupTrainer{s}, nil
}

// admit says why cfg's network cannot join the group, if it cannot.
func (g *Group) admit(cfg train.Config) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return errors.New("cuda: a group takes no more networks once it has begun training")
	}
	if len(cfg.Layers) > 0 {
		return errors.New("cuda: a group trains networks of sizes (fully connected) only: train a network of layers alone")
	}
	if cfg.Eta <= 0 {
		return errors.New("cuda: a group trains: it needs a learning rate")
	}
	if len(g.members) > 0 {
		a, b := g.cfg, cfg
		if !slices.Equal(a.Sizes, b.Sizes) || a.Activation != b.Activation || a.Cost != b.Cost || a.BatchSize != b.BatchSize || a.Dtype != b.Dtype {
			return fmt.Errorf("cuda: a group trains networks of one shape: %v %s %s batch %d %v, not %v %s %s batch %d %v",
				a.Sizes, a.Activation, a.Cost, a.BatchSize, a.Dtype, b.Sizes, b.Activation, b.Cost, b.BatchSize, b.Dtype)
		}
		if len(g.members) >= maxGrid {
			return fmt.Errorf("cuda: a group holds at most %d networks", maxGrid)
		}
	}
	return nil
}

// openDevice opens the device the group's networks share, and the
// batched kernels.
func (g *Group) openDevice(cfg train.Config) error {
	b, err := openBackend(cfg, func(b *backend) error {
		if err := b.initDevice(); err != nil {
			return err
		}
		for _, k := range []struct {
			fn   *cu.Function
			name string
		}{{&g.fn.seg1, "gt_bseg1"}, {&g.fn.segn, "gt_bsegn"}, {&g.fn.gather, "gt_bgather"}} {
			full := kernelName(k.name, cfg.Dtype)
			var err error
			if *k.fn, err = b.mod.Function(full); err != nil {
				return fmt.Errorf("cuda: finding kernel %s: %w", full, describe(err))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	g.dev, g.device = b, b.device
	return nil
}

// start lays out the group's memory once every network is open: the
// parameters of all, the training set once, each network's order, costs
// and batch offset; then uploads the parameters set so far. Called with
// g.mu held, inside dev.do.
func (g *Group) start() error {
	if g.started {
		return nil
	}
	if g.training == nil {
		return errors.New("cuda: the group was opened without a training set")
	}
	b, nets := g.dev, int64(len(g.members))
	const align = 256
	g.paramAt = g.paramAt[:0]
	var stride int64
	for _, ps := range g.cfg.Params() {
		g.paramAt = append(g.paramAt, stride)
		stride += roundUp64(int64(ps.Len())*b.elem, align)
		g.paramAt = append(g.paramAt, stride)
		stride += roundUp64(int64(ps.B[0])*b.elem, align)
	}
	g.paramStride = stride
	var err error
	if g.params, err = b.alloc(nets*stride, fmt.Sprintf("the parameters of %d networks", nets)); err != nil {
		return err
	}
	if err := b.zero(g.params, nets*stride); err != nil {
		return err
	}
	if b.sets[train.TrainingSlot], err = b.upload(g.training, "the training set"); err != nil {
		return err
	}
	n := int64(g.training.Len())
	g.orderStride, g.costStride = n, (n+int64(g.cfg.BatchSize)-1)/int64(g.cfg.BatchSize)
	if g.order, err = b.alloc(nets*max(n, 1)*4, "the networks' orders"); err != nil {
		return err
	}
	if g.costs, err = b.alloc(nets*max(g.costStride, 1)*8, "the networks' step costs"); err != nil {
		return err
	}
	if g.offsets, err = b.alloc(nets*8, "the networks' batch offsets"); err != nil {
		return err
	}
	if err := b.zero(g.offsets, nets*8); err != nil {
		return err
	}
	g.started = true
	for _, mb := range g.members {
		if mb.net != nil {
			if err := mb.upload(mb.net); err != nil {
				return err
			}
			mb.net = nil
		}
	}
	return b.sync("setting up the group")
}

// do runs f on the device with g.mu held, the group started.
func (g *Group) do(what string, f func() error) error {
	if g.dev == nil {
		return fmt.Errorf("cuda: %s: the group is closed", what)
	}
	return g.dev.do(what, func() error {
		if err := g.start(); err != nil {
			return err
		}
		return f()
	})
}

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
	if err := b.toDevice(mc.table, unsafe.Pointer(&table[0]), int64(len(table))*8, "the buffer tables of "+what); err != nil {
		return nil, err
	}
	if len(descs) > 0 {
		if err := b.toDevice(arena+cu.DevicePtr(descStart), unsafe.Pointer(&descs[0]), int64(len(descs)), "the op descriptors of "+what); err != nil {
			return nil, err
		}
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

// release destroys the group's captured steps and closes the device.
func (g *Group) release() error {
	var errs []error
	for _, mc := range g.progs {
		for _, e := range mc.graphs {
			if err := e.destroy(); err != nil {
				errs = append(errs, fmt.Errorf("cuda: destroying the group's captured steps: %w", describe(err)))
			}
		}
		mc.graphs = nil
	}
	if g.dev != nil {
		errs = append(errs, g.dev.Close())
		g.dev, g.started, g.progs = nil, false, map[groupKey]*groupMachine{}
	}
	return errors.Join(errs...)
}

// Load records a training set (the group's, one for all its networks) or
// a set for the member's other slot, uploaded when it runs a forward
// program on it.
func (mb *member) Load(slot train.Slot, s *mnist.Set) error {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.Float32 != nil {
		return fmt.Errorf("cuda: a set of float pixels (the book's mnist.pkl.gz) does not run on the GPU yet: train it with --device cpu, or on MNIST's IDX files")
	}
	if slot == train.OtherSlot {
		mb.other = s
		if g.other == s {
			g.other = nil // it may have changed: upload it again
		}
		return nil
	}
	switch {
	case g.training == nil && !g.started:
		g.training = s
	case g.training != s:
		return errors.New("cuda: the networks of a group train on one training set")
	}
	return nil
}

// paramAt is where layer l's weights and biases of the member are.
func (mb *member) paramAt(l int) (w, bias cu.DevicePtr) {
	g := mb.g
	base := g.params + cu.DevicePtr(int64(mb.slot)*g.paramStride)
	return base + cu.DevicePtr(g.paramAt[2*l]), base + cu.DevicePtr(g.paramAt[2*l+1])
}

// upload copies n's parameters into the member's copy.
func (mb *member) upload(n *network.Network) error { return mb.g.dev.writeParams(n, mb.paramAt) }

func (mb *member) SetParams(n *network.Network) error {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.started {
		mb.net = n
		return nil
	}
	return g.dev.do("setting the parameters", func() error {
		if err := mb.upload(n); err != nil {
			return err
		}
		return g.dev.sync("setting the parameters")
	})
}

func (mb *member) Params() (*network.Network, error) {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	var n *network.Network
	err := g.do("reading the parameters", func() (err error) {
		n, err = g.dev.readParams(mb.cfg, mb.paramAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Order uploads the member's order for the epoch and starts its batch
// offset at 0. The stream runs the upload after the steps enqueued before
// it, so no step of the group reads an order being replaced.
func (mb *member) Order(order []int32, step uint64) error {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.do("uploading the epoch's order", func() error {
		if len(order) == 0 {
			return nil
		}
		if int64(len(order)) > g.orderStride {
			return fmt.Errorf("cuda: an order of %d images for a group's training set of %d", len(order), g.orderStride)
		}
		b := g.dev
		if err := b.toDevice(g.order+cu.DevicePtr(int64(mb.slot)*g.orderStride*4), unsafe.Pointer(&order[0]), int64(len(order))*4, "the epoch's order"); err != nil {
			return err
		}
		return b.zero(g.offsets+cu.DevicePtr(mb.slot*8), 8)
	})
}

// Train waits for the group's other open members, then the last to come
// enqueues every waiting member's steps (see Group).
func (mb *member) Train(m, k int) error {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	mb.m, mb.k, mb.waiting, mb.err = m, k, true, nil
	g.waiting++
	if g.waiting == g.live {
		g.runWaiting()
	} else {
		for gen := g.gen; g.gen == gen; {
			g.cond.Wait()
		}
	}
	return mb.err
}

// Costs waits for the device and reads the member's step costs back.
func (mb *member) Costs(dst []float64) error {
	if len(dst) == 0 {
		return nil
	}
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.do("reading the step costs", func() error {
		b := g.dev
		if err := b.sync("training"); err != nil {
			return err
		}
		return b.fromDevice(unsafe.Pointer(&dst[0]), g.costs+cu.DevicePtr(int64(mb.slot)*g.costStride*8), int64(len(dst))*8, "the step costs")
	})
}

// Forward runs a forward program for the member alone.
func (mb *member) Forward(slot train.Slot, lo int, out []float64, cost bool) (float64, error) {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	var c float64
	err := g.do("running a forward pass", func() error {
		b := g.dev
		if slot == train.OtherSlot && g.other != mb.other {
			if mb.other == nil {
				return errors.New("cuda: no set loaded to run a forward pass on")
			}
			if err := b.Load(train.OtherSlot, mb.other); err != nil {
				return err
			}
			g.other = mb.other
		}
		kind := train.ForwardProgram
		if cost {
			kind = train.CostProgram
		}
		mc, err := g.machine(len(out)/network.OutputSize, kind)
		if err != nil {
			return err
		}
		if err := g.enqueue(mc, mb.slot, 1, b.sets[slot], false, lo); err != nil {
			return err
		}
		c, err = b.readForward(mc.p, mc.ptr, out, cost)
		return err
	})
	return c, err
}

// Close leaves the group (the others no longer wait for it); the last to
// leave frees the device.
func (mb *member) Close() error {
	g := mb.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if mb.closed {
		return nil
	}
	mb.closed = true
	g.live--
	if g.waiting > 0 && g.waiting == g.live {
		g.runWaiting()
	}
	if g.live == 0 {
		return g.release()
	}
	return nil
}
