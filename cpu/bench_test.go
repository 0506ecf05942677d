package cpu

import (
	"context"
	"fmt"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/train"
)

// BenchmarkEpoch times one full 50,000-image epoch of MNIST (fetched into
// $GPUTRAIN_DATA or ../data/mnist if missing). Real digits matter: dense
// random pixels saturate every sigmoid and run twice as slow, on denormal
// arithmetic. The book's run is sizes=784,30,10 batch=10.
func BenchmarkEpoch(b *testing.B) {
	set := realData(b).Training
	for _, c := range []struct {
		sizes []int
		batch int
		dt    graph.Dtype
	}{
		{[]int{784, 30, 10}, 10, graph.Float32},
		{[]int{784, 30, 10}, 10, graph.Float64},
		{[]int{784, 100, 10}, 10, graph.Float32},
		{[]int{784, 1000, 10}, 100, graph.Float32},
	} {
		b.Run(fmt.Sprintf("sizes=%v/batch=%d/%v", c.sizes, c.batch, c.dt), func(b *testing.B) {
			be, err := Open(train.Config{Sizes: c.sizes, BatchSize: c.batch, Eta: 3, Dtype: c.dt}, set)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			net, _ := graph.New(c.sizes, 1)
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
