package reference

import (
	"fmt"
	"math"

	"github.com/gputrain/gputrain/graph/network"
)

// Net3 is chapter 6's network (network3.py) written plainly, one image at
// a time, in float64: the oracle of chapter 6's compiled layers. Its
// parameters are laid out as network3.py's: a convolution's W is
// filters × input maps × f × f and its B one per filter; a fully
// connected or softmax layer's W is n_in × n_out (network3's (n_in,
// n_out), the transpose of network2's) and its B n_out. A pooling layer
// has none.
//
// Two choices network3 leaves to Theano are made here as most frameworks
// make them: the convolution is a cross-correlation (Theano's conv2d
// flips the filter; a flipped filter trains the same, so only the layout
// of a filter differs), and a max-pooling window passes its gradient to
// the first of its largest inputs (Theano's to every input equal to the
// maximum, which in floating point means the same one but for exact ties).
type Net3 struct {
	Layers []network.Layer
	Shapes []network.Shape // what each layer hands on
	W, B   [][]float64
}

// NewNet3 makes the network with zero parameters, checking the stack.
func NewNet3(layers []network.Layer) (*Net3, error) {
	shapes, err := network.Shapes(layers)
	if err != nil {
		return nil, err
	}
	n := &Net3{Layers: layers, Shapes: shapes, W: make([][]float64, len(layers)), B: make([][]float64, len(layers))}
	in := network.InputShape
	for l, layer := range layers {
		switch layer.Kind {
		case network.ConvLayer:
			n.W[l] = make([]float64, layer.Maps*in.Maps*layer.Filter*layer.Filter)
			n.B[l] = make([]float64, layer.Maps)
		case network.FCLayer, network.SoftmaxLayer:
			n.W[l] = make([]float64, in.Size()*layer.Units)
			n.B[l] = make([]float64, layer.Units)
		}
		in = shapes[l]
	}
	return n, nil
}

// trace is what a forward pass keeps for the backward one.
type trace struct {
	in     [][]float64 // each layer's input (after its dropout mask)
	z      [][]float64 // each layer's weighted input (pooled + bias for a conv-pool)
	out    [][]float64 // each layer's output
	argmax [][]int     // a pooling layer's chosen input per output
}

func activate(act network.Activation, z float64) float64 {
	if act == network.ReLU {
		return math.Max(0, z)
	}
	return 1 / (1 + math.Exp(-z))
}

func activatePrime(act network.Activation, z, a float64) float64 {
	if act == network.ReLU {
		if z > 0 {
			return 1
		}
		return 0
	}
	return a * (1 - a)
}

// forward runs one image x (784 values in [0,1]). In training, masks[l]
// (for the layers with dropout) multiplies layer l's input; in
// evaluation (masks nil) a layer with dropout p scales its weighted input
// by 1 − p, as network3's output path does.
func (n *Net3) forward(x []float64, masks [][]float64) trace {
	L := len(n.Layers)
	t := trace{in: make([][]float64, L), z: make([][]float64, L), out: make([][]float64, L), argmax: make([][]int, L)}
	a, shape := x, network.InputShape
	for l, layer := range n.Layers {
		in := a
		if layer.Dropout > 0 && masks != nil {
			in = make([]float64, len(a))
			for i := range a {
				in[i] = a[i] * masks[l][i]
			}
		}
		t.in[l] = in
		switch layer.Kind {
		case network.ConvLayer:
			t.z[l] = n.correlate(l, in, shape)
			t.out[l] = t.z[l] // a conv's activation comes after its pooling
			if l+1 == L || n.Layers[l+1].Kind != network.PoolLayer {
				t.out[l] = n.biasActivate(l, t.z[l], n.Shapes[l])
			}
		case network.PoolLayer:
			pooled, arg := maxPool(in, shape, layer.Pool)
			t.argmax[l] = arg
			conv := l - 1
			for i, v := range pooled { // pooled + bias, network3's order
				pooled[i] = v + n.B[conv][i/(n.Shapes[l].H*n.Shapes[l].W)]
			}
			t.z[l] = pooled
			t.out[l] = make([]float64, len(pooled))
			for i, v := range pooled {
				t.out[l][i] = activate(n.Layers[conv].Activation, v)
			}
		case network.FCLayer, network.SoftmaxLayer:
			scale := 1.0
			if masks == nil {
				scale = 1 - layer.Dropout
			}
			units := layer.Units
			z := make([]float64, units)
			for j := range units {
				s := 0.0
				for i, v := range in {
					s += v * n.W[l][i*units+j]
				}
				z[j] = scale*s + n.B[l][j]
			}
			t.z[l] = z
			if layer.Kind == network.SoftmaxLayer {
				t.out[l] = softmax(z)
			} else {
				t.out[l] = make([]float64, units)
				for j, v := range z {
					t.out[l][j] = activate(layer.Activation, v)
				}
			}
		}
		a, shape = t.out[l], n.Shapes[l]
	}
	return t
}

// biasActivate is a convolution's output when no pooling follows.
func (n *Net3) biasActivate(l int, z []float64, s network.Shape) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		z[i] = v + n.B[l][i/(s.H*s.W)]
		out[i] = activate(n.Layers[l].Activation, z[i])
	}
	return out
}

// correlate is layer l's valid cross-correlation of in (shape s).
func (n *Net3) correlate(l int, in []float64, s network.Shape) []float64 {
	f, maps, o := n.Layers[l].Filter, n.Layers[l].Maps, n.Shapes[l]
	out := make([]float64, o.Size())
	for m := range maps {
		for y := range o.H {
			for x := range o.W {
				sum := 0.0
				for c := range s.Maps {
					for i := range f {
						for j := range f {
							sum += in[(c*s.H+y+i)*s.W+x+j] * n.W[l][((m*s.Maps+c)*f+i)*f+j]
						}
					}
				}
				out[(m*o.H+y)*o.W+x] = sum
			}
		}
	}
	return out
}

// maxPool takes the largest value of each whole p×p window and where it was.
func maxPool(in []float64, s network.Shape, p int) ([]float64, []int) {
	h, w := s.H/p, s.W/p
	out, arg := make([]float64, s.Maps*h*w), make([]int, s.Maps*h*w)
	for m := range s.Maps {
		for y := range h {
			for x := range w {
				k := (m*h+y)*w + x
				best := -1
				for i := range p {
					for j := range p {
						at := (m*s.H+y*p+i)*s.W + x*p + j
						if best < 0 || in[at] > in[best] {
							best = at
						}
					}
				}
				out[k], arg[k] = in[best], best
			}
		}
	}
	return out, arg
}

func softmax(z []float64) []float64 {
	top := z[0]
	for _, v := range z {
		top = math.Max(top, v)
	}
	out, sum := make([]float64, len(z)), 0.0
	for i, v := range z {
		out[i] = math.Exp(v - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Cost is network3's cost of a mini-batch: the mean log-likelihood, −ln
// a_y, of the images (with their dropout masks, as it trains) plus
// ½·λ·Σw² / batches, batches being the training set's mini-batches.
func (n *Net3) Cost(xs [][]float64, ys []int, masks [][][]float64, lambda float64, batches int) float64 {
	c := 0.0
	for k, x := range xs {
		t := n.forward(x, maskOf(masks, k))
		c -= math.Log(t.out[len(n.Layers)-1][ys[k]])
	}
	c /= float64(len(xs))
	sq := 0.0
	for _, w := range n.W {
		for _, v := range w {
			sq += v * v
		}
	}
	return c + 0.5*lambda*sq/float64(batches)
}

func maskOf(masks [][][]float64, k int) [][]float64 {
	if masks == nil {
		return nil
	}
	return masks[k]
}

// Grad returns ∂Cost/∂W and ∂Cost/∂B for the mini-batch, by
// backpropagation through each image.
func (n *Net3) Grad(xs [][]float64, ys []int, masks [][][]float64, lambda float64, batches int) (gw, gb [][]float64) {
	gw, gb = make([][]float64, len(n.W)), make([][]float64, len(n.B))
	for l := range n.W {
		gw[l], gb[l] = make([]float64, len(n.W[l])), make([]float64, len(n.B[l]))
	}
	m := float64(len(xs))
	for k, x := range xs {
		t := n.forward(x, maskOf(masks, k))
		last := len(n.Layers) - 1
		// δ of the softmax layer's z under −ln a_y: a − e_y.
		delta := append([]float64(nil), t.out[last]...)
		delta[ys[k]]--
		for l := last; l >= 0; l-- {
			delta = n.back(l, t, delta, maskOf(masks, k), gw, gb, m)
		}
	}
	for l, w := range n.W {
		for i, v := range w {
			gw[l][i] += lambda * v / float64(batches)
		}
	}
	return gw, gb
}

// back takes ∂C/∂z of layer l (dz), adds the layer's parameter gradients
// (divided by the batch's m) and returns ∂C/∂z of the layer below, or its
// ∂C/∂output where the layer below has its activation applied by this
// one (a conv under its pool).
func (n *Net3) back(l int, t trace, dz []float64, masks [][]float64, gw, gb [][]float64, m float64) []float64 {
	layer := n.Layers[l]
	in := t.in[l]
	var din []float64
	switch layer.Kind {
	case network.FCLayer, network.SoftmaxLayer:
		units := layer.Units
		din = make([]float64, len(in))
		for i, v := range in {
			for j := range units {
				gw[l][i*units+j] += v * dz[j] / m
				din[i] += n.W[l][i*units+j] * dz[j]
			}
		}
		for j := range units {
			gb[l][j] += dz[j] / m
		}
		if layer.Dropout > 0 && masks != nil {
			for i := range din {
				din[i] *= masks[l][i]
			}
		}
	case network.PoolLayer:
		conv := l - 1
		// dz is pooled + bias's gradient; the bias is the conv's.
		hw := n.Shapes[l].H * n.Shapes[l].W
		din = make([]float64, len(in))
		for k, d := range dz {
			gb[conv][k/hw] += d / m
			din[t.argmax[l][k]] += d
		}
		return din // the conv's pre-bias output gradient: its own dz
	case network.ConvLayer:
		s := network.InputShape
		if l > 0 {
			s = n.Shapes[l-1]
		}
		f, o := layer.Filter, n.Shapes[l]
		din = make([]float64, len(in))
		for mp := range layer.Maps {
			for y := range o.H {
				for x := range o.W {
					d := dz[(mp*o.H+y)*o.W+x]
					if d == 0 {
						continue
					}
					if l+1 == len(n.Layers) || n.Layers[l+1].Kind != network.PoolLayer {
						gb[l][mp] += d / m
					}
					for c := range s.Maps {
						for i := range f {
							for j := range f {
								w := ((mp*s.Maps+c)*f+i)*f + j
								at := (c*s.H+y+i)*s.W + x + j
								gw[l][w] += in[at] * d / m
								din[at] += n.W[l][w] * d
							}
						}
					}
				}
			}
		}
	}
	if l == 0 {
		return nil
	}
	// From ∂C/∂output of layer l−1 to its ∂C/∂z (a conv under a pool
	// has none of its own: the pool applies the activation).
	below := l - 1
	if n.Layers[below].Kind == network.ConvLayer && layer.Kind == network.PoolLayer {
		return din
	}
	act := n.Layers[below].Activation
	if n.Layers[below].Kind == network.PoolLayer {
		act = n.Layers[below-1].Activation
	}
	for i := range din {
		din[i] *= activatePrime(act, t.z[below][i], t.out[below][i])
	}
	return din
}

// Step is network3's update on one mini-batch: w ← w − η·∂Cost/∂w for
// every parameter (the cost is already a mean over the batch).
func (n *Net3) Step(xs [][]float64, ys []int, masks [][][]float64, eta, lambda float64, batches int) {
	gw, gb := n.Grad(xs, ys, masks, lambda, batches)
	for l := range n.W {
		for i := range n.W[l] {
			n.W[l][i] -= eta * gw[l][i]
		}
		for i := range n.B[l] {
			n.B[l][i] -= eta * gb[l][i]
		}
	}
}

// Predict returns the digit network3's output path gives for x: no masks,
// each layer with dropout scaled by 1 − p.
func (n *Net3) Predict(x []float64) int {
	t := n.forward(x, nil)
	return network.Digit(t.out[len(n.Layers)-1])
}

// MaskSizes is the length of each layer's dropout mask for one image (0
// for a layer without dropout).
func (n *Net3) MaskSizes() []int {
	out := make([]int, len(n.Layers))
	in := network.InputShape
	for l, layer := range n.Layers {
		if layer.Dropout > 0 {
			out[l] = in.Size()
		}
		in = n.Shapes[l]
	}
	return out
}

func (n *Net3) String() string { return fmt.Sprint(n.Layers) }

// Output is the output layer's activations for x on network3's output
// path (no masks, dropout layers scaled by 1 − p).
func (n *Net3) Output(x []float64) []float64 {
	return n.forward(x, nil).out[len(n.Layers)-1]
}
