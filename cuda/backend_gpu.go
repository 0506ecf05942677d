//go:build gpu

package cuda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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

// Open returns a backend on the first CUDA device (CUDA_VISIBLE_DEVICES
// picks another) for cfg: it uploads the training set once, as bytes, and
// compiles and allocates the training program.
func Open(cfg train.Config, training *mnist.Set) (train.Trainer, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if training != nil && len(training.Images) < training.Len()*mnist.Pixels {
		return nil, fmt.Errorf("cuda: training set has %d labels but %d bytes of images", training.Len(), len(training.Images))
	}
	b := &backend{cfg: cfg, training: training, lim: defaultLimits, graphs: useGraphs, warn: os.Stderr,
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
		return b.init()
	}()
	if err != nil {
		b.release()
		return nil, err
	}
	return b, nil
}

// backend trains on one GPU. It keeps one machine per batch size (the full
// one, an epoch's short last one, evaluation's), all sharing the
// parameters. Like the CPU backend it is not safe for concurrent use.
type backend struct {
	cfg      train.Config
	elem     int64 // bytes per element of cfg.Dtype
	lim      limits
	training *mnist.Set

	dev     cu.Device
	ctx     cu.CUContext // the device's primary context, retained
	hasCtx  bool
	device  string // what Device says
	stream  cu.Stream
	hasStrm bool
	mod     cu.Module
	hasMod  bool
	blas    *blas
	fn      struct{ seg1, segn, gather, argmax cu.Function }
	staging unsafe.Pointer         // stagingBytes of pinned host memory
	allocs  map[cu.DevicePtr]int64 // every live device allocation, freed by release
	warn    io.Writer              // where a graph capture failure is said, once

	set             deviceSet // the training set
	eval            deviceSet // the last other set Predict was given
	weights, biases []cu.DevicePtr
	offset          cu.DevicePtr // int64: the current step's offset into the order
	order           devArray     // int32 per image of the epoch
	costs           devArray     // float64 per step of the epoch
	pred            devArray     // byte per predicted image

	progs    *train.Programs[*machine]
	graphs   bool  // capture steps into CUDA graphs
	graphErr error // why a capture failed; steps then launch kernel by kernel
	replays  int   // captured graphs launched, for the tests
	closed   bool
}

type deviceSet struct {
	images, labels cu.DevicePtr
	n              int
}

type devArray struct {
	ptr   cu.DevicePtr
	bytes int64
}

// machine is one compiled program on the device: its buffers in one
// allocation, its buffer table and op descriptors, and its captured steps.
type machine struct {
	p     *graph.Program
	s     *schedule
	ptr   []cu.DevicePtr // device address of every buffer of s.prog
	table cu.DevicePtr   // ptr, on the device, for the kernels
	descs []cu.DevicePtr // each launch's op descriptors; 0 for a product
	runs  int            // steps run so far
	exec1 *execGraph     // one captured step
	execK *execGraph     // stepsPerGraph captured steps
}

func (b *backend) init() error {
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
	// The JIT's logs say why the PTX did not compile for this GPU.
	info, jitErr := &cu.JITInfoLogBuffer{Buffer: make([]byte, 4096)}, &cu.JITErrorLogBuffer{Buffer: make([]byte, 4096)}
	mod, err := cu.LoadDataEx(kernelsPTX, info, jitErr)
	if err != nil {
		log := cString(jitErr.Buffer)
		if log == "" {
			log = cString(info.Buffer)
		}
		if log != "" {
			log = ": JIT log: " + strings.Join(strings.Fields(log), " ")
		}
		return fmt.Errorf("cuda: loading the kernels (kernels.ptx for compute_60, JIT-compiled for %s, compute capability %d.%d): %w%s",
			name, major, minor, describe(err), log)
	}
	b.mod, b.hasMod = mod, true
	for _, k := range []struct {
		fn   *cu.Function
		name string
	}{{&b.fn.seg1, "gt_seg1"}, {&b.fn.segn, "gt_segn"}, {&b.fn.gather, "gt_gather"}, {&b.fn.argmax, "gt_argmax"}} {
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
	for _, f := range []cu.Function{b.fn.segn, b.fn.gather, b.fn.argmax} {
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
	if b.training != nil {
		if b.set, err = b.upload(b.training, "the training set"); err != nil {
			return err
		}
		// Room for a whole epoch now, so that the first epoch's captured
		// steps hold the addresses every later epoch uses.
		if err := b.grow(&b.order, int64(b.set.n)*4, "the epoch's order"); err != nil {
			return err
		}
		if err := b.grow(&b.costs, int64((b.set.n+b.cfg.BatchSize-1)/b.cfg.BatchSize)*8, "the epoch's step costs"); err != nil {
			return err
		}
	}
	for l := 0; l+1 < len(b.cfg.Sizes); l++ {
		in, out := int64(b.cfg.Sizes[l]), int64(b.cfg.Sizes[l+1])
		w, err := b.alloc(out*in*b.elem, fmt.Sprintf("the weights of layer %d", l+1))
		if err != nil {
			return err
		}
		bias, err := b.alloc(out*b.elem, fmt.Sprintf("the biases of layer %d", l+1))
		if err != nil {
			return err
		}
		if err := b.zero(w, out*in*b.elem); err != nil {
			return err
		}
		if err := b.zero(bias, out*b.elem); err != nil {
			return err
		}
		b.weights, b.biases = append(b.weights, w), append(b.biases, bias)
	}
	if _, err := b.progs.Get(b.cfg.BatchSize, true); err != nil {
		return err
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

func (b *backend) alloc(bytes int64, what string) (cu.DevicePtr, error) {
	p, err := cu.MemAlloc(max(bytes, 1))
	if err != nil {
		return 0, fmt.Errorf("cuda: allocating %s for %s: %w", size(bytes), what, describe(err))
	}
	b.allocs[p] = bytes
	return p, nil
}

// free returns an allocation made by alloc; freeing 0 does nothing.
func (b *backend) free(p cu.DevicePtr, what string) error {
	if p == 0 {
		return nil
	}
	delete(b.allocs, p)
	if err := cu.MemFree(p); err != nil {
		return fmt.Errorf("cuda: freeing %s: %w", what, describe(err))
	}
	return nil
}

// grow makes a hold at least bytes, reallocating when it does not. The
// captured training steps hold the addresses of the order and the costs:
// reallocating one of those drops them.
func (b *backend) grow(a *devArray, bytes int64, what string) error {
	if a.bytes >= bytes {
		return nil
	}
	if a.ptr != 0 {
		if err := b.sync("freeing " + what); err != nil {
			return err
		}
		if err := b.free(a.ptr, what); err != nil {
			return err
		}
		*a = devArray{}
		if a == &b.order || a == &b.costs {
			if err := b.dropGraphs(); err != nil {
				return fmt.Errorf("cuda: destroying the captured steps: %w", describe(err))
			}
		}
	}
	p, err := b.alloc(bytes, what)
	if err != nil {
		return err
	}
	*a = devArray{ptr: p, bytes: bytes}
	return nil
}

// dropGraphs destroys every captured step, all of them even when one
// fails.
func (b *backend) dropGraphs() error {
	var errs []error
	b.progs.Each(func(mc *machine) {
		errs = append(errs, mc.exec1.destroy(), mc.execK.destroy())
		mc.exec1, mc.execK = nil, nil
	})
	return errors.Join(errs...)
}

func (b *backend) zero(p cu.DevicePtr, bytes int64) error {
	if err := cu.MemsetD8Async(p, 0, bytes, b.stream); err != nil {
		return fmt.Errorf("cuda: clearing %s of device memory: %w", size(bytes), describe(err))
	}
	return nil
}

// toDevice copies bytes of host memory at src through the pinned staging
// buffer, a chunk at a time; it returns when the copy is done, so src may
// be reused at once.
func (b *backend) toDevice(dst cu.DevicePtr, src unsafe.Pointer, bytes int64, what string) error {
	staging := unsafe.Slice((*byte)(b.staging), stagingBytes)
	from := unsafe.Slice((*byte)(src), bytes)
	for done := int64(0); done < bytes; {
		n := min(bytes-done, stagingBytes)
		copy(staging, from[done:done+n])
		if err := cu.MemcpyHtoDAsync(dst+cu.DevicePtr(done), b.staging, n, b.stream); err != nil {
			return fmt.Errorf("cuda: copying %s (%s) to the device: %w", what, size(bytes), describe(err))
		}
		if err := b.sync("copying " + what + " to the device"); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// fromDevice copies to host memory through the staging buffer and waits
// for the copy.
func (b *backend) fromDevice(dst unsafe.Pointer, src cu.DevicePtr, bytes int64, what string) error {
	staging := unsafe.Slice((*byte)(b.staging), stagingBytes)
	to := unsafe.Slice((*byte)(dst), bytes)
	for done := int64(0); done < bytes; {
		n := min(bytes-done, stagingBytes)
		if err := cu.MemcpyDtoHAsync(b.staging, src+cu.DevicePtr(done), n, b.stream); err != nil {
			return fmt.Errorf("cuda: copying %s (%s) from the device: %w", what, size(bytes), describe(err))
		}
		if err := b.sync("copying " + what + " from the device"); err != nil {
			return err
		}
		copy(to[done:done+n], staging)
		done += n
	}
	return nil
}

// floatsToDevice copies v to the device in the backend's dtype.
func (b *backend) floatsToDevice(dst cu.DevicePtr, v []float64, what string) error {
	if len(v) == 0 {
		return nil
	}
	if b.cfg.Dtype == graph.Float64 {
		return b.toDevice(dst, unsafe.Pointer(&v[0]), int64(len(v))*8, what)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return b.toDevice(dst, unsafe.Pointer(&f[0]), int64(len(f))*4, what)
}

func (b *backend) floatsFromDevice(src cu.DevicePtr, n int, what string) ([]float64, error) {
	out := make([]float64, n)
	if n == 0 {
		return out, nil
	}
	if b.cfg.Dtype == graph.Float64 {
		return out, b.fromDevice(unsafe.Pointer(&out[0]), src, int64(n)*8, what)
	}
	f := make([]float32, n)
	if err := b.fromDevice(unsafe.Pointer(&f[0]), src, int64(n)*4, what); err != nil {
		return nil, err
	}
	for i, x := range f {
		out[i] = float64(x)
	}
	return out, nil
}

func (b *backend) sync(what string) error {
	if err := b.stream.Synchronize(); err != nil {
		return fmt.Errorf("cuda: %s: %w", what, describe(err))
	}
	return nil
}

// upload copies a set's images and labels, as bytes: a quarter of the
// memory and traffic of floats; the gather kernel converts. A failed upload
// frees what it allocated: Predict goes on using the context after one.
func (b *backend) upload(s *mnist.Set, what string) (d deviceSet, err error) {
	n := s.Len()
	d.n = n
	defer func() {
		if err != nil {
			b.free(d.images, what) // the error being returned says more
			b.free(d.labels, what)
			d = deviceSet{}
		}
	}()
	if d.images, err = b.alloc(int64(n)*mnist.Pixels, what); err != nil {
		return d, err
	}
	if d.labels, err = b.alloc(int64(n), "the labels of "+what); err != nil {
		return d, err
	}
	if n > 0 {
		if err := b.toDevice(d.images, unsafe.Pointer(&s.Images[0]), int64(n)*mnist.Pixels, what); err != nil {
			return d, err
		}
		if err := b.toDevice(d.labels, unsafe.Pointer(&s.Labels[0]), int64(n), "the labels of "+what); err != nil {
			return d, err
		}
	}
	return d, nil
}

// build plans a compiled program for the device and allocates it, once
// per batch size and kind (b.progs keeps it).
func (b *backend) build(p *graph.Program, training bool) (*machine, error) {
	m, bs := p.Batch, 0
	if training {
		bs = b.cfg.BatchSize
	}
	s, err := newSchedule(p, b.lim, bs)
	if err != nil {
		return nil, err
	}
	mc := &machine{p: p, s: s, ptr: make([]cu.DevicePtr, len(s.prog.Bufs)), descs: make([]cu.DevicePtr, len(s.launches))}
	what := fmt.Sprintf("the batch-%d forward program", m)
	if training {
		what = fmt.Sprintf("the batch-%d training program", m)
	}

	// One allocation: every buffer that is not a parameter or a view, then
	// the buffer table, then the op descriptors.
	const align = 256
	params := map[int]cu.DevicePtr{}
	for l := range p.Weights {
		params[s.prog.Storage(p.Weights[l])] = b.weights[l]
		params[s.prog.Storage(p.Biases[l])] = b.biases[l]
	}
	offsets := make([]int64, len(s.prog.Bufs))
	var total int64
	for i, buf := range s.prog.Bufs {
		if _, ok := params[i]; ok || buf.Alias >= 0 {
			continue
		}
		offsets[i] = total
		total += roundUp64(int64(buf.Len())*b.elem, align)
	}
	bufBytes := total
	tableAt := total
	total += roundUp64(int64(len(mc.ptr))*8, align)
	descStart := total
	var descs []byte
	descAt := make([]int64, len(s.launches))
	for i, l := range s.launches {
		if l.gemm == nil {
			descAt[i] = descStart + int64(len(descs))
			descs = append(descs, encodeOps(l.ops)...)
		}
	}
	total += int64(len(descs))
	arena, err := b.alloc(total, what)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			b.free(arena, what) // the error being returned says more
		}
	}()
	for i := range s.prog.Bufs {
		st := s.prog.Storage(i)
		if pp, ok := params[st]; ok {
			mc.ptr[i] = pp
		} else {
			mc.ptr[i] = arena + cu.DevicePtr(offsets[st])
		}
	}
	mc.table = arena + cu.DevicePtr(tableAt)
	for i, l := range s.launches {
		if l.gemm == nil {
			mc.descs[i] = arena + cu.DevicePtr(descAt[i])
		}
	}
	// Zeros keep a first step from reading garbage that could be NaN.
	if err := b.zero(arena, bufBytes); err != nil {
		return nil, err
	}
	if s.ones >= 0 {
		ones := make([]float64, s.prog.Bufs[s.ones].Len())
		for i := range ones {
			ones[i] = 1
		}
		if err := b.floatsToDevice(mc.ptr[s.ones], ones, "a ones vector"); err != nil {
			return nil, err
		}
	}
	table := make([]uint64, len(mc.ptr))
	for i, pp := range mc.ptr {
		table[i] = uint64(pp)
	}
	if err := b.toDevice(mc.table, unsafe.Pointer(&table[0]), int64(len(table))*8, "the buffer table of "+what); err != nil {
		return nil, err
	}
	if len(descs) > 0 {
		if err := b.toDevice(arena+cu.DevicePtr(descStart), unsafe.Pointer(&descs[0]), int64(len(descs)), "the op descriptors of "+what); err != nil {
			return nil, err
		}
	}
	done = true
	return mc, nil
}

// cString is the text of a NUL-terminated log buffer the driver filled.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

func roundUp64(n, m int64) int64 { return (n + m - 1) / m * m }

// args packs kernel arguments: cu.Function.Launch passes 8 bytes from
// each pointer, and every parameter of the kernels is 8 bytes wide.
func args(v ...uint64) []unsafe.Pointer {
	p := make([]unsafe.Pointer, len(v))
	for i := range v {
		p[i] = unsafe.Pointer(&v[i])
	}
	return p
}

func (b *backend) launch(f cu.Function, what string, grid, block int, a []unsafe.Pointer) error {
	if err := f.Launch(grid, 1, 1, block, 1, 1, 0, b.stream, a); err != nil {
		return fmt.Errorf("cuda: launching %s (%d blocks of %d threads): %w", what, grid, block, describe(err))
	}
	return nil
}

// enqueue issues one step of mc: the gather of its m images from src
// (order[*offset+r] with an order, base+r without), then its launches.
func (b *backend) enqueue(mc *machine, src deviceSet, order, offset cu.DevicePtr, base int) error {
	m := mc.p.Batch
	var y cu.DevicePtr
	if mc.p.Y >= 0 {
		y = mc.ptr[mc.p.Y]
	}
	grid, block := gatherGeometry(m)
	if err := b.launch(b.fn.gather, "the batch gather", grid, block, args(uint64(mc.ptr[mc.p.X]), uint64(y),
		uint64(src.images), uint64(src.labels), uint64(order), uint64(offset), uint64(base), uint64(m))); err != nil {
		return err
	}
	for i, l := range mc.s.launches {
		switch {
		case l.gemm != nil:
			if err := b.blas.gemm(l.gemm, func(id int) cu.DevicePtr { return mc.ptr[id] }); err != nil {
				return fmt.Errorf("cuda: matrix product %d×%d×%d (batch %d): %w", l.gemm.M, l.gemm.N, l.gemm.K, m, err)
			}
		case l.single:
			if err := b.launch(b.fn.seg1, "a one-block segment", l.grid, l.block, args(uint64(mc.descs[i]),
				uint64(len(l.ops)), uint64(mc.table), uint64(b.offset), uint64(b.costs.ptr))); err != nil {
				return err
			}
		default:
			if err := b.launch(b.fn.segn, "an element-wise segment", l.grid, l.block, args(uint64(mc.descs[i]),
				uint64(len(l.ops)), uint64(mc.table))); err != nil {
				return err
			}
		}
	}
	return nil
}

// step runs k training steps of mc on the epoch's order. A step's first
// run goes launch by launch, which also warms up cuBLAS; later ones replay
// a captured graph: one launch per step (or per stepsPerGraph steps)
// instead of one per kernel, the batch offset read on the device.
func (b *backend) step(mc *machine, k int) error {
	direct := func() error { return b.enqueue(mc, b.set, b.order.ptr, b.offset, 0) }
	if !b.graphs || b.graphErr != nil || mc.runs == 0 {
		for range k {
			if err := direct(); err != nil {
				return err
			}
			mc.runs++
		}
		return nil
	}
	g := &mc.exec1
	if k == stepsPerGraph {
		g = &mc.execK
	} else if k != 1 {
		return fmt.Errorf("cuda: internal error: %d steps in one replay", k)
	}
	if *g == nil {
		exec, err := capture(b.stream, func() error {
			for range k {
				if err := direct(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			// Run without graphs from now on: slower, and any real fault
			// then surfaces from the launch that causes it.
			b.graphErr = err
			fmt.Fprintf(b.warn, "gputrain: cuda: capturing a training step into a CUDA graph failed (%v); running kernel by kernel from now on, which is slower\n", err)
			return b.step(mc, k)
		}
		*g = exec
	}
	if err := (*g).launch(b.stream); err != nil {
		return fmt.Errorf("cuda: launching a captured step (batch %d): %w", mc.p.Batch, err)
	}
	b.replays++
	mc.runs += k
	return nil
}

func (b *backend) SetNetwork(n *network.Network) error {
	if err := train.CheckNetwork(n, b.cfg.Spec); err != nil {
		return err
	}
	return b.do("setting the parameters", func() error {
		for l := range b.weights {
			if err := b.floatsToDevice(b.weights[l], n.Weights[l], fmt.Sprintf("the weights of layer %d", l+1)); err != nil {
				return err
			}
			if err := b.floatsToDevice(b.biases[l], n.Biases[l], fmt.Sprintf("the biases of layer %d", l+1)); err != nil {
				return err
			}
		}
		return b.sync("setting the parameters")
	})
}

func (b *backend) Network() (*network.Network, error) {
	n := &network.Network{Spec: b.cfg.Spec.Norm()}
	err := b.do("reading the parameters", func() error {
		for l := range b.weights {
			in, out := b.cfg.Sizes[l], b.cfg.Sizes[l+1]
			w, err := b.floatsFromDevice(b.weights[l], out*in, fmt.Sprintf("the weights of layer %d", l+1))
			if err != nil {
				return err
			}
			bias, err := b.floatsFromDevice(b.biases[l], out, fmt.Sprintf("the biases of layer %d", l+1))
			if err != nil {
				return err
			}
			n.Weights, n.Biases = append(n.Weights, w), append(n.Biases, bias)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Epoch uploads the order (the only per-epoch upload), replays one
// captured step per mini-batch, keeps each step's cost on the device and
// reads them back once at the end: the mean, and the first non-finite one
// for a *train.Divergence with its batch number; then it checks the
// parameters themselves for NaN and Inf. A diverged epoch runs to
// its end on the device; its parameters are garbage either way.
func (b *backend) Epoch(ctx context.Context, order []int32, progress func(done int, cost float64)) (float64, error) {
	var cost float64
	err := b.do("training an epoch", func() error {
		var err error
		cost, err = b.epoch(ctx, order, progress)
		return err
	})
	return cost, err
}

func (b *backend) epoch(ctx context.Context, order []int32, progress func(done int, cost float64)) (float64, error) {
	if b.training == nil {
		return 0, errors.New("cuda: Epoch: the backend was opened without a training set")
	}
	for i, v := range order {
		if v < 0 || int(v) >= b.set.n {
			return 0, fmt.Errorf("cuda: order[%d] = %d is not an image of the %d-image training set", i, v, b.set.n)
		}
	}
	if len(order) == 0 {
		return 0, nil
	}
	bs := b.cfg.BatchSize
	steps := (len(order) + bs - 1) / bs
	if err := b.grow(&b.order, int64(max(len(order), b.set.n))*4, "the epoch's order"); err != nil {
		return 0, err
	}
	if err := b.grow(&b.costs, int64(steps)*8, "the epoch's step costs"); err != nil {
		return 0, err
	}
	if err := b.toDevice(b.order.ptr, unsafe.Pointer(&order[0]), int64(len(order))*4, "the epoch's order"); err != nil {
		return 0, err
	}
	if err := b.zero(b.offset, 8); err != nil {
		return 0, err
	}
	for i, batch := 0, 0; i < len(order); {
		if batch%train.ProgressEvery == 0 {
			if ctx.Err() != nil {
				if err := b.sync("stopping the epoch"); err != nil {
					return 0, err
				}
				return 0, &train.Canceled{Done: i}
			}
			if progress != nil && i > 0 {
				// The costs so far, read back only for a caller that
				// asks: a copy and a wait every ProgressEvery steps.
				cost, err := b.meanCost(batch, i)
				if err != nil {
					return 0, err
				}
				progress(i, cost)
			}
		}
		m := min(bs, len(order)-i)
		mc, err := b.progs.Get(m, true)
		if err != nil {
			return 0, err
		}
		k := 1
		if (len(order)-i)/bs >= stepsPerGraph && batch%train.ProgressEvery+stepsPerGraph <= train.ProgressEvery {
			k = stepsPerGraph
		}
		if err := b.step(mc, k); err != nil {
			return 0, err
		}
		i, batch = i+k*m, batch+k
	}
	if err := b.sync("training an epoch"); err != nil {
		return 0, err
	}
	costs := make([]float64, steps)
	if err := b.fromDevice(unsafe.Pointer(&costs[0]), b.costs.ptr, int64(steps)*8, "the step costs"); err != nil {
		return 0, err
	}
	var total float64
	for j, c := range costs {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return 0, &train.Divergence{Batch: j, Cost: c}
		}
		total += c * float64(min(bs, len(order)-j*bs))
	}
	// A parameter can overflow in a step whose cost was still finite (the
	// last one, say): read them back and look, as the CPU backend does.
	// Once an epoch, this costs one copy of the parameters.
	for l := range b.weights {
		in, out := b.cfg.Sizes[l], b.cfg.Sizes[l+1]
		for _, p := range []struct {
			ptr cu.DevicePtr
			n   int
		}{{b.weights[l], out * in}, {b.biases[l], out}} {
			v, err := b.floatsFromDevice(p.ptr, p.n, fmt.Sprintf("the parameters of layer %d", l+1))
			if err != nil {
				return 0, err
			}
			if x, bad := train.NonFinite(v); bad {
				return 0, &train.Divergence{Batch: steps - 1, Cost: x}
			}
		}
	}
	if progress != nil {
		progress(len(order), total/float64(len(order)))
	}
	return total / float64(len(order)), nil
}

// meanCost is the mean per-image cost of an epoch's first steps, which
// trained images images in full batches.
func (b *backend) meanCost(steps, images int) (float64, error) {
	costs := make([]float64, steps)
	if err := b.fromDevice(unsafe.Pointer(&costs[0]), b.costs.ptr, int64(steps)*8, "the step costs so far"); err != nil {
		return 0, err
	}
	var sum float64
	for _, c := range costs {
		sum += c
	}
	return sum * float64(b.cfg.BatchSize) / float64(images), nil
}

// Predict runs the forward program in chunks of train.EvalBatch on the device,
// takes each row's most active output there, and copies back one byte per
// image.
func (b *backend) Predict(s *mnist.Set) ([]uint8, error) {
	n := s.Len()
	pred := make([]uint8, n)
	if n == 0 {
		return pred, nil
	}
	if len(s.Images) < n*mnist.Pixels {
		return nil, fmt.Errorf("cuda: Predict: %d labels but %d bytes of images", n, len(s.Images))
	}
	err := b.do("predicting", func() error {
		src := b.set
		if b.training == nil || n != b.training.Len() || &s.Images[0] != &b.training.Images[0] {
			if b.eval.n < n {
				if err := b.sync("freeing the last evaluation set"); err != nil {
					return err
				}
				for _, p := range []cu.DevicePtr{b.eval.images, b.eval.labels} {
					if err := b.free(p, "the last evaluation set"); err != nil {
						return err
					}
				}
				b.eval = deviceSet{}
				d, err := b.upload(s, "the evaluation set")
				if err != nil {
					return err
				}
				b.eval = d
			} else if err := b.toDevice(b.eval.images, unsafe.Pointer(&s.Images[0]), int64(n)*mnist.Pixels, "the evaluation set"); err != nil {
				return err
			}
			src = b.eval
		}
		if err := b.grow(&b.pred, int64(n), "the predictions"); err != nil {
			return err
		}
		for lo := 0; lo < n; lo += train.EvalBatch {
			m := min(train.EvalBatch, n-lo)
			mc, err := b.progs.Get(m, false)
			if err != nil {
				return err
			}
			if err := b.enqueue(mc, src, 0, 0, lo); err != nil {
				return err
			}
			grid, block := argmaxGeometry(m)
			if err := b.launch(b.fn.argmax, "the prediction argmax", grid, block, args(uint64(mc.ptr[mc.p.Output]),
				uint64(m), uint64(b.pred.ptr), uint64(lo), 0, 0)); err != nil {
				return err
			}
		}
		return b.fromDevice(unsafe.Pointer(&pred[0]), b.pred.ptr, int64(n), "the predictions")
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

func (b *backend) BatchSize() int { return b.cfg.BatchSize }

// Device names the GPU, its driver and the cuBLAS library in use.
func (b *backend) Device() string { return b.device }

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

// size prints a byte count the way people read it.
func size(bytes int64) string {
	switch {
	case bytes >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(bytes)/1e9)
	case bytes >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(bytes)/1e6)
	case bytes >= 1e3:
		return fmt.Sprintf("%.0f kB", float64(bytes)/1e3)
	}
	return fmt.Sprintf("%d bytes", bytes)
}
