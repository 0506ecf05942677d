package cuda

import (
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// TestPlanGroup: a group's plan keeps a product whose α and β every
// network shares, and splits one whose α or β differ into the product
// alone (α 1, β 0, into a scratch buffer) and an element-wise launch that
// gives each network its own W ← β·W + α·S; each network's descriptors
// carry its own scalars, and programs of another shape are refused.
func TestPlanGroup(t *testing.T) {
	compile := func(t *testing.T, sizes []int, eta, lambda float64) *graph.Program {
		t.Helper()
		spec := network.Spec{Arch: network.Arch{Sizes: sizes}, Objective: network.Objective{Lambda: lambda}}.Norm()
		p, err := graph.Compile(spec, 10, graph.Float64, graph.Step{Eta: eta, N: 1000, Batch: 10})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sizes := []int{784, 30, 10}
	solo, err := newSchedule(compile(t, sizes, 0.5, 0), defaultLimits, 10)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same scalars", func(t *testing.T) {
		gp, err := planGroup([]*graph.Program{compile(t, sizes, 0.5, 0), compile(t, sizes, 0.5, 0)}, defaultLimits, 10)
		if err != nil {
			t.Fatal(err)
		}
		if gp.s.String() != solo.String() {
			t.Errorf("plan of two equal networks:\n%s\nwant the solo schedule:\n%s", gp.s, solo)
		}
	})

	t.Run("own η and λ", func(t *testing.T) {
		ps := []*graph.Program{compile(t, sizes, 0.5, 0), compile(t, sizes, 3, 5)}
		gp, err := planGroup(ps, defaultLimits, 10)
		if err != nil {
			t.Fatal(err)
		}
		updates := 0
		for i, l := range gp.s.launches {
			if l.gemm != nil {
				if l.gemm.Dst >= len(ps[0].Bufs) && (l.gemm.Alpha != 1 || l.gemm.Beta != 0) {
					t.Errorf("launch %d: a split product with α %g β %g, want 1 and 0", i, l.gemm.Alpha, l.gemm.Beta)
				}
				continue
			}
			for j, ops := range gp.ops[i] {
				if len(ops) != len(l.ops) {
					t.Fatalf("launch %d: network %d has %d ops, the launch %d", i, j, len(ops), len(l.ops))
				}
			}
			if len(l.ops) != 1 || l.ops[0].Op != int64(graph.Update) || int(l.ops[0].A) < len(ps[0].Bufs) {
				continue
			}
			updates++
			// W ← β·W − (−α)·S with each network's own product scalars.
			for j, p := range ps {
				var want *gemmCall
				for _, sl := range mustSchedule(t, p).launches {
					if sl.gemm != nil && int64(sl.gemm.Dst) == l.ops[0].Dst {
						want = sl.gemm
					}
				}
				if o := gp.ops[i][j][0]; want == nil || o.Alpha != -want.Alpha || o.Beta != want.Beta {
					t.Errorf("launch %d, network %d: update α %g β %g, want −α and β of its product %+v", i, j, o.Alpha, o.Beta, want)
				}
			}
		}
		if updates != 2 {
			t.Errorf("%d split weight updates, want 2 (one per layer):\n%s", updates, gp.s)
		}
		if got := len(gp.s.launches); got != len(solo.launches)+2 {
			t.Errorf("%d launches, want the solo %d and one per split product", got, len(solo.launches))
		}
	})

	t.Run("another shape", func(t *testing.T) {
		_, err := planGroup([]*graph.Program{compile(t, sizes, 0.5, 0), compile(t, []int{784, 20, 10}, 0.5, 0)}, defaultLimits, 10)
		if err == nil || !strings.Contains(err.Error(), "network 2 of the group compiles to another program") {
			t.Errorf("error %v, want one naming network 2's other program", err)
		}
	})
}

func mustSchedule(t *testing.T, p *graph.Program) *schedule {
	t.Helper()
	s, err := newSchedule(p, defaultLimits, 10)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
