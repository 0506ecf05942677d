package network

import (
	"fmt"
	"strconv"
	"strings"
)

// LayerKind is a kind of chapter 6's layers (network3.py).
type LayerKind string

// The layer kinds: a valid convolution, max-pooling (a conv followed by a
// pool is network3's ConvPoolLayer), a fully connected layer and the
// softmax output layer.
const (
	ConvLayer    LayerKind = "conv"
	PoolLayer    LayerKind = "pool"
	FCLayer      LayerKind = "fc"
	SoftmaxLayer LayerKind = "softmax"
)

// Layer is one layer of a chapter 6 network, as --layers writes it:
// conv:20x5x5[:relu], pool:2, fc:100[:relu][:dropout=0.5], softmax:10[:dropout=0.5].
type Layer struct {
	Kind LayerKind
	// Maps and Filter: a convolution's feature maps and the side of its
	// square filters.
	Maps, Filter int
	// Pool is the side of a max-pooling window (whole windows only, as
	// network3's ignore_border).
	Pool int
	// Units of a fully connected or softmax layer.
	Units int
	// Activation of a convolution's or fully connected layer's neurons:
	// sigmoid (network3's default) or relu.
	Activation Activation
	// Dropout is the probability that each unit of a fully connected or
	// softmax layer's input is dropped in training (network3's p_dropout).
	Dropout float64
}

// Shape is the feature maps a layer hands on: Maps of H×W values (a fully
// connected layer's Units are Maps of 1×1).
type Shape struct{ Maps, H, W int }

// Size is the number of values in the shape.
func (s Shape) Size() int { return s.Maps * s.H * s.W }

func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.Maps, s.H, s.W) }

// InputShape is MNIST's image as chapter 6's first layer reads it.
var InputShape = Shape{Maps: 1, H: 28, W: 28}

func (l Layer) String() string {
	var s string
	switch l.Kind {
	case ConvLayer:
		s = fmt.Sprintf("conv:%dx%dx%d", l.Maps, l.Filter, l.Filter)
	case PoolLayer:
		return fmt.Sprintf("pool:%d", l.Pool)
	default:
		s = fmt.Sprintf("%s:%d", l.Kind, l.Units)
	}
	if l.Activation != "" && l.Activation != Sigmoid {
		s += ":" + string(l.Activation)
	}
	if l.Dropout != 0 {
		s += ":dropout=" + strconv.FormatFloat(l.Dropout, 'g', -1, 64)
	}
	return s
}

// ParseLayers reads --layers: the layers after the 28×28 input, comma
// separated, each KIND:ARGS[:OPTIONS]. It checks each layer's own syntax;
// Shapes checks that the stack fits together.
func ParseLayers(spec string) ([]Layer, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("no layers: want e.g. conv:20x5x5,pool:2,fc:100,softmax:10")
	}
	var layers []Layer
	for i, text := range strings.Split(spec, ",") {
		l, err := parseLayer(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %v", i+1, strings.TrimSpace(text), err)
		}
		layers = append(layers, l)
	}
	return layers, nil
}

func parseLayer(text string) (Layer, error) {
	parts := strings.Split(text, ":")
	if len(parts) < 2 || parts[1] == "" {
		return Layer{}, fmt.Errorf("want KIND:ARGS, such as conv:20x5x5, pool:2, fc:100 or softmax:10")
	}
	l := Layer{Kind: LayerKind(parts[0])}
	var err error
	switch l.Kind {
	case ConvLayer:
		dims := strings.Split(parts[1], "x")
		if len(dims) != 3 {
			return l, fmt.Errorf("want MAPSxHxW, such as 20x5x5")
		}
		var n [3]int
		for k, d := range dims {
			if n[k], err = positive(d); err != nil {
				return l, err
			}
		}
		if n[1] != n[2] {
			return l, fmt.Errorf("a %d×%d filter: only square filters, as network3's", n[1], n[2])
		}
		l.Maps, l.Filter, l.Activation = n[0], n[1], Sigmoid
	case PoolLayer:
		if l.Pool, err = positive(parts[1]); err != nil {
			return l, err
		}
	case FCLayer, SoftmaxLayer:
		if l.Units, err = positive(parts[1]); err != nil {
			return l, err
		}
		if l.Kind == FCLayer {
			l.Activation = Sigmoid
		}
	default:
		return l, fmt.Errorf("unknown kind %q: want conv, pool, fc or softmax", parts[0])
	}
	for _, opt := range parts[2:] {
		switch {
		case opt == string(Sigmoid) || opt == string(ReLU):
			if l.Kind != ConvLayer && l.Kind != FCLayer {
				return l, fmt.Errorf("%s: only conv and fc layers take an activation", opt)
			}
			l.Activation = Activation(opt)
		case strings.HasPrefix(opt, "dropout="):
			if l.Kind != FCLayer && l.Kind != SoftmaxLayer {
				return l, fmt.Errorf("%s: only fc and softmax layers take dropout (network3 has none in its convolutions)", opt)
			}
			p, err := strconv.ParseFloat(strings.TrimPrefix(opt, "dropout="), 64)
			if err != nil || !(p >= 0 && p < 1) {
				return l, fmt.Errorf("%s: want a probability from 0 up to (not including) 1", opt)
			}
			l.Dropout = p
		default:
			return l, fmt.Errorf("unknown option %q: want sigmoid, relu or dropout=P", opt)
		}
	}
	return l, nil
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<20 {
		return 0, fmt.Errorf("%q: want a whole number from 1 to %d", s, 1<<20)
	}
	return n, nil
}

// Shapes returns the shape each layer hands on, from the 28×28 input; the
// first layer that does not fit what it gets is named, with why. The last
// layer must be softmax:10 (the digits), and no convolution or pooling
// may follow a fully connected layer.
func Shapes(layers []Layer) ([]Shape, error) {
	in := InputShape
	var out []Shape
	for i, l := range layers {
		fail := func(format string, args ...any) ([]Shape, error) {
			return nil, fmt.Errorf("layer %d (%s): %s", i+1, l, fmt.Sprintf(format, args...))
		}
		switch l.Kind {
		case ConvLayer:
			if i > 0 && layers[i-1].Kind != ConvLayer && layers[i-1].Kind != PoolLayer {
				return fail("a convolution needs feature maps, not the output of a %s layer", layers[i-1].Kind)
			}
			if l.Filter > in.H {
				return fail("a %d×%d filter does not fit the %d×%d maps it gets", l.Filter, l.Filter, in.H, in.W)
			}
			in = Shape{Maps: l.Maps, H: in.H - l.Filter + 1, W: in.W - l.Filter + 1}
		case PoolLayer:
			if i == 0 || layers[i-1].Kind != ConvLayer {
				return fail("pooling follows a convolution (network3's ConvPoolLayer)")
			}
			if l.Pool > in.H {
				return fail("a %d×%d window does not fit the %d×%d maps it gets", l.Pool, l.Pool, in.H, in.W)
			}
			in = Shape{Maps: in.Maps, H: in.H / l.Pool, W: in.W / l.Pool}
		case FCLayer, SoftmaxLayer:
			if l.Kind == SoftmaxLayer && i != len(layers)-1 {
				return fail("the softmax layer is the output: it comes last")
			}
			in = Shape{Maps: l.Units, H: 1, W: 1}
		}
		out = append(out, in)
	}
	if len(layers) == 0 || layers[len(layers)-1].Kind != SoftmaxLayer || layers[len(layers)-1].Units != OutputSize {
		return nil, fmt.Errorf("the last layer must be softmax:%d, the ten digits", OutputSize)
	}
	return out, nil
}

// Layers is chapter 6's network as --layers and the checkpoint write it:
// text in, text out, parsed once.
type Layers []Layer

// MarshalText writes the layers as --layers reads them.
func (ls Layers) MarshalText() ([]byte, error) { return []byte(LayersString(ls)), nil }

// UnmarshalText parses --layers (ParseLayers): each layer's own syntax;
// whether the stack fits is Shapes' check.
func (ls *Layers) UnmarshalText(text []byte) error {
	v, err := ParseLayers(string(text))
	if err != nil {
		return err
	}
	*ls = v
	return nil
}

func (ls Layers) String() string { return LayersString(ls) }

// LayersString writes layers as --layers reads them.
func LayersString(layers []Layer) string {
	s := make([]string, len(layers))
	for i, l := range layers {
		s[i] = l.String()
	}
	return strings.Join(s, ",")
}
