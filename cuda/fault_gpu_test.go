//go:build gpu

package cuda

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/cu"

	"github.com/gputrain/gputrain/graph"
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
	net      *graph.Network
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
func faultScenario(cfg train.Config, set, eval *mnist.Set, net *graph.Network) (out faultRun) {
	be, err := Open(cfg, set)
	if err != nil {
		out.err = err
		return out
	}
	b := be.(*backend)
	out.device = b.Device()
	var warn strings.Builder
	b.warn = &warn
	out.err = func() error {
		if err := b.SetNetwork(net); err != nil {
			return err
		}
		sh := train.NewShuffler(1, true)
		for range 2 {
			cost, err := b.Epoch(context.Background(), sh.Order(set.Len()), nil)
			if err != nil {
				return err
			}
			out.costs = append(out.costs, cost)
		}
		var err error
		if out.pred, err = b.Predict(eval); err != nil {
			return err
		}
		out.net, err = b.Network()
		return err
	}()
	out.warned, out.graphErr, out.replays = warn.String(), b.graphErr, b.replays
	out.closeErr = b.Close()
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
			cfg := train.Config{Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 3, Dtype: dt}
			net, _ := graph.New(cfg.Sizes, 5)
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
					names := slices.Sorted(func(yield func(string) bool) {
						for c := range calls {
							if !yield(fmt.Sprintf("%s %d", c, calls[c])) {
								return
							}
						}
					})
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
