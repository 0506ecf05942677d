package graph

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/network"
)

// TestGorgoniaOpKindsLayers pins the kinds of Gorgonia op that chapter
// 6's graphs produce, which conv.go's handlers are written for: Conv2d's
// im2col, product, reshapes and NHWC→NCHW transpose; MaxPool2D's op; the
// per-map bias as repeats of a 4-d tensor; and, differentiated, col2im,
// the pool's gradient op and the bias gradient's sums over axes.
func TestGorgoniaOpKindsLayers(t *testing.T) {
	forward := []string{"elemBinOp +", "elemUnaryOp sigmoid", "im2colOp", "input", "linAlgBinOp", "maxPoolOp",
		"repeatOp", "reshapeOp", "sizeOp", "softmaxOp", "transposeOp"}
	training := append(slices.Clone(forward), "col2imOp", "constant", "elemBinOp -", "elemBinOp ⊙",
		"elemUnaryOp neg", "maxPoolDiffOp", "sumOp")
	// ReLU everywhere: Rectify's z ≥ 0 and its product, and no σ.
	relu := []string{"elemBinOp >=", "elemBinOp ⊙"}
	sigmoid := []string{"elemUnaryOp sigmoid", "elemUnaryOp neg"}
	cases := []struct {
		layers string
		grads  bool
		want   []string
	}{
		{"conv:2x5x5,pool:2,fc:3,softmax:10", false, forward},
		{"conv:2x5x5,pool:2,conv:3x3x3,pool:2,fc:3,softmax:10", true, training},
		{"conv:2x5x5:relu,pool:2,fc:3:relu,softmax:10:dropout=0.5", false, append(minus(forward, sigmoid), append(relu, "constant")...)}, // and 1−p
		{"conv:2x5x5:relu,pool:2,conv:3x3x3:relu,pool:2,fc:3:relu:dropout=0.5,softmax:10", true, append(minus(training, sigmoid), relu...)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/grads=%v", c.layers, c.grads), func(t *testing.T) {
			layers, err := network.ParseLayers(c.layers)
			if err != nil {
				t.Fatal(err)
			}
			gr, err := Build(network.Spec{Arch: network.Arch{Layers: layers}}, 4, Float64, c.grads)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Compact(slices.Sorted(slices.Values(c.want)))
			got := opKinds(gr)
			if !slices.Equal(got, want) {
				t.Fatalf("Gorgonia produced op kinds\n  %s\nwhere the compiler is written for\n  %s\nnew: %v; gone: %v: check graph/conv.go against this Gorgonia version",
					strings.Join(got, ", "), strings.Join(want, ", "), minus(got, want), minus(want, got))
			}
		})
	}
}
