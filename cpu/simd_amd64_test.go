package cpu

// kernelSet is one set of the products' kernels this CPU can run; use
// makes it the one in use and returns what restores the CPU's own.
type kernelSet struct {
	name string
	use  func() (restore func())
}

// kernelSets are AVX2's and, where the CPU has AVX-512, its twins: the
// tests check each against the Go twins, so a machine with AVX-512 checks
// the kernels that one without it runs too.
func kernelSets() []kernelSet {
	set := func(w bool) func() func() {
		return func() func() {
			was := wide
			wide = w
			return func() { wide = was }
		}
	}
	sets := []kernelSet{{"AVX2", set(false)}}
	if wide {
		sets = append(sets, kernelSet{"AVX-512", set(true)})
	}
	return sets
}
