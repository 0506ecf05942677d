package network

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ParamShape is the shape of one layer's parameters: its weights (a
// convolution's filters × input maps × f × f; a fully connected layer's
// out × in, network2.py's layout) and its biases (one per filter or unit).
type ParamShape struct {
	Layer int // the layer's index in Arch.Layers, or l−1 for Sizes[l]
	W, B  []int
}

// Len is the number of weights.
func (p ParamShape) Len() int { return prod(p.W) }

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Params lists the shapes of the parameters of every layer that has any,
// in order: Network.Weights[i] and Biases[i] hold the i-th. A pooling
// layer has none. The architecture must be valid (Spec.Check).
func (a Arch) Params() []ParamShape {
	var out []ParamShape
	if len(a.Layers) == 0 {
		for l := 1; l < len(a.Sizes); l++ {
			out = append(out, ParamShape{Layer: l - 1, W: []int{a.Sizes[l], a.Sizes[l-1]}, B: []int{a.Sizes[l]}})
		}
		return out
	}
	shapes, err := Shapes(a.Layers)
	if err != nil {
		return nil
	}
	in := InputShape
	for l, layer := range a.Layers {
		switch layer.Kind {
		case ConvLayer:
			out = append(out, ParamShape{Layer: l, W: []int{layer.Maps, in.Maps, layer.Filter, layer.Filter}, B: []int{layer.Maps}})
		case FCLayer, SoftmaxLayer:
			out = append(out, ParamShape{Layer: l, W: []int{layer.Units, in.Size()}, B: []int{layer.Units}})
		}
		in = shapes[l]
	}
	return out
}

// ParamCount is the number of weights and biases, in float64 so that
// absurd sizes cannot overflow it.
func (a Arch) ParamCount() float64 {
	if len(a.Layers) == 0 {
		return ParamCount(a.Sizes)
	}
	var n float64
	for _, p := range a.Params() {
		n += float64(p.Len()) + float64(prod(p.B))
	}
	return n
}

// MultiplyAdds is the multiply-adds of one image's forward pass through
// the weights: each convolution's filter taps at every position of its
// maps, each fully connected layer's weights once. (Pooling and the
// element-wise functions are not counted.)
func (a Arch) MultiplyAdds() float64 {
	if len(a.Layers) == 0 {
		return ParamCount(a.Sizes)
	}
	shapes, err := Shapes(a.Layers)
	if err != nil {
		return 0
	}
	var n float64
	for _, p := range a.Params() {
		taps := float64(p.Len())
		if a.Layers[p.Layer].Kind == ConvLayer {
			taps *= float64(shapes[p.Layer].H * shapes[p.Layer].W)
		}
		n += taps
	}
	return n
}

// newLayers initialises a network of layers as network3.py does, drawing
// from one PCG source seeded with seed, layer by layer, weights before
// biases: a convolution's weights N(0, 1/n_out), n_out = filters·f·f over
// the area of the pooling that follows; a fully connected layer's
// N(0, 1/n_out), n_out its units; their biases N(0, 1); the softmax
// layer's weights and biases zero.
func newLayers(spec Spec, seed uint64) *Network {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := &Network{Spec: spec.Norm()}
	for _, p := range spec.Params() {
		layer := spec.Layers[p.Layer]
		w, b := make([]float64, p.Len()), make([]float64, prod(p.B))
		if layer.Kind != SoftmaxLayer {
			nOut := float64(p.W[0])
			if layer.Kind == ConvLayer {
				nOut = float64(layer.Maps * layer.Filter * layer.Filter)
				if p.Layer+1 < len(spec.Layers) && spec.Layers[p.Layer+1].Kind == PoolLayer {
					nOut /= float64(spec.Layers[p.Layer+1].Pool * spec.Layers[p.Layer+1].Pool)
				}
			}
			sd := math.Sqrt(1 / nOut)
			for i := range w {
				w[i] = sd * rng.NormFloat64()
			}
			for i := range b {
				b[i] = rng.NormFloat64()
			}
		}
		n.Weights, n.Biases = append(n.Weights, w), append(n.Biases, b)
	}
	return n
}

// describe names parameter tensor i in messages: "weights[1]" for a
// network of sizes, "layer 3 (conv:20x5x5) weights" for one of layers.
func (n *Network) describe(i int, what string) string {
	if len(n.Layers) == 0 {
		return fmt.Sprintf("%s[%d]", what, i)
	}
	p := n.Params()[i]
	return fmt.Sprintf("layer %d (%s) %s", p.Layer+1, n.Layers[p.Layer], what)
}

func dimsString(d []int) string {
	s := ""
	for i, v := range d {
		if i > 0 {
			s += "×"
		}
		s += fmt.Sprint(v)
	}
	return s
}
