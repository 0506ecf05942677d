package cuda

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// TestPTXEmbedded checks the committed PTX defines every kernel the
// backend loads, for the architecture every supported GPU can JIT.
func TestPTXEmbedded(t *testing.T) {
	if got := ptxTargetOf(kernelsPTX); got != "sm_60" {
		t.Errorf("kernels.ptx targets %q, want sm_60 (nvcc -arch=compute_60)", got)
	}
	have := map[string]bool{}
	for _, e := range ptxEntries(kernelsPTX) {
		have[e] = true
	}
	for _, base := range kernelBases {
		for _, dt := range []graph.Dtype{graph.Float32, graph.Float64} {
			if name := kernelName(base, dt); !have[name] {
				t.Errorf("kernels.ptx lacks %s: run go generate ./cuda/", name)
			}
		}
	}
	if len(have) != 2*len(kernelBases) {
		t.Errorf("kernels.ptx defines %v, want exactly the %d kernels of kernelBases", ptxEntries(kernelsPTX), 2*len(kernelBases))
	}
}

// TestKernelConstants checks the numbers kernels.cu and the Go side must
// agree on: the opcodes (graph.Op values), block limits and row widths.
func TestKernelConstants(t *testing.T) {
	var src []byte
	for _, f := range []string{"kernels.cu", "ops.h"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	defs := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (\w+) (\d+)`).FindAllStringSubmatch(string(src), -1) {
		v, _ := strconv.Atoi(m[2])
		defs[m[1]] = v
	}
	want := map[string]int{
		"OP_EPILOGUE":      opEpilogue,
		"SEG1_MAX_THREADS": seg1MaxThreads,
		"SEGN_THREADS":     segnThreads,
		"PIXELS":           mnist.Pixels,
		"CLASSES":          network.OutputSize,
	}
	for _, op := range graph.Ops() {
		if op != graph.MatMul {
			want["OP_"+strings.ToUpper(op.Def().Name)] = int(op)
		}
	}
	for name, v := range want {
		if got, ok := defs[name]; !ok || got != v {
			t.Errorf("kernels.cu: %s = %d (defined: %v), want %d", name, got, ok, v)
		}
	}
}
