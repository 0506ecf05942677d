package cpu

import "golang.org/x/sys/cpu"

// vector: the AVX2/FMA kernels need both (Haswell, Zen and later).
var vector = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernelName names the vector kernels for gputrain version.
const kernelName = "AVX2+FMA"
