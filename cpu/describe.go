package cpu

import (
	"fmt"
	"runtime"
)

// Describe names the kernels this CPU runs the matrix products with, for
// gputrain version: the AVX2/FMA or NEON assembly, or the plain Go twins
// where the CPU or the architecture has neither.
func Describe() string {
	if vector {
		return fmt.Sprintf("%s kernels, %d cores", kernelName(), runtime.NumCPU())
	}
	return fmt.Sprintf("plain Go kernels (no AVX2+FMA or NEON on this %s CPU), %d cores", runtime.GOARCH, runtime.NumCPU())
}
