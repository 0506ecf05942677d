package cpu

// vector: every arm64 CPU has ASIMD (NEON), FMLA included.
const vector = true

// kernelName names the vector kernels for gputrain version.
const kernelName = "NEON"
