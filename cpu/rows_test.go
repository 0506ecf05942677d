package cpu

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/gputrain/gputrain/graph"
)

// TestRowKernels: addrow and sumrows through the AVX-512 whole-matrix
// kernels give the op table's bits, for every width around a register's
// lanes, one to a dozen rows, rows of A further apart than a row of D (a
// group adds the bias from its stacked product), special values (±Inf,
// NaN, subnormals, −0) and sumrows' β of 0, −0, 1 and others.
func TestRowKernels(t *testing.T) {
	if !hasRowKernels() {
		if runtime.GOARCH == "amd64" && hasDotTen() { // AVX-512: the other wide kernels are there
			t.Fatal("no row kernels on a CPU with AVX-512")
		}
		t.Skipf("no row kernels on this %s CPU: the op table's run", runtime.GOARCH)
	}
	checkRowKernels[float32](t)
	checkRowKernels[float64](t)
}

func checkRowKernels[T Float](t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := withSpecials[T](r)
	equal := func(what string, n, rows int, got, want []T) {
		t.Helper()
		for i := range want {
			if !same(got[i], want[i]) {
				t.Fatalf("%s %T n=%d rows=%d: element %d = %v, want %v", what, got[0], n, rows, i, got[i], want[i])
			}
		}
	}
	for n := 1; n <= 40; n++ {
		for rows := 1; rows <= 12; rows++ {
			// addrow, A's rows n or n+5 apart.
			for _, lda := range []int{n, n + 5} {
				a, b := values(rows*lda), values(n)
				want := make([]T, rows*n)
				for i := range rows {
					graph.AddRowKernel(want[i*n:(i+1)*n], a[i*lda:i*lda+n], b, 0, 0)
				}
				got := values(rows * n)
				if !addRowsVec(got, a, lda, b, rows) {
					t.Fatal("addRowsVec declined")
				}
				equal("addrow", n, rows, got, want)
			}
			// sumrows, with its β cases.
			a := values(rows * n)
			for _, beta := range []T{0, T(math.Copysign(0, -1)), 1, 0.5, T(r.Float64()*2 - 1)} {
				alpha := T(r.Float64()*6 - 3)
				want := values(n)
				got := slices.Clone(want)
				graph.SumRowsKernel(want, a, nil, alpha, beta)
				if !sumRowsVec(got, a, alpha, beta) {
					t.Fatal("sumRowsVec declined")
				}
				equal("sumrows", n, rows, got, want)
			}
		}
	}
}
