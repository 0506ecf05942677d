package graph

import (
	"fmt"
	"github.com/gputrain/gputrain/graph/network"
	"math"
	"strings"
	"testing"
)

// TestCompiledProgramShape checks properties every training program must
// have, for many architectures: it validates; each parameter is written
// exactly once, after its last read (so a fused update never changes a
// weight that a later gradient still needs); no gradient is stored for a
// weight (the update is fused into the product); and σ is evaluated once
// per layer (σ(−z) was rewritten to 1−σ(z)).
func TestCompiledProgramShape(t *testing.T) {
	for _, sizes := range [][]int{{784, 10}, {784, 30, 10}, {784, 100, 10}, {784, 17, 9, 10}, {784, 5, 5, 5, 10}} {
		for _, m := range []int{1, 3, 10} {
			t.Run(fmt.Sprintf("%v/m=%d", sizes, m), func(t *testing.T) {
				p, err := Compile(network.Book(sizes), m, Float32, Step{Eta: 3})
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Validate(); err != nil {
					t.Fatal(err)
				}
				params := append(append([]int{}, p.Weights...), p.Biases...)
				sigmoids := 0
				for _, in := range p.Instrs {
					if in.Op == Sigmoid {
						sigmoids++
					}
					if in.Op == Update {
						t.Errorf("unfused update of %s", p.Bufs[in.Dst].Name)
					}
				}
				if sigmoids != len(sizes)-1 {
					t.Errorf("%d sigmoids, want one per layer (%d)", sigmoids, len(sizes)-1)
				}
				for _, w := range params {
					writes, lastRead, write := 0, -1, -1
					for i, in := range p.Instrs {
						if p.Storage(in.Dst) == w {
							writes++
							write = i
						}
						for _, r := range in.Reads() {
							if p.Storage(r) == w && p.Storage(in.Dst) != w {
								lastRead = i
							}
						}
					}
					if writes != 1 || write < lastRead {
						t.Errorf("%s: %d writes, written at %d, last read at %d", p.Bufs[w].Name, writes, write, lastRead)
					}
				}
				// The update's scale is −η: the gradient already carries 1/m from C = (1/2m)Σ‖y−a‖².
				for _, in := range p.Instrs {
					if p.Bufs[in.Dst].Kind == Param && math.Abs(in.Alpha+3) > 1e-12 {
						t.Errorf("%v into %s scales by %g, want −η = −3", in.Op, p.Bufs[in.Dst].Name, in.Alpha)
					}
				}
			})
		}
	}
}

func TestCompileRejects(t *testing.T) {
	cases := []struct {
		sizes []int
		m     int
		eta   float64
		want  string
	}{
		{[]int{784, 30, 10}, 0, 3, "batch size 0"},
		{[]int{784, 30, 10}, 10, 0, "eta 0"},
		{[]int{784, 30, 10}, 10, math.NaN(), "eta NaN"},
		{[]int{100, 10}, 10, 3, "must start with 784"},
		{[]int{784}, 10, 3, "at least an input and an output"},
	}
	for _, c := range cases {
		_, err := Compile(network.Book(c.sizes), c.m, Float64, Step{Eta: c.eta})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compile(%v, %d, %v): %v, want an error containing %q", c.sizes, c.m, c.eta, err, c.want)
		}
	}
}

func TestForwardProgram(t *testing.T) {
	p, err := CompileForward(network.Book([]int{784, 30, 10}), 500, Float32)
	if err != nil {
		t.Fatal(err)
	}
	if p.Y != -1 || p.Cost != -1 {
		t.Fatal("a forward program has labels or a cost")
	}
	for _, in := range p.Instrs {
		if p.Bufs[p.Storage(in.Dst)].Kind == Param {
			t.Fatalf("a forward program writes %s", p.Bufs[in.Dst].Name)
		}
	}
	if b := p.Bufs[p.Output]; b.Rows != 500 || b.Cols != 10 {
		t.Fatalf("output %dx%d, want 500x10", b.Rows, b.Cols)
	}
}

func TestNewLikeTheBook(t *testing.T) {
	a, _ := network.New([]int{784, 30, 10}, 7)
	b, _ := network.New([]int{784, 30, 10}, 7)
	c, _ := network.New([]int{784, 30, 10}, 8)
	if !a.Equal(b) || a.Equal(c) {
		t.Fatal("the same seed must give the same network, another seed another")
	}
	// Every parameter from N(0,1): mean ≈ 0 and variance ≈ 1 over 23,860 draws.
	var n, sum, sq float64
	for l := range a.Weights {
		for _, v := range append(append([]float64{}, a.Weights[l]...), a.Biases[l]...) {
			n, sum, sq = n+1, sum+v, sq+v*v
		}
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	if math.Abs(mean) > 0.03 || math.Abs(variance-1) > 0.05 {
		t.Fatalf("mean %g, variance %g: not N(0,1)", mean, variance)
	}
	if len(a.Weights[0]) != 30*784 || len(a.Biases[1]) != 10 {
		t.Fatal("shapes are not the book's (out×in weights)")
	}
}
