package cpu

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// BenchmarkEpoch times one full 50,000-image epoch of MNIST (fetched into
// $GPUTRAIN_DATA or ../data/mnist if missing). Real digits matter: dense
// random pixels saturate every sigmoid and run twice as slow, on denormal
// arithmetic. The book's run is sizes=784,30,10 batch=10; chapter 3's
// cross-entropy with L2 (cost=xent-l2) runs beside it at the book's sizes,
// for the ratio of the two.
func BenchmarkEpoch(b *testing.B) {
	set := realData(b).Training
	xent := network.Spec{Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}
	for _, c := range []struct {
		sizes []int
		batch int
		dt    graph.Dtype
		spec  network.Spec // beyond the sizes; zero: the book's
	}{
		{[]int{784, 30, 10}, 10, graph.Float32, network.Spec{}},
		{[]int{784, 30, 10}, 10, graph.Float32, xent},
		{[]int{784, 30, 10}, 10, graph.Float64, network.Spec{}},
		{[]int{784, 100, 10}, 10, graph.Float32, network.Spec{}},
		{[]int{784, 100, 10}, 10, graph.Float32, xent},
		{[]int{784, 1000, 10}, 100, graph.Float32, network.Spec{}},
	} {
		spec := c.spec
		spec.Sizes = c.sizes
		name := fmt.Sprintf("sizes=%v/batch=%d/%v", c.sizes, c.batch, c.dt)
		eta := 3.0 // the book's η for each cost
		if c.spec.Cost != "" {
			name += "/cost=xent-l2"
			eta = 0.5
		}
		b.Run(name, func(b *testing.B) {
			be, err := Open(train.Config{Spec: spec, TrainSize: set.Len(), BatchSize: c.batch, Eta: eta, Dtype: c.dt}, set)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			net, _ := network.New(c.sizes, 1)
			be.SetNetwork(net)
			sh := train.NewShuffler(1, true)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := be.Epoch(context.Background(), sh.Order(set.Len()), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/epoch")
		})
	}
}

// BenchmarkGEMM times the products a training step runs, on one core and
// on two, with the α and β the step gives them: the first layer's forward
// pass (A·Bᵀ, α 1, β 0) and weight gradient fused with its update (Aᵀ·B,
// k the batch size, α −η, β 1), for the book's network at batch 10, 100
// and 1000 and for [784,1000,10] at batch 100; and the book's second
// layer at batch 10: its forward product, the δ it sends back (δ·W₂) and
// its weight update, products far below a kernel's efficient size whose
// time is mostly the calls' own.
func BenchmarkGEMM(b *testing.B) {
	for _, c := range []struct {
		name           string
		m, n, k        int
		transA, transB bool
	}{
		{"forward/784,30,10/batch=10", 10, 30, 784, false, true},
		{"gradient/784,30,10/batch=10", 30, 784, 10, true, false},
		{"forward/784,30,10/batch=100", 100, 30, 784, false, true},
		{"gradient/784,30,10/batch=100", 30, 784, 100, true, false},
		{"forward/784,30,10/batch=1000", 1000, 30, 784, false, true},
		{"gradient/784,30,10/batch=1000", 30, 784, 1000, true, false},
		{"forward/784,1000,10/batch=100", 100, 1000, 784, false, true},
		{"gradient/784,1000,10/batch=100", 1000, 784, 100, true, false},
		{"layer2-forward/784,30,10/batch=10", 10, 10, 30, false, true},
		{"layer2-delta/784,30,10/batch=10", 10, 30, 10, false, false},
		{"layer2-gradient/784,30,10/batch=10", 10, 30, 10, true, false},
	} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				alpha, beta := float32(1), float32(0) // a forward product's
				if c.transA {
					alpha, beta = -3, 1 // an update's
				}
				g := gemm[float32]{transA: c.transA, transB: c.transB, m: c.m, n: c.n, k: c.k, alpha: alpha, beta: beta,
					a: make([]float32, c.m*c.k), b: make([]float32, c.k*c.n), c: make([]float32, c.m*c.n)}
				g.lda, g.ldb, g.ldc = c.k, c.n, c.n
				if c.transA {
					g.lda = c.m
				}
				if c.transB {
					g.ldb = c.k
				}
				for i := range g.a {
					g.a[i] = float32(i%7) / 7
				}
				for i := range g.b {
					g.b[i] = float32(i%5) / 5
				}
				var p *pool
				if workers > 1 {
					p = newPool(workers)
					defer p.close()
				}
				g.plan(p)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					g.run(p)
				}
				b.ReportMetric(2*float64(c.m*c.n*c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGroup times 16 book networks (η ∈ {0.5,1,2,3} × seeds 1–4,
// [784,30,10], batch 10, float32) through one epoch of 10,000 images on
// one core: trained one after another, each alone, and as one Group. Run
// with -count and compare the two (benchstat): the ratio is what the
// group gains per core.
func BenchmarkGroup(b *testing.B) {
	d := realData(b)
	set := &mnist.Set{Images: d.Training.Images[:10000*mnist.Pixels], Labels: d.Training.Labels[:10000]}
	spec := network.Book([]int{784, 30, 10})
	type net struct {
		eta  float64
		seed uint64
	}
	var nets []net
	for seed := uint64(1); seed <= 4; seed++ {
		for _, eta := range []float64{0.5, 1, 2, 3} {
			nets = append(nets, net{eta, seed})
		}
	}
	epoch := func(b *testing.B, tr train.Trainer, seed uint64) {
		n, _ := network.New(spec.Sizes, seed)
		tr.SetNetwork(n)
		if _, err := tr.Epoch(context.Background(), train.NewShuffler(seed, true).Order(set.Len()), nil); err != nil {
			b.Error(err)
		}
		tr.Close()
	}
	for _, how := range []string{"alone", "group"} {
		b.Run(how, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if how == "alone" {
					for _, nt := range nets {
						tr, err := OpenWorkers(train.NewConfig(spec, set.Len(), 10, nt.eta, graph.Float32), set, 1)
						if err != nil {
							b.Fatal(err)
						}
						epoch(b, tr, nt.seed)
					}
					continue
				}
				g := NewGroup(1)
				trs := make([]train.Trainer, len(nets))
				for j, nt := range nets {
					var err error
					if trs[j], err = g.Open(train.NewConfig(spec, set.Len(), 10, nt.eta, graph.Float32), set, fmt.Sprint(nt.seed)); err != nil {
						b.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				for j, nt := range nets {
					wg.Go(func() { epoch(b, trs[j], nt.seed) })
				}
				wg.Wait()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(nets)), "s/network-epoch")
		})
	}
}
