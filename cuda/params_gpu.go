//go:build gpu

package cuda

import (
	"fmt"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"gorgonia.org/cu"
)

// The network's parameters to and from the device, for the solo backend
// and (writeParams, readParams) a group's networks.

func (b *backend) SetParams(n *network.Network) error {
	return b.do("setting the parameters", func() error {
		if err := b.writeParams(n, b.paramAt); err != nil {
			return err
		}
		return b.sync("setting the parameters")
	})
}

// paramAt is where layer l's weights and biases are.
func (b *backend) paramAt(l int) (w, bias cu.DevicePtr) { return b.weights[l], b.biases[l] }

// writeParams copies n's parameters to the device, layer l's where at
// says.
func (b *backend) writeParams(n *network.Network, at func(l int) (w, bias cu.DevicePtr)) error {
	for l := range n.Weights {
		w, bias := at(l)
		if err := b.floatsToDevice(w, n.Weights[l], fmt.Sprintf("the weights of layer %d", l+1)); err != nil {
			return err
		}
		if err := b.floatsToDevice(bias, n.Biases[l], fmt.Sprintf("the biases of layer %d", l+1)); err != nil {
			return err
		}
	}
	return nil
}

// readParams copies a network of cfg's spec from the device, layer l's
// parameters from where at says.
func (b *backend) readParams(cfg train.Config, at func(l int) (w, bias cu.DevicePtr)) (*network.Network, error) {
	n := &network.Network{Spec: cfg.Spec.Norm()}
	for l, ps := range cfg.Params() {
		wp, bp := at(l)
		w, err := b.floatsFromDevice(wp, ps.Len(), fmt.Sprintf("the weights of layer %d", l+1))
		if err != nil {
			return nil, err
		}
		bias, err := b.floatsFromDevice(bp, ps.B[0], fmt.Sprintf("the biases of layer %d", l+1))
		if err != nil {
			return nil, err
		}
		n.Weights, n.Biases = append(n.Weights, w), append(n.Biases, bias)
	}
	return n, nil
}

func (b *backend) Params() (*network.Network, error) {
	var n *network.Network
	err := b.do("reading the parameters", func() (err error) {
		n, err = b.readParams(b.cfg, b.paramAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}
