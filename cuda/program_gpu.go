//go:build gpu

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
)

// Programs on the device: each compiled program planned and allocated
// once, its steps launched kernel by kernel or captured into CUDA graphs
// and replayed.

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

// build plans a compiled program for the device and allocates it, once
// per batch size and kind (b.progs keeps it).
func (b *backend) build(p *graph.Program, kind train.Kind) (*machine, error) {
	training := kind == train.StepProgram
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
	if kind == train.CostProgram {
		what = fmt.Sprintf("the batch-%d cost program", m)
	}
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
	defer b.freeUnless(&done, arena, what)
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
	if err := b.uploadTables(mc.table, table, arena+cu.DevicePtr(descStart), descs, what); err != nil {
		return nil, err
	}
	done = true
	return mc, nil
}

// uploadTables copies a program's buffer table (or a group's tables, one
// per network, back to back) and its op descriptors to the device.
func (b *backend) uploadTables(tableAt cu.DevicePtr, table []uint64, descAt cu.DevicePtr, descs []byte, what string) error {
	if err := b.toDevice(tableAt, unsafe.Pointer(&table[0]), int64(len(table))*8, "the buffer table of "+what); err != nil {
		return err
	}
	if len(descs) > 0 {
		return b.toDevice(descAt, unsafe.Pointer(&descs[0]), int64(len(descs)), "the op descriptors of "+what)
	}
	return nil
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
	if mc.p.Key >= 0 {
		// The step's dropout key, from the run's step count and the offset.
		if err := b.launch(b.fn.key, "the dropout key", 1, 1, args(uint64(mc.ptr[mc.p.Key]), uint64(b.offset),
			uint64(b.stepBase), uint64(b.cfg.BatchSize), b.cfg.Seed)); err != nil {
			return err
		}
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
	direct := func() error { return b.enqueue(mc, b.sets[train.TrainingSlot], b.order.ptr, b.offset, 0) }
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
		if *g = b.captureSteps(k, direct); *g == nil {
			return b.step(mc, k)
		}
	}
	if err := (*g).launch(b.stream); err != nil {
		return fmt.Errorf("cuda: launching a captured step (batch %d): %w", mc.p.Batch, err)
	}
	b.replays++
	mc.runs += k
	return nil
}

// captureSteps captures k runs of direct into a graph. Where the capture
// fails it says so once and turns graphs off (b.graphErr) and returns nil.
func (b *backend) captureSteps(k int, direct func() error) *execGraph {
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
		return nil
	}
	return exec
}
