// Package network is the network a run trains: its Spec (sizes, and how
// its layers compute and learn), its parameters in float64, and their file
// format, network2.py's JSON, read strictly and written atomically.
package network

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gputrain/gputrain/mnist"
)

// InputSize and OutputSize are fixed by MNIST: 28×28 pixels in, ten digits out.
const (
	InputSize  = mnist.Pixels
	OutputSize = 10
)

// Digit is the digit a network's outputs name: the most active output, the
// first of equals on a tie, as numpy's argmax in the book's evaluate.
func Digit[T float32 | float64](out []T) int {
	best := 0
	for i, x := range out {
		if x > out[best] {
			best = i
		}
	}
	return best
}

// Network is a Spec and its parameters, in the book's layout: Weights[l] is a
// row-major out×in matrix (sizes[l+1]×sizes[l]), Biases[l] has sizes[l+1]
// entries. A network of layers holds one weight and one bias tensor per
// layer that has parameters, shaped as Arch.Params says. Parameters are
// kept in float64; backends convert to their dtype.
type Network struct {
	Spec
	Weights [][]float64
	Biases  [][]float64
}

// CheckSizes reports whether sizes describe an MNIST network: at least two
// layers, 784 inputs, 10 outputs, every layer at least one neuron.
func CheckSizes(sizes []int) error {
	if len(sizes) < 2 {
		return fmt.Errorf("sizes %v: need at least an input and an output layer", sizes)
	}
	for _, s := range sizes {
		if s < 1 {
			return fmt.Errorf("sizes %v: every layer needs at least 1 neuron", sizes)
		}
	}
	if sizes[0] != InputSize {
		return fmt.Errorf("sizes %v: must start with %d (28×28 pixels)", sizes, InputSize)
	}
	if sizes[len(sizes)-1] != OutputSize {
		return fmt.Errorf("sizes %v: must end with %d (one neuron per digit)", sizes, OutputSize)
	}
	return nil
}

// ParamCount is the number of weights and biases of a network of sizes,
// in float64 so that absurd sizes cannot overflow it.
func ParamCount(sizes []int) float64 {
	var n float64
	for l := 1; l < len(sizes); l++ {
		n += float64(sizes[l]) * float64(sizes[l-1]+1)
	}
	return n
}

// New returns a network initialised as in network.py: every bias, then
// every weight, drawn from N(0,1) by a PCG source seeded with seed.
func New(sizes []int, seed uint64) (*Network, error) {
	return NewSpec(Book(sizes), seed, Large)
}

// WeightInit is how a new network's weights are drawn.
type WeightInit string

// The initialisations of chapters 1 and 3.
const (
	// Large is chapter 1's: every weight and bias N(0,1).
	Large WeightInit = "large"
	// Scaled is network2.py's default_weight_initializer: weights
	// N(0, 1/n_in), n_in the neuron's inputs; biases N(0,1).
	Scaled WeightInit = "scaled"
)

// NewSpec is New for a network of any spec and initialisation. Both draw
// the same numbers in the same order for a seed; Scaled divides each
// weight by √n_in.
func NewSpec(spec Spec, seed uint64, init WeightInit) (*Network, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	if init != Large && init != Scaled {
		return nil, fmt.Errorf("weight initialisation %q: want %s or %s", init, Large, Scaled)
	}
	if len(spec.Layers) > 0 {
		return newLayers(spec, seed), nil
	}
	sizes := spec.Sizes
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := &Network{Spec: spec.Norm()}
	for l := 1; l < len(sizes); l++ {
		b := make([]float64, sizes[l])
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		n.Biases = append(n.Biases, b)
	}
	for l := 1; l < len(sizes); l++ {
		w := make([]float64, sizes[l]*sizes[l-1])
		div := 1.0 // network2: np.random.randn(y, x)/np.sqrt(x)
		if init == Scaled {
			div = math.Sqrt(float64(sizes[l-1]))
		}
		for i := range w {
			w[i] = rng.NormFloat64() / div
		}
		n.Weights = append(n.Weights, w)
	}
	return n, nil
}

// NumParams is the number of layers with parameters (len(Sizes)-1 for a
// network of sizes).
func (n *Network) NumParams() int { return len(n.Params()) }

// Clone returns a deep copy.
func (n *Network) Clone() *Network {
	c := &Network{Spec: n.Spec.Norm()}
	for l := range n.Weights {
		c.Weights = append(c.Weights, append([]float64(nil), n.Weights[l]...))
		c.Biases = append(c.Biases, append([]float64(nil), n.Biases[l]...))
	}
	return c
}

// Check reports whether the parameter shapes agree with Sizes and every
// value is finite.
func (n *Network) Check() error {
	if err := n.Spec.Check(); err != nil {
		return err
	}
	params := n.Params()
	if len(n.Weights) != len(params) || len(n.Biases) != len(params) {
		if len(n.Layers) > 0 {
			return fmt.Errorf("layers %s need %d weight and bias tensors, have %d and %d",
				LayersString(n.Layers), len(params), len(n.Weights), len(n.Biases))
		}
		return fmt.Errorf("sizes %v need %d weight and bias layers, have %d and %d",
			n.Sizes, len(params), len(n.Weights), len(n.Biases))
	}
	for l, p := range params {
		in, out := p.Len()/p.W[0], p.W[0]
		if len(n.Weights[l]) != p.Len() {
			return fmt.Errorf("%s: want %s values, have %d", n.describe(l, "weights"), dimsString(p.W), len(n.Weights[l]))
		}
		if len(n.Biases[l]) != out {
			return fmt.Errorf("%s: want %d values, have %d", n.describe(l, "biases"), out, len(n.Biases[l]))
		}
		for i, v := range n.Weights[l] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s[%d][%d] is %v", n.describe(l, "weights"), i/in, i%in, v)
			}
		}
		for i, v := range n.Biases[l] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s[%d] is %v", n.describe(l, "biases"), i, v)
			}
		}
	}
	return nil
}

// Equal reports whether two networks compute alike (Spec.SameNetwork)
// with bit-identical parameters.
func (n *Network) Equal(o *Network) bool {
	if !n.SameNetwork(o.Spec) || len(n.Weights) != len(o.Weights) {
		return false
	}
	for l := range n.Weights {
		if !sameBits(n.Weights[l], o.Weights[l]) || !sameBits(n.Biases[l], o.Biases[l]) {
			return false
		}
	}
	return true
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// RelDiff is how far n is from o, the reference: per weight or bias tensor,
// max|n−o| over its entries divided by max|o| over them; the largest over all
// tensors. The networks must have the same sizes. It is the measure the tests
// compare backends by.
func (n *Network) RelDiff(o *Network) float64 {
	worst := 0.0
	for l := range n.Weights {
		for _, pair := range [][2][]float64{{n.Weights[l], o.Weights[l]}, {n.Biases[l], o.Biases[l]}} {
			var diff, scale float64
			for i := range pair[0] {
				diff = math.Max(diff, math.Abs(pair[0][i]-pair[1][i]))
				scale = math.Max(scale, math.Abs(pair[1][i]))
			}
			if diff != 0 { // a zero tensor equal to its reference (softmax's at the start) differs by 0
				worst = math.Max(worst, diff/scale)
			}
		}
	}
	return worst
}
