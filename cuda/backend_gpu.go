//go:build gpu

package cuda

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Available reports whether this binary was built with CUDA support.
const Available = true

const (
	// stepsPerGraph is how many steps one replay of the multi-step graph
	// runs; it divides train.ProgressEvery so replays never straddle a check.
	stepsPerGraph = 20
	// workspaceBytes is cuBLAS's workspace: NVIDIA's advice for Hopper,
	// more than other GPUs use.
	workspaceBytes = 32 << 20
	// stagingBytes is the pinned host buffer every copy goes through: the
	// driver copies pinned memory by DMA, pageable memory through a
	// staging copy of its own.
	stagingBytes = 4 << 20
)

// useGraphs turns CUDA Graphs on; GPUTRAIN_CUDA_GRAPHS=0 turns them off, to
// compare or to debug with one launch per kernel.
var useGraphs = os.Getenv("GPUTRAIN_CUDA_GRAPHS") != "0"

// Open returns a trainer on the first CUDA device (CUDA_VISIBLE_DEVICES
// picks another) for cfg: it uploads the training set once, as bytes, and
// compiles and allocates the training program.
func Open(cfg train.Config, training *mnist.Set) (train.Trainer, error) {
	s, err := train.Open(cfg, training, OpenMachine)
	if err != nil {
		return nil, err
	}
	return &trainer{s}, nil
}

// OpenPredictor returns a predictor for a network of spec in dt on the
// first CUDA device: forward programs only.
func OpenPredictor(spec network.Spec, dt graph.Dtype) (train.Predictor, error) {
	s, err := train.OpenPredictor(spec, dt, OpenMachine)
	if err != nil {
		return nil, err
	}
	return &trainer{s}, nil
}

// trainer is the session on a GPU, which also names its device.
type trainer struct{ *train.Session }

// Device names the GPU, its driver and the cuBLAS library in use.
func (t *trainer) Device() string { return t.Machine().(*backend).device }

// OpenMachine returns the machine of the first CUDA device for cfg (a
// predictor's where cfg has no learning rate).
func OpenMachine(cfg train.Config) (train.Machine, error) {
	return openBackend(cfg, (*backend).init)
}

// openBackend makes the backend of cfg and runs init on it (its context
// not yet current), a panic an error; where it fails it frees what init
// made.
func openBackend(cfg train.Config, init func(*backend) error) (*backend, error) {
	b := &backend{cfg: cfg, lim: defaultLimits, graphs: useGraphs, warn: os.Stderr,
		allocs: map[cu.DevicePtr]int64{}}
	b.progs = train.NewPrograms(cfg, b.build)
	b.elem = 4
	if cfg.Dtype == graph.Float64 {
		b.elem = 8
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cuda: opening the device: %v", r)
			}
		}()
		return init(b)
	}()
	if err != nil {
		b.release()
		return nil, err
	}
	return b, nil
}

// backend is one GPU's train.Machine. It keeps one program per batch size
// and kind (the full one, an epoch's short last one, evaluation's, the
// monitors'), all sharing the parameters. Like the CPU backend it is not
// safe for concurrent use.
type backend struct {
	cfg  train.Config
	elem int64 // bytes per element of cfg.Dtype
	lim  limits

	dev     cu.Device
	ctx     cu.CUContext // the device's primary context, retained
	hasCtx  bool
	device  string // what Device says
	stream  cu.Stream
	hasStrm bool
	mod     cu.Module
	hasMod  bool
	blas    *blas
	fn      struct{ seg1, segn, gather, key cu.Function }
	staging unsafe.Pointer         // stagingBytes of pinned host memory
	allocs  map[cu.DevicePtr]int64 // every live device allocation, freed by release
	warn    io.Writer              // where a graph capture failure is said, once

	sets            [2]deviceSet // by train.Slot
	weights, biases []cu.DevicePtr
	offset          cu.DevicePtr // int64: the current step's offset into the order
	stepBase        cu.DevicePtr // int64: the run's steps before this epoch's first (the dropout masks')
	order           devArray     // int32 per image of the epoch
	costs           devArray     // float64 per step of the epoch

	progs    *train.Programs[*machine]
	graphs   bool  // capture steps into CUDA graphs
	graphErr error // why a capture failed; steps then launch kernel by kernel
	replays  int   // captured graphs launched, for the tests
	closed   bool
}

// initDevice opens the first device: its context, stream, kernels, pinned
// staging buffer and cuBLAS handle, and the batch offset and step count.
func (b *backend) initDevice() error {
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("cuda: counting devices: %w", describe(err))
	}
	if n == 0 {
		return errors.New("cuda: no CUDA device found")
	}
	dev, err := cu.GetDevice(0)
	if err != nil {
		return fmt.Errorf("cuda: opening device 0: %w", describe(err))
	}
	name, err := dev.Name()
	if err != nil {
		return fmt.Errorf("cuda: reading the name of device 0: %w", describe(err))
	}
	// The primary context is the one the CUDA runtime (and so cuBLAS) uses
	// too; retaining it rather than creating one leaves nothing pushed on
	// the thread after Close.
	if b.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return fmt.Errorf("cuda: retaining the primary context of %s: %w", name, describe(err))
	}
	b.dev, b.hasCtx = dev, true
	if err := cu.SetCurrentContext(b.ctx); err != nil {
		return fmt.Errorf("cuda: making the context of %s current: %w", name, describe(err))
	}
	var cc [2]int
	for i, a := range []cu.DeviceAttribute{cu.ComputeCapabilityMajor, cu.ComputeCapabilityMinor} {
		if cc[i], err = dev.Attribute(a); err != nil {
			return fmt.Errorf("cuda: querying the compute capability of %s: %w", name, describe(err))
		}
	}
	major, minor := cc[0], cc[1]
	version, err := cudaVersion()
	if err != nil {
		return fmt.Errorf("cuda: querying the CUDA version of the driver: %w", describe(err))
	}
	b.device = fmt.Sprintf("%s (compute capability %d.%d, CUDA driver %s)", name, major, minor, version)
	mod, log, err := loadPTX(kernelsPTX)
	if err != nil {
		return fmt.Errorf("cuda: loading the kernels (kernels.ptx for compute_60, JIT-compiled for %s, compute capability %d.%d): %w%s",
			name, major, minor, describe(err), log)
	}
	b.mod, b.hasMod = mod, true
	for _, k := range []struct {
		fn   *cu.Function
		name string
	}{{&b.fn.seg1, "gt_seg1"}, {&b.fn.segn, "gt_segn"}, {&b.fn.gather, "gt_gather"}, {&b.fn.key, "gt_key"}} {
		full := kernelName(k.name, b.cfg.Dtype)
		if *k.fn, err = mod.Function(full); err != nil {
			return fmt.Errorf("cuda: finding kernel %s: %w", full, describe(err))
		}
	}
	maxThreads, err := b.fn.seg1.Attribute(cu.FnMaxThreadsPerBlock)
	if err != nil {
		return fmt.Errorf("cuda: querying the block limit of the kernels: %w", describe(err))
	}
	b.lim.maxThreads = min(seg1MaxThreads, maxThreads)
	for _, f := range []cu.Function{b.fn.segn, b.fn.gather} {
		lim, err := f.Attribute(cu.FnMaxThreadsPerBlock)
		if err != nil {
			return fmt.Errorf("cuda: querying the block limit of the kernels: %w", describe(err))
		}
		if lim < segnThreads {
			return fmt.Errorf("cuda: the kernels need blocks of %d threads; %s runs them with at most %d", segnThreads, name, lim)
		}
	}
	if b.stream, err = cu.MakeStream(cu.NonBlocking); err != nil {
		return fmt.Errorf("cuda: creating a stream: %w", describe(err))
	}
	b.hasStrm = true
	if b.staging, err = hostAlloc(stagingBytes); err != nil {
		return fmt.Errorf("cuda: allocating %s of pinned host memory for copies: %w", size(stagingBytes), describe(err))
	}
	ws, err := b.alloc(workspaceBytes, "the cuBLAS workspace")
	if err != nil {
		return err
	}
	if b.blas, err = newBLAS(b.stream, ws, workspaceBytes, b.cfg.Dtype); err != nil {
		return err
	}
	b.device += fmt.Sprintf(", cuBLAS %s from %s", b.blas.versionString(), b.blas.path)
	if b.offset, err = b.alloc(8, "the batch offset"); err != nil {
		return err
	}
	if b.stepBase, err = b.alloc(8, "the step count"); err != nil {
		return err
	}
	return nil
}

// init opens the device (initDevice), then allocates the network's
// parameters and builds its training program.
func (b *backend) init() error {
	if err := b.initDevice(); err != nil {
		return err
	}
	for l, ps := range b.cfg.Params() {
		nw, nb := int64(ps.Len())*b.elem, int64(ps.B[0])*b.elem
		w, err := b.alloc(nw, fmt.Sprintf("the weights of layer %d", l+1))
		if err != nil {
			return err
		}
		bias, err := b.alloc(nb, fmt.Sprintf("the biases of layer %d", l+1))
		if err != nil {
			return err
		}
		if err := b.zero(w, nw); err != nil {
			return err
		}
		if err := b.zero(bias, nb); err != nil {
			return err
		}
		b.weights, b.biases = append(b.weights, w), append(b.biases, bias)
	}
	if b.cfg.Eta > 0 {
		if _, err := b.progs.Get(b.cfg.BatchSize, train.StepProgram); err != nil {
			return err
		}
	}
	return b.sync("setting up")
}

// release frees everything the backend made, in the primary context that
// other code in the process may share, then releases that context and
// leaves no context current on the thread.
func (b *backend) release() error {
	var errs []error
	keep := func(what string, e error) {
		if e != nil {
			errs = append(errs, fmt.Errorf("cuda: %s: %w", what, describe(e)))
		}
	}
	keep("destroying the captured steps", b.dropGraphs())
	keep("destroying the cuBLAS handle", b.blas.close())
	b.blas = nil
	for p := range b.allocs {
		keep("freeing device memory", cu.MemFree(p))
		delete(b.allocs, p)
	}
	if b.staging != nil {
		keep("freeing pinned host memory", hostFree(b.staging))
		b.staging = nil
	}
	if b.hasMod {
		keep("unloading the kernels", b.mod.Unload())
		b.hasMod = false
	}
	if b.hasStrm {
		keep("destroying the stream", b.stream.Destroy())
		b.hasStrm = false
	}
	if b.hasCtx {
		keep("releasing the primary context", b.dev.ReleasePrimaryCtx())
		keep("clearing the current context", cu.SetCurrentContext(cu.CUContext{}))
		b.hasCtx = false
	}
	return errors.Join(errs...)
}

// do runs f with the backend's context current on a locked OS thread: CUDA
// contexts are per thread, goroutines are not. A panic becomes an error.
func (b *backend) do(what string, f func() error) (err error) {
	if b.closed {
		return fmt.Errorf("cuda: %s: the backend is closed", what)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cuda: %s: %v", what, r)
		}
	}()
	if err := cu.SetCurrentContext(b.ctx); err != nil {
		return fmt.Errorf("cuda: %s: making the context current: %w", what, describe(err))
	}
	return f()
}

// Order uploads the epoch's order (the only per-epoch upload) and starts
// the device's batch offset at 0; the steps read their batches from it
// there, so that one captured step serves every batch. The run's step
// number goes to the device too, where each step derives its dropout key
// from it and the offset (gt_key).
func (b *backend) Order(order []int32, step uint64) error {
	return b.do("uploading the epoch's order", func() error {
		if len(order) == 0 {
			return nil
		}
		steps := (len(order) + b.cfg.BatchSize - 1) / b.cfg.BatchSize
		if err := b.grow(&b.order, int64(max(len(order), b.sets[train.TrainingSlot].n))*4, "the epoch's order"); err != nil {
			return err
		}
		if err := b.grow(&b.costs, int64(steps)*8, "the epoch's step costs"); err != nil {
			return err
		}
		if err := b.toDevice(b.order.ptr, unsafe.Pointer(&order[0]), int64(len(order))*4, "the epoch's order"); err != nil {
			return err
		}
		base := int64(step)
		if err := b.toDevice(b.stepBase, unsafe.Pointer(&base), 8, "the step count"); err != nil {
			return err
		}
		return b.zero(b.offset, 8)
	})
}

// Train enqueues k steps and returns without waiting for them: replays of
// stepsPerGraph steps at a time, then single ones. Each step records its
// cost on the device, where Costs reads it.
func (b *backend) Train(m, k int) error {
	return b.do("training", func() error {
		mc, err := b.progs.Get(m, train.StepProgram)
		if err != nil {
			return err
		}
		for k > 0 {
			n := 1
			if k >= stepsPerGraph {
				n = stepsPerGraph
			}
			if err := b.step(mc, n); err != nil {
				return err
			}
			k -= n
		}
		return nil
	})
}

// Costs waits for the steps enqueued and reads their costs back.
func (b *backend) Costs(dst []float64) error {
	if len(dst) == 0 {
		return nil
	}
	return b.do("reading the step costs", func() error {
		if err := b.sync("training"); err != nil {
			return err
		}
		return b.fromDevice(unsafe.Pointer(&dst[0]), b.costs.ptr, int64(len(dst))*8, "the step costs")
	})
}

// Forward runs a forward program on the device and reads back its
// outputs (and cost).
func (b *backend) Forward(slot train.Slot, lo int, out []float64, cost bool) (float64, error) {
	var c float64
	err := b.do("running a forward pass", func() error {
		kind := train.ForwardProgram
		if cost {
			kind = train.CostProgram
		}
		m := len(out) / network.OutputSize
		mc, err := b.progs.Get(m, kind)
		if err != nil {
			return err
		}
		if err := b.enqueue(mc, b.sets[slot], 0, 0, lo); err != nil {
			return err
		}
		c, err = b.readForward(mc.p, mc.ptr, out, cost)
		return err
	})
	return c, err
}

// readForward reads a forward program's output activations into out and,
// with cost, returns its cost; ptr holds its buffers' addresses.
func (b *backend) readForward(p *graph.Program, ptr []cu.DevicePtr, out []float64, cost bool) (float64, error) {
	v, err := b.floatsFromDevice(ptr[p.Output], len(out), "the output activations")
	if err != nil {
		return 0, err
	}
	copy(out, v)
	if !cost {
		return 0, nil
	}
	v, err = b.floatsFromDevice(ptr[p.Cost], 1, "the cost")
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// Close waits for the device and frees everything it allocated, then
// releases the primary context.
func (b *backend) Close() error {
	if b.closed {
		return nil
	}
	err := b.do("closing", func() error {
		err := b.sync("finishing before close")
		if e := b.release(); err == nil {
			err = e
		}
		return err
	})
	b.closed = true
	return err
}

// loadPTX loads a PTX module; where the driver's JIT refuses it, log is
// the JIT's own account of why (": JIT log: …"), or empty.
func loadPTX(src string) (mod cu.Module, log string, err error) {
	info, jitErr := &cu.JITInfoLogBuffer{Buffer: make([]byte, 4096)}, &cu.JITErrorLogBuffer{Buffer: make([]byte, 4096)}
	if mod, err = cu.LoadDataEx(src, info, jitErr); err == nil {
		return mod, "", nil
	}
	log = cString(jitErr.Buffer)
	if log == "" {
		log = cString(info.Buffer)
	}
	if log != "" {
		log = ": JIT log: " + strings.Join(strings.Fields(log), " ")
	}
	return mod, log, err
}
