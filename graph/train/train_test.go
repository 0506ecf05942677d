package train_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

func randomSet(seed uint64, n int) *mnist.Set {
	r := rand.New(rand.NewPCG(seed, seed))
	s := &mnist.Set{Images: make([]uint8, n*mnist.Pixels), Labels: make([]uint8, n)}
	for i := range s.Images {
		s.Images[i] = uint8(r.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(r.IntN(10))
	}
	return s
}

func TestShufflerOrders(t *testing.T) {
	a, b := train.NewShuffler(4, true), train.NewShuffler(4, true)
	o1, o2 := a.Order(1000), a.Order(1000)
	if !slices.Equal(o1, b.Order(1000)) {
		t.Fatal("the same seed gave different orders")
	}
	if slices.Equal(o1, o2) {
		t.Fatal("two epochs had the same order")
	}
	sorted := slices.Clone(o1)
	slices.Sort(sorted)
	for i, v := range sorted {
		if int(v) != i {
			t.Fatal("an order is not a permutation")
		}
	}
	if o := train.NewShuffler(4, false).Order(5); !slices.Equal(o, []int32{0, 1, 2, 3, 4}) {
		t.Fatalf("--no-shuffle order %v, want file order", o)
	}
	state, _ := a.MarshalBinary()
	c := train.NewShuffler(99, true)
	if err := c.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Order(1000), c.Order(1000)) {
		t.Fatal("a restored shuffler draws a different order")
	}
}

// TestResumeIsBitIdentical: a run interrupted mid-epoch and resumed from
// the position it reported ends with the same parameters, bit for bit, as
// one that ran straight through.
func TestResumeIsBitIdentical(t *testing.T) {
	set := randomSet(1, 1234)
	cfg := train.Config{Spec: network.Book([]int{784, 20, 10}), BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	start, _ := network.New(cfg.Sizes, 2)
	open := func(n *network.Network) train.Trainer {
		b, err := cpu.Open(cfg, set)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetNetwork(n); err != nil {
			t.Fatal(err)
		}
		return b
	}
	nop := func(train.Result, train.Position) error { return nil }

	straight := open(start)
	defer straight.Close()
	if err := train.Run(context.Background(), straight, set.Len(), train.NewShuffler(3, true), train.Options{Epochs: 3}, nop); err != nil {
		t.Fatal(err)
	}
	want, _ := straight.Network()

	first := open(start)
	defer first.Close()
	ctx, cancel := context.WithCancel(context.Background())
	opt := train.Options{Epochs: 3, Progress: func(epoch, done int, _ float64) {
		if epoch == 1 && done >= 500 {
			cancel()
		}
	}}
	err := train.Run(ctx, first, set.Len(), train.NewShuffler(3, true), opt, nop)
	var in *train.Interrupted
	if !errors.As(err, &in) || in.At.Epoch != 1 || in.At.Done == 0 {
		t.Fatalf("error %v, want an interruption inside epoch 1", err)
	}
	mid, _ := first.Network()

	second := open(mid)
	defer second.Close()
	if err := train.Run(context.Background(), second, set.Len(), train.NewShuffler(3, true), train.Options{Epochs: 3, Start: in.At}, nop); err != nil {
		t.Fatal(err)
	}
	got, _ := second.Network()
	if !got.Equal(want) {
		t.Fatal("the resumed run's parameters differ from the straight run's")
	}
	if got.Equal(start) {
		t.Fatal("training did not change the parameters")
	}
}

// TestRunReports checks the per-epoch results and the divergence hand-off.
func TestRunReports(t *testing.T) {
	set := randomSet(2, 300)
	b, _ := cpu.Open(train.Config{Spec: network.Book([]int{784, 10}), BatchSize: 7, Eta: 3, Dtype: graph.Float64}, set)
	defer b.Close()
	net, _ := network.New([]int{784, 10}, 1)
	b.SetNetwork(net)
	var got []train.Result
	err := train.Run(context.Background(), b, set.Len(), train.NewShuffler(1, true), train.Options{Epochs: 2, Eval: set.Slice(0, 100)},
		func(r train.Result, next train.Position) error {
			if next.Epoch != r.Epoch+1 || next.Done != 0 {
				t.Errorf("after epoch %d the next position is %+v", r.Epoch, next)
			}
			got = append(got, r)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Epoch != 1 || got[0].Total != 100 || got[0].Cost <= 0 {
		t.Fatalf("results %+v", got)
	}
	correct, _ := train.Evaluate(b, set.Slice(0, 100))
	if got[1].Correct != correct {
		t.Fatalf("epoch 1 reported %d correct, evaluating again gives %d", got[1].Correct, correct)
	}

	bad, _ := cpu.Open(train.Config{Spec: network.Book([]int{784, 10}), BatchSize: 7, Eta: 1e39, Dtype: graph.Float32}, set)
	defer bad.Close()
	bad.SetNetwork(net)
	err = train.Run(context.Background(), bad, set.Len(), train.NewShuffler(1, true), train.Options{Epochs: 3, Start: train.Position{Epoch: 2}}, func(train.Result, train.Position) error { return nil })
	var d *train.Divergence
	if !errors.As(err, &d) || d.Epoch != 2 {
		t.Fatalf("error %v, want a divergence in epoch 2", err)
	}
}

// TestRunRefusesBadStart: a start position outside the run is an error,
// not a slice out of range.
func TestRunRefusesBadStart(t *testing.T) {
	set := randomSet(3, 20)
	b, err := cpu.Open(train.Config{Spec: network.Book([]int{784, 3, 10}), BatchSize: 10, Eta: 1, Dtype: graph.Float32}, set)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	net, _ := network.New([]int{784, 3, 10}, 1)
	b.SetNetwork(net)
	for _, start := range []train.Position{{Epoch: 0, Done: 5000}, {Epoch: -1}, {Epoch: 0, Done: -10}} {
		err := train.Run(context.Background(), b, set.Len(), train.NewShuffler(1, true), train.Options{Epochs: 2, Start: start},
			func(train.Result, train.Position) error { return nil })
		if err == nil {
			t.Errorf("start %+v: no error", start)
		}
	}
}

// TestCheckNetwork: a network fits a backend when it computes what the
// backend was opened for; its cost and λ may differ, its sizes, hidden
// activation and output layer may not.
func TestCheckNetwork(t *testing.T) {
	sizes := []int{784, 3, 10}
	open := network.Spec{Arch: network.Arch{Sizes: sizes}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 5}}
	cases := []struct {
		spec network.Spec
		want string // "" when it fits
	}{
		{network.Spec{Arch: network.Arch{Sizes: sizes}}, ""},
		{network.Spec{Arch: network.Arch{Sizes: sizes}, Objective: network.Objective{Cost: network.CrossEntropy}}, ""},
		{network.Spec{Arch: network.Arch{Sizes: []int{784, 4, 10}}}, "does not match"},
		{network.Spec{Arch: network.Arch{Sizes: sizes, Activation: network.Tanh}}, "does not match"},
		{network.Spec{Arch: network.Arch{Sizes: sizes}, Objective: network.Objective{Cost: network.LogLikelihood}}, "does not match"}, // a softmax output layer
	}
	for _, c := range cases {
		t.Run(c.spec.String(), func(t *testing.T) {
			n, err := network.NewSpec(c.spec, 1, network.Large)
			if err != nil {
				t.Fatal(err)
			}
			err = train.CheckNetwork(n, open)
			if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckNetwork: %v, want %q", err, c.want)
			}
		})
	}
	bad, _ := network.New(sizes, 1)
	bad.Weights[0][0] = math.NaN()
	if err := train.CheckNetwork(bad, open); err == nil {
		t.Fatal("a network holding NaN fits")
	}
}

func TestStalled(t *testing.T) {
	res := func(correct ...int) []train.Result {
		var r []train.Result
		for i, c := range correct {
			r = append(r, train.Result{Epoch: i, Correct: c, Total: 100})
		}
		return r
	}
	cases := []struct {
		results []train.Result
		n       int
		want    bool
	}{
		{res(), 1, false},
		{res(50), 1, false},
		{res(50, 50), 1, true}, // equal is no improvement
		{res(50, 60), 1, false},
		{res(50, 60, 55, 58), 2, true},
		{res(50, 60, 55, 61), 2, false},
		{res(50, 60, 55, 58), 3, false},
		{res(50, 60, 55, 58), 0, false}, // 0: never stop
	}
	for _, c := range cases {
		if got := train.Stalled(c.results, c.n); got != c.want {
			t.Errorf("Stalled(%v, %d) = %v, want %v", c.results, c.n, got, c.want)
		}
	}
}

// TestNewConfig: a batch size over the training set is the set, as the
// book's SGD cuts it (mini_batches of at most mini_batch_size).
func TestNewConfig(t *testing.T) {
	spec := network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Lambda: 5}}
	for _, c := range []struct{ n, batch, want int }{{1000, 10, 10}, {1000, 1000, 1000}, {7, 10, 7}} {
		cfg := train.NewConfig(spec, c.n, c.batch, 0.5, graph.Float64)
		if cfg.BatchSize != c.want || cfg.TrainSize != c.n || cfg.Eta != 0.5 || cfg.Dtype != graph.Float64 || cfg.Lambda != 5 {
			t.Errorf("NewConfig(n %d, batch %d) = %+v, want batch %d", c.n, c.batch, cfg, c.want)
		}
		if err := cfg.Check(); err != nil {
			t.Errorf("NewConfig(n %d, batch %d): %v", c.n, c.batch, err)
		}
	}
}
