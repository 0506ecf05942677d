package cpu

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Group trains several networks together, a sweep's: each network is a
// trainer of its own (its own compiled program with its η and λ, its own
// parameters, order, evaluation and divergence), but their training steps
// run as one. A trainer's Train waits until every trainer of the group
// still open is waiting too; the last to arrive runs all their steps, on
// its own goroutine, while the others sleep. So each network of a group
// needs a goroutine of its own, and the group takes the cores it is given
// (one where there are as many groups as cores): its large products
// split over them, its small ones run on one.
//
// What the networks run together is where a solo step spends its time
// beyond the products it cannot share: networks opened with the same
// stack key (a sweep gives its seed, which fixes the shuffle order) and
// the same first layer and batch size keep their first-layer weights side
// by side in one matrix. When their orders agree, a step gathers the
// batch's images once for all of them and computes their first layer as
// one wider product X·[W₁ W₁′ …]ᵀ over the shared X. Each element of that
// product is the same dot product, over the same vectors, as in the
// network's own program, so every network's result is its solo run's bit
// for bit; the rest of each network's step is its own program. Networks
// whose orders do not agree (a resumed sweep's, an epoch's short last
// batch) take their own steps as solo runs do.
type Group struct {
	mu   sync.Mutex
	cond *sync.Cond
	dt   graph.Dtype
	open bool // a first trainer fixed dt
	f32  *groupOf[float32]
	f64  *groupOf[float64]
	pool *pool // the group's cores beyond the first; nil: one
	// stacked counts the network-steps whose first layer ran stacked.
	stacked int
}

// Stacked is how many network-steps so far ran their first layer in a
// stacked product: what the group gained its time in.
func (g *Group) Stacked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stacked
}

// NewGroup returns an empty group that runs on workers cores (≤ 1: one).
// A group is done once its trainers are all closed.
func NewGroup(workers int) *Group {
	g := &Group{}
	g.cond = sync.NewCond(&g.mu)
	if workers > 1 {
		g.pool = newPool(workers)
	}
	return g
}

// Open opens a trainer for cfg in the group. Networks with
// the same key and first layer are expected to take the same order, and
// are stacked (see Group); key only decides the memory layout, never the
// result. Every trainer of a group must be opened before any of them
// trains, and closed when done: the group waits for each open one.
func (g *Group) Open(cfg train.Config, training *mnist.Set, key string) (train.Trainer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open && cfg.Dtype != g.dt {
		return nil, fmt.Errorf("a group trains in one dtype: %v, not %v", g.dt, cfg.Dtype)
	}
	g.open, g.dt = true, cfg.Dtype
	return train.Open(cfg, training, func(cfg train.Config) (train.Machine, error) {
		if cfg.Dtype == graph.Float64 {
			if g.f64 == nil {
				g.f64 = &groupOf[float64]{g: g}
			}
			return g.f64.add(cfg, key)
		}
		if g.f32 == nil {
			g.f32 = &groupOf[float32]{g: g}
		}
		return g.f32.add(cfg, key)
	})
}

// groupOf is a group's state in its dtype, guarded by g.mu.
type groupOf[T Float] struct {
	g       *Group
	orders  uint64 // Order calls so far
	members []*member[T]
	stacks  []*stack[T]
	live    int    // members not closed
	waiting int    // members inside Train
	gen     uint64 // bumped each time the waiting members' steps are done
}

// stack holds the first-layer weights of its members side by side: rows
// [slot·h, (slot+1)·h) of w are member slot's h×in matrix W₁.
type stack[T Float] struct {
	key     string
	batch   int // the step program's batch size
	h, in   int
	w       []T // (slots·h)×in, grown while members are added
	members []*member[T]
	x, y    []T // the batch's images and one-hot labels, shared
	out     []T // batch×(slots·h): X·wᵀ
	fwd     *gemm[T]
	pool    *pool
	deltas  []groupCoefs[T] // by slot, for update; delta nil: not active
	// same caches which members' orders are equal, by their orders'
	// generations: comparing two orders of 50,000 images at every call
	// of Train took 4% of a sweep's time.
	same map[[2]uint64]bool
}

// groupCoefs is what a member's W₁ update takes from its program: α, β and δ.
type groupCoefs[T Float] struct {
	alpha, beta T
	delta       []T
}

// member is one network of a group: a CPU backend whose steps the group runs.
type member[T Float] struct {
	*backend[T]
	grp      *groupOf[T]
	st       *stack[T] // nil: the network's first layer is not stacked
	slot     int
	update   int  // the index of its W₁ update (firstUpdate)
	biasNext bool // the program's second instruction adds b₁ to X·W₁ᵀ, its only reader (biasNext)
	active   bool // taking the stacked step now
	m, k     int  // the waiting Train call
	waiting  bool // inside Train
	closed   bool
	orderGen uint64 // the group's count of Order calls at this member's last
	err      error
}

// add opens a member's backend and, where its step program begins with
// the first layer's product X·W₁ᵀ, stacks its W₁.
func (gf *groupOf[T]) add(cfg train.Config, key string) (*member[T], error) {
	be, err := newBackend[T](cfg, 1)
	if err != nil {
		return nil, err
	}
	be.pool, be.params.pool = gf.g.pool, gf.g.pool // not planned yet: no step holds the old
	mb := &member[T]{backend: be, grp: gf}
	gf.members = append(gf.members, mb)
	gf.live++
	if st := gf.stackFor(mb, key); st != nil {
		mb.st, mb.slot, mb.update, mb.biasNext = st, len(st.members), firstUpdate(mb.params.P), biasNext(mb.params.P)
		st.members = append(st.members, mb)
		st.grow(gf.g.pool)
	}
	return mb, nil
}

// stackFor finds or makes the stack of mb's key, batch and first layer.
func (gf *groupOf[T]) stackFor(mb *member[T], key string) *stack[T] {
	p := mb.params.P // the step program of the full batch
	if firstProduct(p) < 0 || firstUpdate(p) < 0 {
		return nil
	}
	w := p.Bufs[p.Weights[0]]
	for _, st := range gf.stacks {
		if st.key == key && st.batch == p.Batch && st.h == w.Rows && st.in == w.Cols {
			return st
		}
	}
	st := &stack[T]{key: key, batch: p.Batch, h: w.Rows, in: w.Cols,
		x: make([]T, p.Bufs[p.X].Len()), y: make([]T, p.Bufs[p.Y].Len())}
	gf.stacks = append(gf.stacks, st)
	return st
}

// grow makes room for the newest member: a new matrix holding every
// member's W₁, which each member's machines then use, and the shared X
// and Y in place of the step program's own.
func (st *stack[T]) grow(pl *pool) {
	n, size := len(st.members), st.h*st.in
	w := make([]T, n*size)
	for i, mb := range st.members {
		p := mb.params.P
		copy(w[i*size:(i+1)*size], mb.params.Buf(p.Weights[0]))
	}
	st.w = w
	for i, mb := range st.members {
		p := mb.params.P
		mb.params.setBuf(p.Weights[0], w[i*size:(i+1)*size:(i+1)*size])
		mb.params.setBuf(p.X, st.x)
		mb.params.setBuf(p.Y, st.y)
	}
	st.out = make([]T, st.batch*n*st.h)
	st.fwd = &gemm[T]{transB: true, m: st.batch, n: n * st.h, k: st.in, alpha: 1,
		a: st.x, lda: st.in, b: st.w, ldb: st.in, c: st.out, ldc: n * st.h}
	st.fwd.plan(pl)
	st.pool = pl
	st.deltas = make([]groupCoefs[T], n)
}

// setBuf points buffer i at mem (of its length), copying nothing.
func (m *Machine[T]) setBuf(i int, mem []T) {
	m.bufs[i] = mem
	m.steps = nil
}

// Train waits for the group's other open members, then runs every
// waiting member's steps (see Group).
func (mb *member[T]) Train(m, k int) error {
	gf := mb.grp
	g := gf.g
	g.mu.Lock()
	defer g.mu.Unlock()
	mb.m, mb.k, mb.waiting, mb.err = m, k, true, nil
	gf.waiting++
	if gf.waiting == gf.live {
		gf.runWaiting()
	} else {
		for gen := gf.gen; gf.gen == gen; {
			g.cond.Wait()
		}
	}
	return mb.err
}

// Order takes the member's next order, as the backend's.
func (mb *member[T]) Order(order []int32, step uint64) error {
	g := mb.grp.g
	g.mu.Lock()
	defer g.mu.Unlock()
	mb.grp.orders++
	mb.orderGen = mb.grp.orders
	return mb.backend.Order(order, step)
}

// Forward runs as the backend's, one member at a time: the members share
// the group's pool.
func (mb *member[T]) Forward(slot train.Slot, lo int, out []float64, cost bool) (float64, error) {
	mb.grp.g.mu.Lock()
	defer mb.grp.g.mu.Unlock()
	return mb.backend.Forward(slot, lo, out, cost)
}

// Close leaves the group (the others no longer wait for it) and frees the
// backend; the last to leave stops the group's pool.
func (mb *member[T]) Close() error {
	gf := mb.grp
	g := gf.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if !mb.closed {
		mb.closed = true
		gf.live--
		if gf.waiting > 0 && gf.waiting == gf.live {
			gf.runWaiting()
		}
		if gf.live == 0 && g.pool != nil {
			g.pool.close()
			g.pool = nil
		}
	}
	mb.backend.pool = nil // the group's
	return mb.backend.Close()
}

// runWaiting runs the steps of every waiting member, stacked where their
// orders agree, then wakes them. Every open member is waiting, so none
// touches its memory meanwhile.
func (gf *groupOf[T]) runWaiting() {
	solo := make([]*member[T], 0, gf.waiting)
	done := map[*member[T]]bool{}
	for _, st := range gf.stacks {
		set := st.aligned()
		if len(set) < 2 {
			continue
		}
		st.train(set)
		gf.g.stacked += len(set) * set[0].k
		for _, mb := range set {
			done[mb] = true
		}
	}
	for _, mb := range gf.members {
		if mb.waiting && !done[mb] {
			solo = append(solo, mb)
		}
	}
	for _, mb := range solo {
		mb.err = mb.backend.Train(mb.m, mb.k)
	}
	for _, mb := range gf.members {
		mb.waiting = false
	}
	gf.waiting = 0
	gf.gen++
	gf.g.cond.Broadcast()
}

// aligned is the largest set of st's waiting members that take the same
// full batches from the same order at the same point: they can share X.
func (st *stack[T]) aligned() []*member[T] {
	var best []*member[T]
	for i, a := range st.members {
		if !a.waiting || a.m != st.batch {
			continue
		}
		set := []*member[T]{a}
		for _, b := range st.members[i+1:] {
			if b.waiting && b.m == a.m && b.k == a.k && b.done == a.done && st.sameOrder(a, b) {
				set = append(set, b)
			}
		}
		if len(set) > len(best) {
			best = set
		}
	}
	return best
}

// sameOrder reports whether a and b take the same order.
func (st *stack[T]) sameOrder(a, b *member[T]) bool {
	key := [2]uint64{a.orderGen, b.orderGen}
	same, ok := st.same[key]
	if !ok {
		if len(st.same) > 4*len(st.members)*len(st.members) {
			clear(st.same) // the past epochs'
		}
		if st.same == nil {
			st.same = map[[2]uint64]bool{}
		}
		same = slices.Equal(a.order, b.order)
		st.same[key] = same
	}
	return same
}

// train runs k steps of the aligned members: gather once, the stacked
// first-layer product, then each member's program from its second
// instruction on (the product's columns of it in its first's output)
// except its W₁ update, then all those updates as one product.
func (st *stack[T]) train(set []*member[T]) {
	lead := set[0]
	m, k := lead.m, lead.k
	set0 := lead.sets[train.TrainingSlot]
	h, cols := st.h, len(st.members)*st.h
	for _, mb := range set {
		mb.active = true
	}
	defer func() {
		for _, mb := range set {
			mb.active = false
		}
	}()
	for range k {
		i := lead.done
		lead.gather(lead.params, lead.order[i:i+m], set0)
		prefetchImages(set0.Images, lead.order[i+m:min(i+2*m, len(lead.order))])
		st.fwd.run(st.pool)
		for _, mb := range set {
			mc := mb.params
			if mc.steps == nil {
				mc.plan()
			}
			first := 1
			if mb.biasNext { // X·W₁ᵀ + b₁ straight from the stacked product
				add := mc.steps[1]
				if !addRowsVec(add.d[:m*h], st.out[mb.slot*h:], cols, add.b, m) {
					for r := range m {
						add.kernel(add.d[r*h:(r+1)*h], st.out[r*cols+mb.slot*h:][:h], add.b, 0, 0)
					}
				}
				first = 2
			} else {
				dst := mc.bufs[mc.P.Instrs[0].Dst]
				for r := range m {
					copy(dst[r*h:(r+1)*h], st.out[r*cols+mb.slot*h:])
				}
			}
			mc.runRange(first, mb.update)
			mc.runRange(mb.update+1, len(mc.steps))
			mb.costs = append(mb.costs, float64(mc.Buf(mc.P.Cost)[0]))
			mb.done += m
		}
		st.update(m)
	}
}

// update runs the active members' W₁ updates as one product over the
// shared X, four rows of the stacked W at a time as the product of one
// network takes its rows; a block stops where the networks' β differ or
// a member is not active (α is in each row's coefficients). Each row gets
// what the network's own update instruction gives it: the same
// coefficients α·δᵀ, the same β, the same kernel. A large one is split by
// members over the pool.
func (st *stack[T]) update(m int) {
	for s, mb := range st.members {
		st.deltas[s] = groupCoefs[T]{}
		if mb.active {
			u := mb.params.P.Instrs[mb.update]
			st.deltas[s] = groupCoefs[T]{T(u.Alpha), T(u.Beta), mb.params.bufs[u.A]}
		}
	}
	k := len(st.members)
	if st.pool == nil || k < 2 || 2*k*st.h*st.in*m < parallelFlops {
		st.updateRows(m, 0, k*st.h)
		return
	}
	chunks := min(k, chunksPerWorker*st.pool.size())
	st.pool.run(chunks, func(i int) {
		lo, hi := split(k, chunks, i, 1)
		st.updateRows(m, lo*st.h, hi*st.h)
	})
}

// updateRows updates rows [lo, hi) of the stacked W₁.
func (st *stack[T]) updateRows(m, lo, hi int) {
	if m <= axpySmallK { // as axpyTerms: no 4 KB to clear at every step
		var coef [4 * axpySmallK]T
		st.updateRowsWith(coef[:], m, lo, hi)
		return
	}
	var coef [4 * axpyMaxK]T
	st.updateRowsWith(coef[:], m, lo, hi)
}

// updateRowsWith is updateRows with room for 4·m coefficients.
func (st *stack[T]) updateRowsWith(coef []T, m, lo, hi int) {
	h, in, rows := st.h, st.in, st.deltas
	for i := lo; i < hi; {
		c := rows[i/h]
		if c.delta == nil {
			i = (i/h + 1) * h
			continue
		}
		nr := 1
		for nr < 4 && i+nr < hi && rows[(i+nr)/h].delta != nil && rows[(i+nr)/h].beta == c.beta {
			nr++
		}
		if j := i % h; nr == 4 && j+4 <= h { // four rows of one network: four δ side by side for each t
			α, d := c.alpha, c.delta[j:]
			for t := range m {
				q, e := coef[4*t:4*t+4:4*t+4], d[t*h:t*h+4:t*h+4]
				q[0], q[1], q[2], q[3] = α*e[0], α*e[1], α*e[2], α*e[3]
			}
		} else {
			for r := range 4 { // a division per row, not per coefficient: it was a fifth of the update
				row := i + min(r, nr-1)
				rc := rows[row/h]
				d := rc.delta[row%h:]
				for t := range m {
					coef[4*t+r] = rc.alpha * d[t*h]
				}
			}
		}
		var beta *T
		if c.beta != 0 && c.beta != 1 {
			beta = &c.beta
		}
		axpyRows(st.w[i*in:], nr, in, in, c.beta != 0, beta, coef[:4*m], m, st.x, in)
		i += nr
	}
}
