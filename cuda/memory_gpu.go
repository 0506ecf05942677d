//go:build gpu

package cuda

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Device memory and the copies to and from it, all through one pinned
// staging buffer and on the backend's stream.

type deviceSet struct {
	images, labels cu.DevicePtr
	n              int
}

type devArray struct {
	ptr   cu.DevicePtr
	bytes int64
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

// freeUnless frees p unless *kept: deferred where a builder owns p once
// it returns without an error, and frees it when it returns with one (that
// error says more than a failed free would).
func (b *backend) freeUnless(kept *bool, p cu.DevicePtr, what string) {
	if !*kept {
		b.free(p, what)
	}
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

// Load uploads s into slot: the training set once, another set (the
// evaluation set, a set to predict) into memory kept for the largest such
// set so far.
func (b *backend) Load(slot train.Slot, s *mnist.Set) error {
	if s.Float32 != nil {
		// The device holds pixels as bytes and divides by 255 itself; the
		// pickle's values are not bytes over 255.
		return fmt.Errorf("cuda: a set of float pixels (the book's mnist.pkl.gz) does not run on the GPU yet: train it with --device cpu, or on MNIST's IDX files")
	}
	return b.do("loading a data set", func() error {
		d := &b.sets[slot]
		what := "the evaluation set"
		if slot == train.TrainingSlot {
			what = "the training set"
		}
		n := s.Len()
		if d.n < n || d.images == 0 {
			if err := b.sync("freeing " + what); err != nil {
				return err
			}
			for _, p := range []cu.DevicePtr{d.images, d.labels} {
				if err := b.free(p, what); err != nil {
					return err
				}
			}
			*d = deviceSet{}
			if slot == train.TrainingSlot {
				// The captured steps hold the old set's address.
				if err := b.dropGraphs(); err != nil {
					return fmt.Errorf("cuda: destroying the captured steps: %w", describe(err))
				}
			}
			up, err := b.upload(s, what)
			if err != nil {
				return err
			}
			*d = up
		} else if n > 0 {
			if err := b.toDevice(d.images, unsafe.Pointer(&s.Images[0]), int64(n)*mnist.Pixels, what); err != nil {
				return err
			}
			if err := b.toDevice(d.labels, unsafe.Pointer(&s.Labels[0]), int64(n), "the labels of "+what); err != nil {
				return err
			}
		}
		if slot != train.TrainingSlot {
			return nil
		}
		// Room for a whole epoch now, so that the first epoch's captured
		// steps hold the addresses every later epoch uses.
		if err := b.grow(&b.order, int64(n)*4, "the epoch's order"); err != nil {
			return err
		}
		return b.grow(&b.costs, int64((n+b.cfg.BatchSize-1)/b.cfg.BatchSize)*8, "the epoch's step costs")
	})
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
