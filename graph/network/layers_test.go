package network

import (
	"strings"
	"testing"
)

func TestParseLayersAndShapes(t *testing.T) {
	const shallow = "conv:20x5x5,pool:2,fc:100,softmax:10"
	const last = "conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:1000:relu:dropout=0.5,fc:1000:relu:dropout=0.5,softmax:10:dropout=0.5"
	for _, tc := range []struct {
		spec   string
		shapes string
	}{
		// 28 → 24 (5×5 valid) → 12 (2×2 pool) → 100 → 10
		{shallow, "20×24×24 20×12×12 100×1×1 10×1×1"},
		// 28 → 24 → 12 → 8 → 4 → 1000 → 1000 → 10, the book's last network
		{last, "20×24×24 20×12×12 40×8×8 40×4×4 1000×1×1 1000×1×1 10×1×1"},
		{"fc:100,softmax:10", "100×1×1 10×1×1"},
		{"softmax:10", "10×1×1"},
		// Whole windows only: 5×5 maps pooled 2×2 are 2×2.
		{"conv:3x24x24,pool:2,softmax:10", "3×5×5 3×2×2 10×1×1"},
	} {
		layers, err := ParseLayers(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		var got []string
		for _, l := range layers {
			got = append(got, l.String())
		}
		if strings.Join(got, ",") != strings.ReplaceAll(tc.spec, ":sigmoid", "") {
			t.Errorf("%s reads back as %s", tc.spec, strings.Join(got, ","))
		}
		shapes, err := Shapes(layers)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		var s []string
		for _, sh := range shapes {
			s = append(s, sh.String())
		}
		if strings.Join(s, " ") != tc.shapes {
			t.Errorf("%s: shapes %s, want %s", tc.spec, strings.Join(s, " "), tc.shapes)
		}
	}
	l, _ := ParseLayers(last)
	if l[0].Activation != ReLU || l[4].Dropout != 0.5 || l[4].Units != 1000 || l[6].Kind != SoftmaxLayer {
		t.Errorf("last network parsed as %+v", l)
	}
	if s, _ := ParseLayers(shallow); s[0].Activation != Sigmoid || s[2].Activation != Sigmoid {
		t.Errorf("network3's default activation is sigmoid: %+v", s)
	}
}

func TestBadLayers(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "no layers"},
		{"conv:20x5,softmax:10", "layer 1 (conv:20x5): want MAPSxHxW"},
		{"conv:20x5x3,softmax:10", "only square filters"},
		{"conv:0x5x5,softmax:10", `"0": want a whole number`},
		{"dense:100,softmax:10", `unknown kind "dense"`},
		{"pool:2,softmax:10", "layer 1 (pool:2): pooling follows a convolution"},
		{"conv:20x5x5,pool:2,conv:40x5x5,pool:2,conv:80x5x5,softmax:10", "layer 5 (conv:80x5x5): a 5×5 filter does not fit the 4×4 maps it gets"},
		{"conv:20x29x29,softmax:10", "a 29×29 filter does not fit the 28×28 maps"},
		{"conv:20x25x25,pool:5,softmax:10", "layer 2 (pool:5): a 5×5 window does not fit the 4×4 maps"},
		{"fc:100,conv:20x5x5,softmax:10", "layer 2 (conv:20x5x5): a convolution needs feature maps, not the output of a fc layer"},
		{"fc:100", "the last layer must be softmax:10"},
		{"fc:100,softmax:9", "the last layer must be softmax:10"},
		{"softmax:10,softmax:10", "layer 1 (softmax:10): the softmax layer is the output"},
		{"conv:20x5x5:dropout=0.5,softmax:10", "only fc and softmax layers take dropout"},
		{"fc:100:dropout=1,softmax:10", "dropout=1: want a probability"},
		{"fc:100:tanh,softmax:10", `unknown option "tanh"`},
		{"softmax:10:relu", "only conv and fc layers take an activation"},
	} {
		layers, err := ParseLayers(tc.spec)
		if err == nil {
			_, err = Shapes(layers)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.spec, err, tc.want)
		}
	}
}
