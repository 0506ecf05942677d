package cpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// groupRun is what one network's training gives: each epoch's test
// count, its divergence if any, its final parameters.
type groupRun struct {
	correct []int
	div     *train.Divergence
	net     *network.Network
}

// trainNet trains a network of spec from seed on b for epochs, as the
// sweep does, evaluating on eval after each epoch.
func trainNet(t *testing.T, b train.Trainer, spec network.Spec, seed uint64, n, epochs int, eval *mnist.Set) groupRun {
	defer b.Close()
	var r groupRun
	net, err := network.NewSpec(spec, seed, network.WeightInit("scaled"))
	if err != nil {
		t.Error(err)
		return r
	}
	if err := b.SetNetwork(net); err != nil {
		t.Error(err)
		return r
	}
	err = train.Run(context.Background(), b, n, train.NewShuffler(seed, true), train.Options{Epochs: epochs, Eval: eval},
		func(res train.Result, _ train.Position) error { r.correct = append(r.correct, res.Correct); return nil })
	if !errors.As(err, &r.div) && err != nil {
		t.Error(err)
	}
	if r.div == nil {
		r.net, _ = b.Network()
	}
	return r
}

// TestGroupEqualsSoloRuns: every network of a group (η × λ × seed, one
// diverging) ends each epoch as its solo run does: the same test counts,
// the same parameters bit for bit (the task asks 1e-12 relative in
// float64 and 1e-5 in float32; the stacked product computes each element
// as the solo program does), the same divergence; and the stacked path
// carried the steps of every network that shares its seed.
func TestGroupEqualsSoloRuns(t *testing.T) {
	d := realData(t)
	training := &mnist.Set{Images: d.Training.Images[:5000*mnist.Pixels], Labels: d.Training.Labels[:5000]}
	eval := &mnist.Set{Images: d.Test.Images[:1000*mnist.Pixels], Labels: d.Test.Labels[:1000]}
	type net struct {
		eta, lambda float64
		seed        uint64
	}
	var nets []net
	for _, seed := range []uint64{1, 2} {
		for _, eta := range []float64{0.5, 3} {
			for _, lambda := range []float64{0, 5} {
				nets = append(nets, net{eta, lambda, seed})
			}
		}
	}
	nets = append(nets, net{1e39, 0, 1}) // diverges in its first epoch; the others go on
	const epochs, batch = 2, 10
	for _, dt := range []graph.Dtype{graph.Float64, graph.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			cfgs := make([]train.Config, len(nets))
			specs := make([]network.Spec, len(nets))
			for i, nt := range nets {
				specs[i] = network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: nt.lambda}}.Norm()
				cfgs[i] = train.NewConfig(specs[i], training.Len(), batch, nt.eta, dt)
			}
			g := NewGroup(2) // the group's pool is used, by evaluation
			trainers := make([]train.Trainer, len(nets))
			for i, nt := range nets {
				var err error
				if trainers[i], err = g.Open(cfgs[i], training, fmt.Sprint(nt.seed)); err != nil {
					t.Fatal(err)
				}
			}
			together := make([]groupRun, len(nets))
			var wg sync.WaitGroup
			for i, nt := range nets {
				wg.Go(func() { together[i] = trainNet(t, trainers[i], specs[i], nt.seed, training.Len(), epochs, eval) })
			}
			wg.Wait()
			steps := 0 // every network shares its seed: every step stacked
			for i, nt := range nets {
				b, err := OpenWorkers(cfgs[i], training, 1)
				if err != nil {
					t.Fatal(err)
				}
				solo, got := trainNet(t, b, specs[i], nt.seed, training.Len(), epochs, eval), together[i]
				name := fmt.Sprintf("η %g λ %g seed %d", nt.eta, nt.lambda, nt.seed)
				epochs := epochs
				if solo.div != nil {
					epochs = solo.div.Epoch + 1 // a diverged epoch runs to its end
				}
				steps += epochs * training.Len() / batch
				if fmt.Sprint(solo.div) != fmt.Sprint(got.div) {
					t.Errorf("%s: divergence %v in the group, %v alone", name, got.div, solo.div)
					continue
				}
				if fmt.Sprint(got.correct) != fmt.Sprint(solo.correct) {
					t.Errorf("%s: test counts %v in the group, %v alone", name, got.correct, solo.correct)
				}
				if solo.net == nil {
					continue
				}
				for l := range solo.net.Weights {
					for _, p := range [][2][]float64{{got.net.Weights[l], solo.net.Weights[l]}, {got.net.Biases[l], solo.net.Biases[l]}} {
						for j := range p[1] {
							if p[0][j] != p[1][j] && !(math.IsNaN(p[0][j]) && math.IsNaN(p[1][j])) {
								t.Errorf("%s: layer %d parameter %d is %v in the group, %v alone", name, l+1, j, p[0][j], p[1][j])
								break
							}
						}
					}
				}
			}
			if got := g.Stacked(); got != steps {
				t.Errorf("%d network-steps stacked, want %d", got, steps)
			}
		})
	}
}
