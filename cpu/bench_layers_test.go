package cpu

import (
	"context"
	"fmt"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

// BenchmarkEpochLayers times one full 50,000-image epoch of chapter 6's
// networks in float32: the shallow network (η 0.1) and two ReLU
// convolutions (η 0.03, λ 0.1), at batch 10 and 100. It reports the
// matrix products' work per image of a training step (MFLOP/image,
// forward and backward) and the rate that makes (GFLOP/s), the figure
// BENCHMARKS.md holds against the CPU's peak.
func BenchmarkEpochLayers(b *testing.B) {
	set := realData(b).Training
	for _, c := range []struct {
		name, layers string
		eta, lambda  float64
	}{
		{"shallow", "conv:20x5x5,pool:2,fc:100,softmax:10", 0.1, 0},
		{"two-conv-relu", "conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10", 0.03, 0.1},
	} {
		layers, err := network.ParseLayers(c.layers)
		if err != nil {
			b.Fatal(err)
		}
		spec := network.Spec{Arch: network.Arch{Layers: layers}, Objective: network.Objective{Lambda: c.lambda}}.Norm()
		for _, batch := range []int{10, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", c.name, batch), func(b *testing.B) {
				cfg := train.NewConfig(spec, set.Len(), batch, c.eta, graph.Float32)
				p, err := graph.Compile(spec, batch, cfg.Dtype, graph.Step{Eta: c.eta, N: set.Len(), Batch: batch})
				if err != nil {
					b.Fatal(err)
				}
				flops := stepFlops(p) / float64(batch)
				be, err := Open(cfg, set)
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				net, _ := network.NewSpec(spec, 1, network.Scaled)
				be.SetNetwork(net)
				sh := train.NewShuffler(1, true)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := be.Epoch(context.Background(), sh.Order(set.Len()), nil); err != nil {
						b.Fatal(err)
					}
				}
				secs := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(secs, "s/epoch")
				b.ReportMetric(flops/1e6, "MFLOP/image")
				b.ReportMetric(flops*float64(set.Len())/secs/1e9, "GFLOP/s")
			})
		}
	}
}

// stepFlops is the work of a program's matrix products, 2·m·n·k each.
func stepFlops(p *graph.Program) float64 {
	var f float64
	for _, in := range p.Instrs {
		if in.Op == graph.MatMul {
			m, n, k := p.MatMulDims(in)
			f += 2 * float64(m) * float64(n) * float64(k)
		}
	}
	return f
}
