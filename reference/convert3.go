package reference

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"
)

// Net3Of returns a network of layers as a Net3 with a copy of its
// parameters, each fully connected layer's weights transposed from
// network2's out × in to network3's n_in × n_out.
func Net3Of(n *network.Network) (*Net3, error) {
	if err := n.Check(); err != nil {
		return nil, err
	}
	if len(n.Layers) == 0 {
		return nil, fmt.Errorf("network %v has no layers: it is a network2 network", n.Spec)
	}
	r, err := NewNet3(n.Layers)
	if err != nil {
		return nil, err
	}
	for i, p := range n.Params() {
		copy(r.B[p.Layer], n.Biases[i])
		if len(p.W) == 4 {
			copy(r.W[p.Layer], n.Weights[i])
			continue
		}
		out, in := p.W[0], p.W[1]
		for o := range out {
			for k := range in {
				r.W[p.Layer][k*out+o] = n.Weights[i][o*in+k]
			}
		}
	}
	return r, nil
}

// Network returns the Net3's parameters as a network of spec (whose
// layers must be the Net3's), in network2's layout: Net3Of's inverse.
func (n *Net3) Network(spec network.Spec) *network.Network {
	out := &network.Network{Spec: spec.Norm()}
	for _, p := range spec.Params() {
		w := make([]float64, p.Len())
		if len(p.W) == 4 {
			copy(w, n.W[p.Layer])
		} else {
			units, in := p.W[0], p.W[1]
			for o := range units {
				for k := range in {
					w[o*in+k] = n.W[p.Layer][k*units+o]
				}
			}
		}
		out.Weights = append(out.Weights, w)
		out.Biases = append(out.Biases, append([]float64(nil), n.B[p.Layer]...))
	}
	return out
}
