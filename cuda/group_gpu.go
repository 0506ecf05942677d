//go:build gpu

package cuda

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

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
