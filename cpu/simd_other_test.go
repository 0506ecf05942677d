//go:build !amd64

package cpu

// kernelSet is one set of the products' kernels this CPU can run.
type kernelSet struct {
	name string
	use  func() (restore func())
}

// kernelSets: one set, the CPU's own.
func kernelSets() []kernelSet {
	return []kernelSet{{"own", func() func() { return func() {} }}}
}
