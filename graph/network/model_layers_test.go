package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayersModelRoundTrip: a network of layers written and read back is
// the same network, bit for bit, and LoadChecked's hook sees its layers
// before the parameters are read.
func TestLayersModelRoundTrip(t *testing.T) {
	for _, spec := range []string{
		"conv:20x5x5,pool:2,fc:100,softmax:10",
		"conv:4x5x5:relu,pool:2,conv:3x3x3,fc:7:relu:dropout=0.5,softmax:10:dropout=0.25",
	} {
		layers, err := ParseLayers(spec)
		if err != nil {
			t.Fatal(err)
		}
		n, err := NewSpec(Spec{Arch: Arch{Layers: layers}, Objective: Objective{Lambda: 0.1}}, 3, Scaled)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "m.json")
		if err := n.Save(path); err != nil {
			t.Fatal(err)
		}
		var seen Arch
		got, err := LoadChecked(path, func(a Arch) error { seen = a; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(n) || got.Lambda != 0.1 {
			t.Errorf("%s: read back %v, wrote %v", spec, got.Spec, n.Spec)
		}
		if LayersString(seen.Layers) != spec {
			t.Errorf("%s: the hook saw %v", spec, seen)
		}
	}
}

// TestLayersModelRefused: each fault of a layers model file is refused
// with a message naming it.
func TestLayersModelRefused(t *testing.T) {
	layers, _ := ParseLayers("conv:2x5x5,pool:2,fc:3,softmax:10")
	n, err := NewSpec(Spec{Arch: Arch{Layers: layers}}, 1, Scaled)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := n.MarshalJSON()
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(ls []any)) string {
		var c map[string]any
		_ = json.Unmarshal(good, &c)
		f(c["layers"].([]any))
		b, _ := json.Marshal(c)
		return string(b)
	}
	layer := func(ls []any, i int) map[string]any { return ls[i].(map[string]any) }
	cases := []struct{ file, want string }{
		{edit(func(ls []any) { layer(ls, 0)["kind"] = "deconv" }), "unknown kind"},
		{edit(func(ls []any) { layer(ls, 0)["shape"] = []int{2, 1, 5, 4} }), "want [filters, input maps, f, f]"},
		{edit(func(ls []any) { layer(ls, 0)["shape"] = []int{2, 3, 5, 5} }), "shape [2 3 5 5], where the layers below make it [2 1 5 5]"},
		{edit(func(ls []any) { layer(ls, 2)["weights"] = []float64{1} }), "want 864 weights and 3 biases, have 1 and 3"},
		{edit(func(ls []any) { layer(ls, 1)["shape"] = []int{30, 30} }), "does not fit"},
		{edit(func(ls []any) { layer(ls, 2)["activation"] = "tanh" }), `activation "tanh"`},
		{edit(func(ls []any) { layer(ls, 0)["dropout"] = 0.5 }), "only fc and softmax layers take dropout"},
		{edit(func(ls []any) { layer(ls, 3)["dropout"] = 1 }), "want a probability"},
		{edit(func(ls []any) { layer(ls, 2)["biases"] = []any{1, nil, 2} }), "null"},
		{strings.Replace(string(good), `"layers"`, `"sizes":[784,10],"layers"`, 1), "not both"},
		{strings.Replace(string(good), `"softmax"}`, `"sigmoid"}`, 1), `output "sigmoid"`},
	}
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, "m.json")
		if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: Load: %v, want %q", i, err, c.want)
		}
	}
}
