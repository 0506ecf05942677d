//go:build gpu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// groupRun is one network of a group test: its settings and what its
// epoch ended with.
type groupRun struct {
	cfg  train.Config
	seed uint64
	net  *network.Network
	pred []uint8
	err  error
}

// trainGroup trains runs' networks for an epoch as one Group, each on its
// own goroutine from its seed's initial network and shuffled order (as a
// sweep does), and keeps each one's parameters and predictions on eval.
func trainGroup(t *testing.T, runs []*groupRun, set, eval *mnist.Set) *Group {
	t.Helper()
	g := NewGroup()
	ts := make([]train.Trainer, len(runs))
	for i, r := range runs {
		b, err := g.Open(r.cfg, set)
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = b
	}
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Go(func() {
			b := ts[i]
			defer b.Close()
			net, _ := network.NewSpec(r.cfg.Spec, r.seed, network.Large)
			if r.err = b.SetNetwork(net); r.err != nil {
				return
			}
			order := train.NewShuffler(r.seed, true).Order(set.Len())
			if _, r.err = b.Epoch(context.Background(), order, nil); r.err != nil {
				return
			}
			if r.net, r.err = b.Network(); r.err != nil {
				return
			}
			r.pred, r.err = b.Predict(eval)
		})
	}
	wg.Wait()
	return g
}

// soloRun is runs[i]'s network trained alone on open, as trainGroup does.
func soloRun(t *testing.T, open train.Opener, r *groupRun, set, eval *mnist.Set) (*network.Network, []uint8) {
	t.Helper()
	net, _ := network.NewSpec(r.cfg.Spec, r.seed, network.Large)
	got, _, b := epochOn(t, open, r.cfg, set, net, train.NewShuffler(r.seed, true).Order(set.Len()))
	pred, err := b.Predict(eval)
	if err != nil {
		t.Fatal(err)
	}
	return got, pred
}

// TestGPUGroupMatchesSolo: each network of a 2×2×2 sweep (η × λ × seed,
// cross-entropy, one epoch of 2,000 images in float64 and 1,000 in
// float32, each in its own shuffled order) trained as one Group ends where
// its solo run on the CPU backend ends, within 1e-9 relative in float64
// and 1e-5 in float32, and predicts the same digits of 500 other images.
// Against the CUDA backend's solo run the bound is the same on a GPU,
// whose strided-batched products need not round as its single ones do,
// and 0 on the stand-in, whose do. η is 0.1 and 0.5: at η 3 the CUDA
// backend's solo run itself leaves the CPU's (0.35 relative after 200
// steps; TestGPUMatchesCPU keeps to 100), while the group still equals
// the CUDA solo run bit for bit.
func TestGPUGroupMatchesSolo(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 4))
	data := mnistData(t)
	images := firstImages(data, r, 2000)
	eval := randomSet(r, 500)
	if data != nil {
		eval = data.Test.Slice(0, 500)
	}
	for _, dt := range []graph.Dtype{graph.Float64, graph.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			set := images
			if dt == graph.Float32 {
				set = images.Slice(0, 1000)
			}
			var runs []*groupRun
			for _, eta := range []float64{0.1, 0.5} {
				for _, lambda := range []float64{0, 5} {
					for _, seed := range []uint64{1, 2} {
						spec := network.Spec{Arch: network.Arch{Sizes: []int{784, 30, 10}}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: lambda}}.Norm()
						runs = append(runs, &groupRun{cfg: train.NewConfig(spec, set.Len(), 10, eta, dt), seed: seed})
					}
				}
			}
			g := trainGroup(t, runs, set, eval)
			if g.replays == 0 && useGraphs {
				t.Errorf("the group's steps were never replayed from a captured graph")
			}
			tol := 1e-5
			if dt == graph.Float64 {
				tol = 1e-9
			}
			for _, run := range runs {
				name := fmt.Sprintf("eta %g lambda %g seed %d", run.cfg.Eta, run.cfg.Lambda, run.seed)
				if run.err != nil {
					t.Errorf("%s: %v", name, run.err)
					continue
				}
				for _, solo := range []struct {
					name string
					open train.Opener
				}{{"CPU", cpu.Open}, {"CUDA", Open}} {
					want, pred := soloRun(t, solo.open, run, set, eval)
					if d := run.net.RelDiff(want); d > tol || (solo.name == "CUDA" && onStandin(g) && d != 0) {
						t.Errorf("%s: parameters differ from the %s solo run's by %g relative, more than %g; %s", name, solo.name, d, tol, firstDiff(run.net, want, tol))
					}
					if differ := countDiffer(run.pred, pred); differ > 0 {
						t.Errorf("%s: %d of %d predictions differ from the %s solo run's", name, differ, len(pred), solo.name)
					}
				}
			}
		})
	}
}

// TestGPUGroupDivergence: a network whose η diverges (1e39, float32)
// stops alone with a *train.Divergence, as in its solo run; the group's
// other networks, before and after it, end as their solo runs do.
func TestGPUGroupDivergence(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 5))
	set, eval := randomSet(r, 300), randomSet(r, 100)
	var runs []*groupRun
	for _, eta := range []float64{0.5, 1e39, 3} {
		runs = append(runs, &groupRun{cfg: train.NewConfig(network.Book([]int{784, 20, 10}), set.Len(), 10, eta, graph.Float32), seed: 3})
	}
	trainGroup(t, runs, set, eval)
	var d *train.Divergence
	if !errors.As(runs[1].err, &d) {
		t.Fatalf("η 1e39: error %v, want a *train.Divergence", runs[1].err)
	}
	for _, run := range []*groupRun{runs[0], runs[2]} {
		if run.err != nil {
			t.Fatalf("η %g: %v", run.cfg.Eta, run.err)
		}
		want, pred := soloRun(t, cpu.Open, run, set, eval)
		if d := run.net.RelDiff(want); d > 1e-5 {
			t.Errorf("η %g: parameters differ from the CPU solo run's by %g relative", run.cfg.Eta, d)
		}
		if differ := countDiffer(run.pred, pred); differ > 0 {
			t.Errorf("η %g: %d predictions differ from the solo run's", run.cfg.Eta, differ)
		}
	}
}

// TestGPUGroupRefuses: a group takes networks of one program only, and
// none of layers; it says so at Open.
func TestGPUGroupRefuses(t *testing.T) {
	set := randomSet(rand.New(rand.NewPCG(23, 6)), 50)
	g := NewGroup()
	a, err := g.Open(train.NewConfig(network.Book([]int{784, 20, 10}), set.Len(), 10, 1, graph.Float32), set)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ls, _ := network.ParseLayers("conv:2x5x5,pool:2,softmax:10")
	for _, c := range []struct {
		cfg  train.Config
		want string
	}{
		{train.NewConfig(network.Book([]int{784, 30, 10}), set.Len(), 10, 1, graph.Float32), "one shape"},
		{train.NewConfig(network.Book([]int{784, 20, 10}), set.Len(), 5, 1, graph.Float32), "one shape"},
		{train.NewConfig(network.Book([]int{784, 20, 10}), set.Len(), 10, 1, graph.Float64), "one shape"},
		{train.NewConfig(network.Spec{Arch: network.Arch{Layers: ls}}.Norm(), set.Len(), 10, 1, graph.Float32), "fully connected"},
	} {
		if _, err := g.Open(c.cfg, set); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%v batch %d %v): error %v, want one saying %q", c.cfg.Spec, c.cfg.BatchSize, c.cfg.Dtype, err, c.want)
		}
	}
}

// onStandin reports whether g's device is the CPU stand-in for the driver.
func onStandin(g *Group) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Contains(g.device, "stand-in")
}

// groupFaultRun is what a group fault scenario ended with.
type groupFaultRun struct {
	errs   []error // the networks' first errors, Close's among them
	nets   []*network.Network
	warned string
}

// groupFaultScenario trains two networks (η 3 and 0.5) as a group for two
// epochs of set, reads them back and predicts eval, each network on a
// goroutine of its own.
func groupFaultScenario(set, eval *mnist.Set, warn *strings.Builder) (out groupFaultRun) {
	g := NewGroup()
	var ts []train.Trainer
	for _, eta := range []float64{3, 0.5} {
		b, err := g.Open(train.NewConfig(network.Book([]int{784, 30, 10}), set.Len(), 10, eta, graph.Float32), set)
		if err != nil {
			out.errs = append(out.errs, err)
			continue
		}
		if g.dev != nil {
			g.dev.warn = warn
		}
		ts = append(ts, b)
	}
	out.errs = append(out.errs, make([]error, len(ts))...)
	out.nets = make([]*network.Network, len(ts))
	first := len(out.errs) - len(ts)
	var wg sync.WaitGroup
	for i, b := range ts {
		wg.Go(func() {
			err := func() error {
				net, _ := network.New([]int{784, 30, 10}, 5)
				if err := b.SetNetwork(net); err != nil {
					return err
				}
				sh := train.NewShuffler(uint64(i+1), true)
				for range 2 {
					if _, err := b.Epoch(context.Background(), sh.Order(set.Len()), nil); err != nil {
						return err
					}
				}
				if _, err := b.Predict(eval); err != nil {
					return err
				}
				var err error
				out.nets[i], err = b.Network()
				return err
			}()
			if cerr := b.Close(); err == nil {
				err = cerr
			}
			out.errs[first+i] = err
		})
	}
	wg.Wait()
	out.warned = warn.String()
	return out
}

// TestGPUGroupFaults fails each driver and cuBLAS call of a group's run in
// turn (the stand-in's GPUTRAIN_STANDIN_FAIL, float32): each either ends
// a network's run with an error that says what the group was doing and
// the driver's or cuBLAS's words, or stops a capture and the run goes on
// kernel by kernel to the fault-free result. Under
// GPUTRAIN_STANDIN_STRICT=1 every error path is shown to free what it
// allocated. On a real GPU the test skips.
func TestGPUGroupFaults(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 7))
	set, eval := randomSet(r, 33), randomSet(r, 40)
	report := filepath.Join(t.TempDir(), "faults")
	t.Setenv("GPUTRAIN_STANDIN_FAIL", "")
	t.Setenv("GPUTRAIN_STANDIN_FAIL_REPORT", report)
	var warn strings.Builder
	clean := groupFaultScenario(set, eval, &warn)
	if err := errors.Join(clean.errs...); err != nil {
		t.Fatalf("without a fault: %v", err)
	}
	g := NewGroup()
	if b, err := g.Open(train.NewConfig(network.Book([]int{784, 30, 10}), set.Len(), 10, 1, graph.Float32), set); err == nil {
		dev := g.device
		b.Close()
		if !strings.HasPrefix(dev, standinDevice) {
			t.Skipf("the device is %s: faults are injected only by the CPU stand-in for the driver (make gpu-standin-check)", dev)
		}
	}
	const tag = "TestGPUGroupFaults"
	for k := 1; ; k++ {
		if err := os.Remove(report); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		os.Setenv("GPUTRAIN_STANDIN_FAIL", fmt.Sprintf("%s:%d", tag, k))
		var warn strings.Builder
		got := groupFaultScenario(set, eval, &warn)
		call := firedAt(t, report, tag, k)
		if call == "" {
			t.Logf("%d calls failed in turn", k-1)
			break
		}
		if strings.HasPrefix(call, "cuDevicePrimaryCtxRelease") {
			if err := cu.Device(0).ReleasePrimaryCtx(); err != nil {
				t.Fatalf("fault %d: releasing the primary context the group could not: %v", k, err)
			}
		}
		if err := errors.Join(got.errs...); err != nil {
			for _, e := range got.errs {
				if e != nil {
					checkFaultError(t, k, call, "the group", e)
					break
				}
			}
			continue
		}
		if !strings.Contains(got.warned, "capturing a training step into a CUDA graph failed") {
			t.Errorf("fault %d: %s failed, and the run succeeded without saying so", k, call)
			continue
		}
		for i := range got.nets {
			if !got.nets[i].Equal(clean.nets[i]) {
				t.Errorf("fault %d (%s failed) stopped a capture; network %d went on kernel by kernel but ended %g from the fault-free one", k, call, i, got.nets[i].RelDiff(clean.nets[i]))
			}
		}
	}
}
