package cpu

import (
	"fmt"
	"runtime"
)

// Describe names the kernels this CPU runs the matrix products with, for
// gputrain version: the AVX2/FMA assembly, or plain Go loops where the CPU
// or the architecture has no AVX2 and FMA.
func Describe() string {
	if hasSIMD {
		return fmt.Sprintf("AVX2+FMA kernels, %d cores", runtime.NumCPU())
	}
	return fmt.Sprintf("plain Go kernels (no AVX2+FMA on this %s CPU), %d cores", runtime.GOARCH, runtime.NumCPU())
}
