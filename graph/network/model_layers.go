package network

import (
	"encoding/json"
	"fmt"
	"slices"
)

// layersModelJSON is the model file of a network of layers (chapter 6),
// which network2.py cannot load: network2's fields where they mean the
// same (cost, output, lambda) and, in place of sizes, weights and biases,
// the list of layers, each with its own parameters. See docs/MODEL.md.
type layersModelJSON struct {
	Layers []layerJSON `json:"layers"`
	Cost   string      `json:"cost"`
	Output Output      `json:"output"`
	Lambda float64     `json:"lambda,omitempty"`
}

// layerJSON is one layer of a model file. Shape is a convolution's
// weights' shape (filters, input maps, f, f), a pooling window's (p, p),
// or a fully connected or softmax layer's weights' (units, inputs);
// Weights holds that many numbers, row-major, and Biases one per filter
// or unit. A pooling layer has no parameters.
type layerJSON struct {
	Kind       LayerKind  `json:"kind"`
	Shape      []int      `json:"shape"`
	Activation Activation `json:"activation,omitempty"`
	Dropout    float64    `json:"dropout,omitempty"`
	Weights    []float64  `json:"weights,omitempty"`
	Biases     []float64  `json:"biases,omitempty"`
}

// marshalLayers writes a network of layers.
func (n *Network) marshalLayers() ([]byte, error) {
	spec := n.Spec.Norm()
	m := layersModelJSON{Cost: logLikelihoodFile(), Output: Softmax, Lambda: spec.Lambda}
	params := n.Params()
	k := 0
	for l, layer := range n.Layers {
		j := layerJSON{Kind: layer.Kind, Activation: layer.Activation, Dropout: layer.Dropout}
		if layer.Kind == PoolLayer {
			j.Shape = []int{layer.Pool, layer.Pool}
		} else {
			p := params[k]
			if p.Layer != l {
				return nil, fmt.Errorf("internal error: parameters %d are layer %d's, not %d's", k, p.Layer, l)
			}
			j.Shape, j.Weights, j.Biases = p.W, n.Weights[k], n.Biases[k]
			k++
		}
		m.Layers = append(m.Layers, j)
	}
	return json.Marshal(m)
}

// layerOf is the layer a model file's entry describes, without its
// parameters; its shape's agreement with the layers below is Spec.Check's
// and unmarshalLayers'.
func layerOf(i int, j layerJSON) (Layer, error) {
	l := Layer{Kind: j.Kind, Activation: j.Activation, Dropout: j.Dropout}
	bad := func(format string, args ...any) (Layer, error) {
		return Layer{}, fmt.Errorf("layers[%d] (%s): %s", i, j.Kind, fmt.Sprintf(format, args...))
	}
	for _, d := range j.Shape {
		if d < 1 {
			return bad("shape %v: every dimension at least 1", j.Shape)
		}
	}
	switch j.Kind {
	case ConvLayer:
		if len(j.Shape) != 4 || j.Shape[2] != j.Shape[3] {
			return bad("shape %v: want [filters, input maps, f, f]", j.Shape)
		}
		l.Maps, l.Filter = j.Shape[0], j.Shape[2]
	case PoolLayer:
		if len(j.Shape) != 2 || j.Shape[0] != j.Shape[1] {
			return bad("shape %v: want [p, p]", j.Shape)
		}
		l.Pool = j.Shape[0]
	case FCLayer, SoftmaxLayer:
		if len(j.Shape) != 2 {
			return bad("shape %v: want [units, inputs]", j.Shape)
		}
		l.Units = j.Shape[0]
	default:
		return bad("unknown kind: want conv, pool, fc or softmax")
	}
	switch {
	case (j.Kind == ConvLayer || j.Kind == FCLayer) && j.Activation != Sigmoid && j.Activation != ReLU:
		return bad("activation %q: want %s or %s", j.Activation, Sigmoid, ReLU)
	case (j.Kind == PoolLayer || j.Kind == SoftmaxLayer) && j.Activation != "":
		return bad("activation %q: a %s layer has none", j.Activation, j.Kind)
	case j.Dropout != 0 && (j.Kind == ConvLayer || j.Kind == PoolLayer):
		return bad("dropout %v: only fc and softmax layers take dropout", j.Dropout)
	case !(j.Dropout >= 0 && j.Dropout < 1):
		return bad("dropout %v: want a probability from 0 up to (not including) 1", j.Dropout)
	case j.Kind == PoolLayer && (j.Weights != nil || j.Biases != nil):
		return bad("a pooling layer has no weights or biases")
	}
	return l, nil
}

// unmarshalLayers reads a network of layers, strictly: every layer's
// shape must agree with what the layers below hand it, and its weights
// and biases must have the numbers that shape needs.
func unmarshalLayers(data []byte) (*Network, error) {
	var m layersModelJSON
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, shapeError(err)
	}
	if m.Cost != logLikelihoodFile() || m.Output != Softmax {
		return nil, fmt.Errorf(`cost %q, output %q: a network of layers has cost "CrossEntropyCost" and output "softmax" (the log-likelihood)`, m.Cost, m.Output)
	}
	var layers []Layer
	for i, j := range m.Layers {
		l, err := layerOf(i, j)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	spec := Spec{Arch: Arch{Layers: layers}, Objective: Objective{Lambda: m.Lambda}}.Norm()
	if err := spec.Check(); err != nil {
		return nil, err
	}
	n := &Network{Spec: spec}
	for _, p := range spec.Params() {
		j := m.Layers[p.Layer]
		if !slices.Equal(j.Shape, p.W) {
			return nil, fmt.Errorf("layers[%d] (%s): shape %v, where the layers below make it %v", p.Layer, j.Kind, j.Shape, p.W)
		}
		if len(j.Weights) != p.Len() || len(j.Biases) != p.W[0] {
			return nil, fmt.Errorf("layers[%d] (%s): want %d weights and %d biases, have %d and %d",
				p.Layer, j.Kind, p.Len(), p.W[0], len(j.Weights), len(j.Biases))
		}
		n.Weights, n.Biases = append(n.Weights, j.Weights), append(n.Biases, j.Biases)
	}
	return n, n.Check()
}

// scanLayers reads a model file's "layers" token by token, keeping each
// layer's kind, shape, activation and dropout and skipping its
// parameters, so that a file's memory can be judged before it is read.
func scanLayers(dec *json.Decoder) ([]Layer, error) {
	if tok, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	} else if tok != json.Delim('[') {
		return nil, fmt.Errorf(`"layers": want a list of layers`)
	}
	var layers []Layer
	for i := 0; dec.More(); i++ {
		if tok, err := dec.Token(); err != nil {
			return nil, syntaxError(err)
		} else if tok != json.Delim('{') {
			return nil, fmt.Errorf(`"layers"[%d]: want an object`, i)
		}
		var j layerJSON
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntaxError(err)
			}
			switch key, _ := tok.(string); key {
			case "weights", "biases":
				err = skipValue(dec, key)
			case "kind":
				err = dec.Decode(&j.Kind)
			case "shape":
				err = dec.Decode(&j.Shape)
			case "activation":
				err = dec.Decode(&j.Activation)
			case "dropout":
				err = dec.Decode(&j.Dropout)
			default:
				err = skipValue(dec, key)
			}
			if err != nil {
				return nil, fmt.Errorf(`"layers"[%d]: %w`, i, err)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, syntaxError(err)
		}
		l, err := layerOf(i, j)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	return layers, nil
}

// logLikelihoodFile is the log-likelihood's cost name in model files.
func logLikelihoodFile() string {
	d, _ := CostOf(LogLikelihood)
	return d.File
}
