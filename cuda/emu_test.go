package cuda

import (
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gputrain/gputrain/cpu"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/mnist"
)

// These tests run the kernels of kernels.cu, compiled by the host C++
// compiler through emu/cuda_emu.h, on the launches plan.go schedules, and
// compare what they compute with the CPU backend: the device code, the
// op descriptors' layout, the buffer tables and the schedules are checked
// without a GPU. Only cuBLAS is stood in for, by the column-major
// reference GEMM in emu/harness.cpp, fed the very calls planGEMM plans.

var (
	harnessOnce sync.Once
	harnessDir  string
	harnessBin  string
	harnessErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if harnessDir != "" {
		os.RemoveAll(harnessDir)
	}
	os.Exit(code)
}

// harness builds emu/harness.cpp once per test run, or skips the test
// where there is no C++ compiler.
func harness(t *testing.T) string {
	t.Helper()
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		t.Skipf("%s not found: the kernel emulation tests need a host C++ compiler (C++17)", cxx)
	}
	harnessOnce.Do(func() {
		if harnessDir, harnessErr = os.MkdirTemp("", "gputrain-emu-"); harnessErr != nil {
			return
		}
		harnessBin = filepath.Join(harnessDir, "harness")
		cmd := exec.Command(cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", "-o", harnessBin, filepath.Join("emu", "harness.cpp"))
		if out, err := cmd.CombinedOutput(); err != nil {
			harnessErr = fmt.Errorf("building the kernel emulation with %s: %v\n%s", cxx, err, out)
		}
	})
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return harnessBin
}

// script is a harness program (see emu/harness.cpp for the commands).
type script struct{ strings.Builder }

func newScript(dt graph.Dtype) *script {
	s := &script{}
	if dt == graph.Float64 {
		s.line("dtype 64")
	} else {
		s.line("dtype 32")
	}
	return s
}

func (s *script) line(words ...any) {
	for i, w := range words {
		if i > 0 {
			s.WriteByte(' ')
		}
		switch v := w.(type) {
		case float64:
			s.WriteString(strconv.FormatFloat(v, 'x', -1, 64))
		case []float64:
			for j, x := range v {
				if j > 0 {
					s.WriteByte(' ')
				}
				s.WriteString(strconv.FormatFloat(x, 'x', -1, 64))
			}
		case bool:
			if v {
				s.WriteString("1")
			} else {
				s.WriteString("0")
			}
		default:
			fmt.Fprint(s, v)
		}
	}
	s.WriteByte('\n')
}

// emuOut is what a harness run printed.
type emuOut struct {
	bufs    map[int][]float64
	offset  int64
	costs   []float64
	pred    []uint8
	correct int
	sizeof  int
}

func (s *script) run(t *testing.T) emuOut {
	t.Helper()
	cmd := exec.Command(harness(t))
	cmd.Stdin = strings.NewReader(s.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("harness: %v\n%s", err, stderr.String())
	}
	res := emuOut{bufs: map[int][]float64{}}
	floats := func(words []string) []float64 {
		v := make([]float64, len(words))
		for i, w := range words {
			var err error
			if v[i], err = strconv.ParseFloat(w, 64); err != nil {
				t.Fatalf("harness printed %q: %v", w, err)
			}
		}
		return v
	}
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(ln)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "buf":
			id, _ := strconv.Atoi(f[1])
			res.bufs[id] = floats(f[2:])
		case "offset":
			res.offset, _ = strconv.ParseInt(f[1], 10, 64)
		case "costs":
			res.costs = floats(f[1:])
		case "pred":
			for _, w := range f[1:] {
				v, _ := strconv.Atoi(w)
				res.pred = append(res.pred, uint8(v))
			}
		case "correct":
			res.correct, _ = strconv.Atoi(f[1])
		case "sizeof":
			res.sizeof, _ = strconv.Atoi(f[2])
		}
	}
	return res
}

// declare allocates a schedule's buffers in the current table, fills the
// ones vector and the given contents; shared maps parameter buffers to
// another table's entries instead.
func (s *script) declare(sc *schedule, init map[int][]float64, shared map[int][2]int) {
	p := sc.prog
	for i, b := range p.Bufs {
		if sh, ok := shared[i]; ok {
			s.line("share", i, sh[0], sh[1])
		} else if b.Alias < 0 {
			s.line("buf", i, b.Len())
		}
	}
	for i, b := range p.Bufs {
		if _, ok := shared[i]; !ok && b.Alias >= 0 {
			s.line("alias", i, p.Storage(i))
		}
	}
	if sc.ones >= 0 {
		ones := make([]float64, p.Bufs[sc.ones].Len())
		for i := range ones {
			ones[i] = 1
		}
		s.line("data", sc.ones, ones)
	}
	for _, i := range slices.Sorted(maps.Keys(init)) {
		s.line("data", i, init[i])
	}
}

// launches writes the schedule's launches, as the gpu build issues them.
func (s *script) launches(sc *schedule) {
	for _, l := range sc.launches {
		switch {
		case l.gemm != nil:
			g := l.gemm
			s.line("gemm", g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, g.First, g.LdA, g.Second, g.LdB, g.Beta, g.Dst, g.LdC)
		case l.single:
			s.line("seg1", l.block, len(l.ops), hex.EncodeToString(encodeOps(l.ops)))
		default:
			s.line("segn", l.grid, l.block, len(l.ops), hex.EncodeToString(encodeOps(l.ops)))
		}
	}
}

// gather writes a gt_gather launch of the program's m images into its X
// (and Y when it has one).
func (s *script) gather(p *graph.Program, order, offset bool, base int) {
	grid, block := gatherGeometry(p.Batch)
	s.line("gather", grid, block, p.X, p.Y, order, offset, base, p.Batch)
}

func (s *script) set(set *mnist.Set) {
	s.line("images", hex.EncodeToString(set.Images))
	s.line("labels", hex.EncodeToString(set.Labels))
}

// cpuMachine runs a program on the CPU backend's machine in either dtype.
type cpuMachine interface {
	Run()
	get(i int) []float64
	set(i int, v []float64)
}

type cpuM[T cpu.Float] struct{ *cpu.Machine[T] }

func (m cpuM[T]) get(i int) []float64 {
	b := m.Buf(i)
	out := make([]float64, len(b))
	for j, v := range b {
		out[j] = float64(v)
	}
	return out
}

func (m cpuM[T]) set(i int, v []float64) {
	b := m.Buf(i)
	for j, x := range v {
		b[j] = T(x)
	}
}

func newCPU(p *graph.Program) cpuMachine {
	if p.Dtype == graph.Float64 {
		return cpuM[float64]{cpu.NewMachine[float64](p, 1)}
	}
	return cpuM[float32]{cpu.NewMachine[float32](p, 1)}
}

func tolerance(dt graph.Dtype, f32, f64 float64) float64 {
	if dt == graph.Float64 {
		return f64
	}
	return f32
}

// near fails unless got and want agree within tol relative to the larger
// of 1 and want's largest magnitude.
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); !(d <= tol*scale) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("%s[%d] = %v, CPU backend %v (difference %.3g, tolerance %.3g)", what, i, got[i], want[i], d, tol*scale)
		}
	}
}

func randn(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * r.NormFloat64()
	}
	return v
}

// oneOp is a one-instruction program over fresh buffers: A is rows×cols.
// Add's B is a reshaped view, to exercise aliases in the buffer table.
func oneOp(op graph.Op, rows, cols int, alpha, beta float64, dt graph.Dtype) *graph.Program {
	p := &graph.Program{Dtype: dt, X: -1, Y: -1, Cost: -1, Batch: rows}
	buf := func(name string, r, c int, kind graph.BufKind) int {
		p.Bufs = append(p.Bufs, graph.Buf{Name: name, Rows: r, Cols: c, Kind: kind, Alias: -1})
		return len(p.Bufs) - 1
	}
	in := graph.Instr{Op: op, A: buf("A", rows, cols, graph.Input), Alpha: alpha, Beta: beta}
	form := op.Def().Form
	switch {
	case form == graph.FormRow:
		in.B = buf("row", 1, cols, graph.Param)
	case op == graph.Add:
		st := buf("Bstorage", cols, rows, graph.Temp)
		in.B = buf("B", rows, cols, graph.Temp)
		p.Bufs[in.B].Alias = st
	case form == graph.FormBinary || form == graph.FormRowCosts:
		in.B = buf("B", rows, cols, graph.Input)
	}
	if form == graph.FormRows {
		in.Alpha = float64(cols) // the row length
	}
	switch form {
	case graph.FormColSums:
		in.Dst = buf("D", 1, cols, graph.Param)
	case graph.FormScalar:
		in.Dst = buf("D", 1, 1, graph.Temp)
	case graph.FormRowCosts:
		in.Dst = buf("D", rows, 1, graph.Temp)
	case graph.FormUpdate:
		in.Dst = buf("D", rows, cols, graph.Param)
	default:
		in.Dst = buf("D", rows, cols, graph.Temp)
	}
	p.Instrs = []graph.Instr{in}
	p.Output = in.Dst
	return p
}
