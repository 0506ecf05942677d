package cuda

import (
	_ "embed"
	"regexp"

	"github.com/gputrain/gputrain/graph"
)

// The kernels ship as PTX for compute_60, the virtual architecture every
// GPU from Pascal on can JIT-compile, so one binary runs on any of them
// without nvcc at run time. The PTX is committed; check-ptx.sh verifies it
// is what kernels.cu compiles to and that ptxas accepts it for sm_70,
// sm_80 and sm_90. The opcodes kernels.cu includes (ops.h) and the
// stand-in's operand forms are generated from graph's op table first.
//
//go:generate go run ./internal/opsgen ops.h standin/src/opforms.h
//go:generate nvcc -ptx -arch=compute_60 -o kernels.ptx kernels.cu

//go:embed kernels.ptx
var kernelsPTX string

// kernelBases are the kernels kernels.cu defines, each in an _f32 and an
// _f64 variant. The backend loads all but gt_argmax, which it no longer
// needs since predictions are taken from the activations (train.Session);
// the emulation tests still run it. gt_bseg1, gt_bsegn and gt_bgather are
// a sweep group's batched kernels (group_gpu.go).
var kernelBases = []string{"gt_seg1", "gt_segn", "gt_gather", "gt_key", "gt_argmax", "gt_bseg1", "gt_bsegn", "gt_bgather"}

// kernelName is the PTX entry of a kernel for a dtype.
func kernelName(base string, dt graph.Dtype) string {
	if dt == graph.Float64 {
		return base + "_f64"
	}
	return base + "_f32"
}

var (
	ptxEntry  = regexp.MustCompile(`(?m)^\.visible \.entry (\w+)\(`)
	ptxTarget = regexp.MustCompile(`(?m)^\.target (\w+)`)
)

// ptxEntries lists the kernels a PTX module defines.
func ptxEntries(ptx string) []string {
	var names []string
	for _, m := range ptxEntry.FindAllStringSubmatch(ptx, -1) {
		names = append(names, m[1])
	}
	return names
}

// ptxTargetOf is the architecture a PTX module targets ("sm_60"), or "".
func ptxTargetOf(ptx string) string {
	if m := ptxTarget.FindStringSubmatch(ptx); m != nil {
		return m[1]
	}
	return ""
}
