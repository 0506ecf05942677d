//go:build gpu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// standinDevice is the name the CPU stand-in for the driver gives its
// device (cuda/standin/src/driver.cpp).
const standinDevice = "gputrain CPU stand-in (not a GPU)"

// faultRun is what one run of faultScenario left behind.
type faultRun struct {
	device   string
	costs    []float64
	pred     []uint8
	net      *network.Network
	warned   string // what the backend said on its warning writer
	graphErr error  // why a capture failed, if one did
	replays  int
	err      error // the first error of Open, SetNetwork, Epoch, Predict or Network
	closeErr error
}

// faultScenario is a short life of a backend that takes every path a
// training run does: Open, SetNetwork, two epochs (the first launches each
// step kernel by kernel, the second captures the steps into graphs and
// replays them; the short last batch has a program of its own), Predict on
// a larger set than the training set (two forward programs), Network and
// Close. It stops at the first error and still closes the backend.
func faultScenario(cfg train.Config, set, eval *mnist.Set, net *network.Network) (out faultRun) {
	be, err := Open(cfg, set)
	if err != nil {
		out.err = err
		return out
	}
	b := backendOf(be)
	out.device = b.device
	var warn strings.Builder
	b.warn = &warn
	out.err = func() error {
		if err := be.SetNetwork(net); err != nil {
			return err
		}
		sh := train.NewShuffler(1, true)
		for range 2 {
			cost, err := be.Epoch(context.Background(), sh.Order(set.Len()), nil)
			if err != nil {
				return err
			}
			out.costs = append(out.costs, cost)
		}
		var err error
		if out.pred, err = be.Predict(eval); err != nil {
			return err
		}
		out.net, err = be.Network()
		return err
	}()
	out.warned, out.graphErr, out.replays = warn.String(), b.graphErr, b.replays
	out.closeErr = be.Close()
	return out
}

// firedAt reads the stand-in's report (GPUTRAIN_STANDIN_FAIL_REPORT) of one
// run: the call fault tag:k fell on, or "" when none did.
func firedAt(t *testing.T, report, tag string, k int) string {
	t.Helper()
	b, err := os.ReadFile(report)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := fmt.Sprintf("%s %d ", tag, k)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Fatalf("the stand-in's fault report holds %q, want one line %q followed by a call", lines, want)
	}
	return strings.TrimPrefix(lines[0], want)
}

// checkFaultError holds an error caused by an injected fault to what the
// backend's errors promise: it says what the backend was doing ("cuda:
// ..."), then the driver's or cuBLAS's own words for the failure.
func checkFaultError(t *testing.T, k int, call, when string, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "cuda: ") || !(strings.Contains(msg, "(CUDA_ERROR_") || strings.Contains(msg, "cuBLAS: ")) {
		t.Errorf("fault %d (%s failed): %s returned %q: want \"cuda: WHAT IT WAS DOING: ...\" with the driver's (CUDA_ERROR_...) or cuBLAS's status", k, call, when, msg)
	}
}

// TestGPUFaults fails each driver and cuBLAS call a short training run makes,
// one per run, on the CPU stand-in for the driver (GPUTRAIN_STANDIN_FAIL=TAG:K
// fails the K-th call), until a run makes fewer calls than K. Every fault
// must end in an error that says what the backend was doing, from the call
// in progress (and Close then succeeds) or from Close; never a panic and
// never silent success, with one exception by design: a fault while a step
// is being captured into a CUDA graph makes the backend say so and go on
// kernel by kernel, and then the run must end exactly as the fault-free one
// (replays and launches give the same bits). Under GPUTRAIN_STANDIN_STRICT=1
// (make gpu-standin-check) memory left allocated when the backend has
// released the primary context ends the process with status 3, so every
// error path is shown to free what it allocated. On a real GPU the test
// skips: only the stand-in injects faults.
func TestGPUFaults(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	set, eval := randomSet(r, 33), randomSet(r, 520)
	report := filepath.Join(t.TempDir(), "faults")
	t.Setenv("GPUTRAIN_STANDIN_FAIL", "")
	t.Setenv("GPUTRAIN_STANDIN_FAIL_REPORT", report)
	for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
		t.Run(fmt.Sprint(dt), func(t *testing.T) {
			cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 3, Dtype: dt}
			net, _ := network.New(cfg.Sizes, 5)
			os.Setenv("GPUTRAIN_STANDIN_FAIL", "")
			clean := faultScenario(cfg, set, eval, net)
			if clean.err != nil || clean.closeErr != nil {
				t.Fatalf("without a fault: %v; Close: %v", clean.err, clean.closeErr)
			}
			if !strings.HasPrefix(clean.device, standinDevice) {
				t.Skipf("the device is %s: faults are injected only by the CPU stand-in for the driver (make gpu-standin-check)", clean.device)
			}
			if clean.graphErr != nil || clean.replays == 0 {
				t.Fatalf("without a fault the steps were not replayed from graphs (%d replays): %v", clean.replays, clean.graphErr)
			}
			tag := "TestGPUFaults-" + fmt.Sprint(dt)
			errs, fellBack := 0, 0
			calls := map[string]int{}
			for k := 1; ; k++ {
				if err := os.Remove(report); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				os.Setenv("GPUTRAIN_STANDIN_FAIL", fmt.Sprintf("%s:%d", tag, k))
				got := faultScenario(cfg, set, eval, net)
				call := firedAt(t, report, tag, k)
				if call == "" {
					if k == 1 {
						t.Fatalf("GPUTRAIN_STANDIN_FAIL=%s:1 failed no call: the stand-in predates fault injection (run make standin)", tag)
					}
					// Past the last call: the run must be the fault-free one.
					if got.err != nil || got.closeErr != nil || !got.net.Equal(clean.net) || !slices.Equal(got.pred, clean.pred) {
						t.Errorf("a run without a fault (%d calls) differs from the first: %v; Close: %v", k-1, got.err, got.closeErr)
					}
					var names []string
					for _, c := range slices.Sorted(maps.Keys(calls)) {
						names = append(names, fmt.Sprintf("%s %d", c, calls[c]))
					}
					t.Logf("%d calls failed in turn: %d ended in an error, %d in a failed capture and kernel-by-kernel launches; calls failed: %s",
						k-1, errs, fellBack, strings.Join(names, ", "))
					break
				}
				calls[call]++
				if strings.HasPrefix(call, "cuDevicePrimaryCtxRelease") {
					// The backend's release of the primary context failed and
					// left it retained, as a real driver would: release it
					// here, so that the next run starts from no context and
					// the stand-in checks this run's leaks.
					if err := cu.Device(0).ReleasePrimaryCtx(); err != nil {
						t.Fatalf("fault %d: releasing the primary context the backend could not: %v", k, err)
					}
				}
				switch {
				case got.err != nil:
					errs++
					checkFaultError(t, k, call, "the scenario", got.err)
					if got.closeErr != nil {
						t.Errorf("fault %d (%s failed): after %q, Close failed too: %v", k, call, got.err, got.closeErr)
					}
				case got.closeErr != nil:
					errs++
					checkFaultError(t, k, call, "Close", got.closeErr)
				case got.graphErr != nil && strings.Contains(got.warned, "capturing a training step into a CUDA graph failed"):
					fellBack++
					if !got.net.Equal(clean.net) || !slices.Equal(got.costs, clean.costs) || !slices.Equal(got.pred, clean.pred) {
						t.Errorf("fault %d (%s failed) stopped a capture; the run went on kernel by kernel but ended %g from the fault-free one",
							k, call, got.net.RelDiff(clean.net))
					}
				default:
					t.Errorf("fault %d: %s failed, and the run succeeded without saying so", k, call)
				}
			}
		})
	}
}

// TestGPUMisuse: what the backend answers to calls it cannot serve, each
// with one error naming the fault and nothing allocated or changed, and to
// the edge cases it must serve (an empty order or set, a backend without a
// training set, progress past 100 steps).
func TestGPUMisuse(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 2))
	set, eval := randomSet(r, 1010), randomSet(r, 40)
	cfg := train.Config{Spec: network.Book([]int{784, 30, 10}), BatchSize: 10, Eta: 3, Dtype: graph.Float32}
	net, _ := network.New(cfg.Sizes, 9)
	short := &mnist.Set{Images: make([]uint8, 100), Labels: make([]uint8, 3)}

	t.Run("Open", func(t *testing.T) {
		for _, c := range []struct {
			name string
			cfg  train.Config
			set  *mnist.Set
			want string
		}{
			{"images-short", cfg, short, "training set has 3 labels but 100 bytes of images"},
			{"batch-size", train.Config{Spec: network.Book(cfg.Sizes), BatchSize: 0, Eta: 3, Dtype: graph.Float32}, set, "batch"},
		} {
			t.Run(c.name, func(t *testing.T) {
				b, err := Open(c.cfg, c.set)
				if err == nil {
					b.Close()
					t.Fatalf("Open succeeded, want an error containing %q", c.want)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("Open: %v, want an error containing %q", err, c.want)
				}
			})
		}
	})

	b, err := Open(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetNetwork(net); err != nil {
		t.Fatal(err)
	}
	start := roundTrip(net)
	ragged := net.Clone()
	ragged.Biases[1] = ragged.Biases[1][:9]
	other, _ := network.New([]int{784, 20, 10}, 1)
	for _, c := range []struct {
		name string
		call func() error
		want string
	}{
		{"order-out-of-range", func() error {
			_, err := b.Epoch(context.Background(), []int32{0, 1010, 2}, nil)
			return err
		}, "order[1] = 1010 is not an image of the 1010-image training set"},
		{"order-negative", func() error {
			_, err := b.Epoch(context.Background(), []int32{-1}, nil)
			return err
		}, "order[0] = -1 is not an image"},
		{"network-sizes", func() error { return b.SetNetwork(other) }, "network [784 20 10] sigmoid, quadratic cost does not match the [784 30 10] sigmoid, quadratic cost the backend was opened for"},
		{"network-ragged", func() error { return b.SetNetwork(ragged) }, "biases[1]: want 10 values, have 9"},
		{"predict-images-short", func() error {
			_, err := b.Predict(short)
			return err
		}, "the set to predict has 3 labels but 100 bytes of images"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want an error containing %q", err, c.want)
			}
			if got, err := b.Network(); err != nil || !got.Equal(start) {
				t.Errorf("the refused call changed the parameters (%v)", err)
			}
		})
	}

	t.Run("empty", func(t *testing.T) {
		if cost, err := b.Epoch(context.Background(), nil, nil); err != nil || cost != 0 {
			t.Errorf("an epoch of no images: cost %v, %v; want 0, nil", cost, err)
		}
		if p, err := b.Predict(&mnist.Set{}); err != nil || len(p) != 0 {
			t.Errorf("predicting no images: %v, %v", p, err)
		}
		if got, err := b.Network(); err != nil || !got.Equal(start) {
			t.Errorf("an empty epoch changed the parameters (%v)", err)
		}
	})

	t.Run("progress", func(t *testing.T) {
		// 101 steps: progress after the first 100, and at the end, with
		// the mean cost so far, as the CPU backend reports them.
		type report struct {
			done int
			cost float64
		}
		epoch := func(tb train.Trainer) []report {
			var got []report
			if err := tb.SetNetwork(net); err != nil {
				t.Fatal(err)
			}
			if _, err := tb.Epoch(context.Background(), fileOrder(set.Len()), func(n int, c float64) { got = append(got, report{n, c}) }); err != nil {
				t.Fatal(err)
			}
			return got
		}
		ref, err := cpu.Open(cfg, set)
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		got, want := epoch(b), epoch(ref)
		if len(got) != 2 || len(want) != 2 || got[0].done != 1000 || got[1].done != 1010 {
			t.Fatalf("progress reported %v, the CPU backend %v; want after 1000 and 1010 images", got, want)
		}
		for i := range got {
			if d := math.Abs(got[i].cost-want[i].cost) / want[i].cost; !(d <= 1e-4) {
				t.Errorf("mean cost after %d images %v, CPU %v", got[i].done, got[i].cost, want[i].cost)
			}
		}
	})

	t.Run("no-training-set", func(t *testing.T) {
		fwd, err := Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fwd.Close()
		if _, err := fwd.Epoch(context.Background(), []int32{0}, nil); err == nil ||
			!strings.Contains(err.Error(), "Epoch: the backend was opened without a training set") {
			t.Errorf("Epoch without a training set: %v", err)
		}
		if err := fwd.SetNetwork(net); err != nil {
			t.Fatal(err)
		}
		got, err := fwd.Predict(eval)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := cpu.Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cb.Close()
		if err := cb.SetNetwork(net); err != nil {
			t.Fatal(err)
		}
		want, err := cb.Predict(eval)
		if err != nil {
			t.Fatal(err)
		}
		if n := countDiffer(got, want); n > 0 {
			t.Errorf("%d of %d predictions differ from the CPU backend's", n, len(got))
		}
	})

	t.Run("closed", func(t *testing.T) {
		closed, err := Open(cfg, set)
		if err != nil {
			t.Fatal(err)
		}
		if err := closed.Close(); err != nil {
			t.Fatal(err)
		}
		if err := closed.Close(); err != nil {
			t.Errorf("a second Close: %v", err)
		}
		for what, call := range map[string]func() error{
			"setting the parameters":      func() error { return closed.SetNetwork(net) },
			"reading the parameters":      func() error { _, err := closed.Network(); return err },
			"uploading the epoch's order": func() error { _, err := closed.Epoch(context.Background(), []int32{0}, nil); return err },
			"loading a data set":          func() error { _, err := closed.Predict(eval); return err },
		} {
			if err := call(); err == nil || err.Error() != "cuda: "+what+": the backend is closed" {
				t.Errorf("%s after Close: %v", what, err)
			}
		}
	})

	t.Run("BatchSize", func(t *testing.T) {
		if b.BatchSize() != cfg.BatchSize {
			t.Errorf("BatchSize() = %d, want %d", b.BatchSize(), cfg.BatchSize)
		}
	})
}
