//go:build gpu

package cuda

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// The targets (on an H100): an epoch of [784,30,10] at batch 10 in 0.1 s
// or less (20 µs a step), and [784,1024,1024,10] at batch 256 with its
// matrix products at half of cuBLAS's SGEMM rate or more: compare the
// GFLOP/s of BenchmarkEpoch784_1024_1024_10 with BenchmarkSGEMM's.

// benchSet is the MNIST training set, or 50,000 synthetic images.
func benchSet(b *testing.B) *mnist.Set {
	if d := mnistData(b); d != nil {
		return d.Training
	}
	return randomSet(rand.New(rand.NewPCG(1, 1)), 50_000)
}

// matmulFlops is the floating-point work of the program's matrix products
// in one epoch over n images.
func matmulFlops(sizes []int, bs, n int) float64 {
	per := func(m int) float64 {
		p, err := graph.Compile(network.Book(sizes), m, graph.Float32, graph.Step{Eta: 3})
		if err != nil {
			panic(err)
		}
		var f float64
		for _, in := range p.Instrs {
			if in.Op == graph.MatMul {
				r, c, k := p.MatMulDims(in)
				f += 2 * float64(r) * float64(c) * float64(k)
			}
		}
		return f
	}
	f := float64(n/bs) * per(bs)
	if n%bs > 0 {
		f += per(n % bs)
	}
	return f
}

func benchEpoch(b *testing.B, sizes []int, bs int) {
	set := benchSet(b)
	cfg := train.Config{Spec: network.Book(sizes), BatchSize: bs, Eta: 3, Dtype: graph.Float32}
	be, err := Open(cfg, set)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	net, _ := network.New(sizes, 1)
	if err := be.SetNetwork(net); err != nil {
		b.Fatal(err)
	}
	sh := train.NewShuffler(1, true)
	// One epoch first: the first steps run launch by launch and capture
	// the graphs that every later epoch replays.
	if _, err := be.Epoch(context.Background(), sh.Order(set.Len()), nil); err != nil {
		b.Fatal(err)
	}
	if g := backendOf(be).graphErr; g != nil {
		b.Logf("CUDA graphs unavailable, launching kernel by kernel: %v", g)
	}
	orders := make([][]int32, b.N)
	for i := range orders {
		orders[i] = sh.Order(set.Len())
	}
	replays := backendOf(be).replays
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := be.Epoch(context.Background(), orders[i], nil); err != nil {
			b.Fatal(err)
		}
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	// Graph launches per timed epoch: 0 means the steps ran kernel by
	// kernel, and the figures are not those of replays.
	b.ReportMetric(float64(backendOf(be).replays-replays)/float64(b.N), "replays/epoch")
	steps := (set.Len() + bs - 1) / bs
	b.ReportMetric(secs, "s/epoch")
	b.ReportMetric(secs/float64(steps)*1e6, "µs/step")
	b.ReportMetric(matmulFlops(sizes, bs, set.Len())/secs/1e9, "matmul-GFLOP/s")
}

// BenchmarkEpoch784_30_10 is the book's run: launch-bound, the case CUDA
// graphs are for.
func BenchmarkEpoch784_30_10(b *testing.B) { benchEpoch(b, []int{784, 30, 10}, 10) }

// BenchmarkEpoch784_1024_1024_10 is compute-bound: its matmul-GFLOP/s is
// the number to hold against BenchmarkSGEMM's.
func BenchmarkEpoch784_1024_1024_10(b *testing.B) { benchEpoch(b, []int{784, 1024, 1024, 10}, 256) }

// BenchmarkSGEMM times raw cuBLAS SGEMM, through the same handle, stream
// and workspace the backend uses: 1024³, and the products of a batch-256
// step of [784,1024,1024,10]. The matrices hold uniform random numbers in
// [-1, 1): on zeros a GPU runs measurably faster (less switching power, so
// higher clocks), which would flatter the rate held against the epochs'.
func BenchmarkSGEMM(b *testing.B) {
	cfg := train.Config{Spec: network.Book([]int{784, 10}), BatchSize: 1, Eta: 1, Dtype: graph.Float32}
	tb, err := Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	be := backendOf(tb)
	shapes := []struct {
		name    string
		m, n, k int
		ta, tb  bool
	}{
		{"1024x1024x1024", 1024, 1024, 1024, false, false},
		{"forward-256x1024x1024", 1024, 256, 1024, true, false},
		{"forward-256x1024x784", 1024, 256, 784, true, false},
		{"update-1024x1024x256", 1024, 1024, 256, false, true},
		{"update-784x1024x256", 784, 1024, 256, false, true},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			err := be.do("benchmarking SGEMM", func() error {
				ra, ca := s.m, s.k
				if s.ta {
					ra, ca = s.k, s.m
				}
				rb, cb := s.k, s.n
				if s.tb {
					rb, cb = s.n, s.k
				}
				ptrs := make([]uint64, 3)
				r := rand.New(rand.NewPCG(uint64(s.m), uint64(s.k)))
				for i, n := range []int{ra * ca, rb * cb, s.m * s.n} {
					p, err := be.alloc(int64(n)*4, fmt.Sprintf("benchmark matrix %d", i))
					if err != nil {
						return err
					}
					defer be.free(p, "a benchmark matrix")
					v := make([]float64, n)
					for j := range v {
						v[j] = 2*r.Float64() - 1
					}
					if err := be.floatsToDevice(p, v, "a benchmark matrix"); err != nil {
						return err
					}
					ptrs[i] = uint64(p)
				}
				g := &gemmCall{TransA: s.ta, TransB: s.tb, M: s.m, N: s.n, K: s.k, First: 0, Second: 1, Dst: 2,
					LdA: ra, LdB: rb, LdC: s.m, Alpha: 1}
				at := func(i int) cu.DevicePtr { return cu.DevicePtr(ptrs[i]) }
				const reps = 20
				run := func() error {
					for range reps {
						if err := be.blas.gemm(g, at); err != nil {
							return err
						}
					}
					return be.sync("SGEMM")
				}
				if err := run(); err != nil {
					return err
				}
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if err := run(); err != nil {
						return err
					}
				}
				secs := time.Since(start).Seconds() / float64(b.N*reps)
				b.ReportMetric(g.Flops()/secs/1e9, "GFLOP/s")
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkGraphReplay launches one captured 20-step graph of the book's
// run ([784,30,10] at batch 10) at a time and times it twice: by CUDA
// events recorded on the stream around the launch (cuEventElapsedTime, the
// device's own clock) and by the wall clock from launch to the end of a
// stream synchronisation (which adds the launch and the wait). Where the
// driver has no events (the CPU stand-in), only the wall clock is given.
func BenchmarkGraphReplay(b *testing.B) {
	set := randomSet(rand.New(rand.NewPCG(3, 3)), 1000)
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	tb, err := Open(cfg, set)
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Close()
	be := backendOf(tb)
	net, _ := network.New(cfg.Sizes, 1)
	if err := tb.SetNetwork(net); err != nil {
		b.Fatal(err)
	}
	// Two epochs: the first captures the graphs, the second replays them.
	for range 2 {
		if _, err := tb.Epoch(context.Background(), fileOrder(set.Len()), nil); err != nil {
			b.Fatal(err)
		}
	}
	mc, err := be.progs.Get(cfg.BatchSize, train.StepProgram)
	if err != nil {
		b.Fatal(err)
	}
	if mc.execK == nil {
		b.Skipf("no captured graph to replay: %v", be.graphErr)
	}
	var eventMs, wall float64
	events := true
	err = be.do("timing graph replays", func() error {
		start, err := cu.MakeEvent(cu.DefaultEvent)
		if err == nil {
			defer cu.DestroyEvent(&start)
		}
		end, err2 := cu.MakeEvent(cu.DefaultEvent)
		if err2 == nil {
			defer cu.DestroyEvent(&end)
		}
		if err != nil || err2 != nil {
			events = false
			b.Logf("no CUDA events (%v, %v): the wall clock alone", describe(err), describe(err2))
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// The graph's steps start at the order's entry the batch offset
			// names: back to the first, after the epoch left it at the end.
			b.StopTimer()
			if err := be.zero(be.offset, 8); err != nil {
				return err
			}
			if err := be.sync("resetting the batch offset"); err != nil {
				return err
			}
			b.StartTimer()
			t0 := time.Now()
			if events {
				if err := start.Record(be.stream); err != nil {
					return fmt.Errorf("cuEventRecord: %w", describe(err))
				}
			}
			if err := mc.execK.launch(be.stream); err != nil {
				return err
			}
			be.replays++
			if events {
				if err := end.Record(be.stream); err != nil {
					return fmt.Errorf("cuEventRecord: %w", describe(err))
				}
			}
			if err := be.sync("a graph replay"); err != nil {
				return err
			}
			wall += time.Since(t0).Seconds() * 1e3
			if events {
				ms, err := start.Elapsed(end)
				if err != nil {
					return fmt.Errorf("cuEventElapsedTime: %w", describe(err))
				}
				eventMs += ms
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N), "replays")
	b.ReportMetric(wall/float64(b.N), "wall-ms/replay")
	if events {
		b.ReportMetric(eventMs/float64(b.N), "event-ms/replay")
	}
	b.ReportMetric(float64(stepsPerGraph), "steps/replay")
}
