package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestModelRoundTrip(t *testing.T) {
	n, err := New([]int{784, 5, 3, 10}, 42)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.json")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(n) {
		t.Fatal("a saved and loaded network differs from the original")
	}
	// The file is network2.py's layout: biases as out×1 columns.
	var raw map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	b0 := raw["biases"].([]any)[0].([]any)
	if len(b0) != 5 || len(b0[0].([]any)) != 1 || raw["cost"] != "QuadraticCost" {
		t.Fatalf("not network2.py's layout: biases[0] %v, cost %v", b0, raw["cost"])
	}
}

// TestModelSpec: every spec survives a save and load; the cost is written
// with network2.py's names, what network2 cannot express in fields of its
// own, and a file network2.py wrote with either cost loads.
func TestModelSpec(t *testing.T) {
	sizes := []int{784, 3, 10}
	cases := []struct {
		spec              Spec
		cost              string
		activation, outer any
	}{
		{Spec{Arch: Arch{Sizes: sizes}}, "QuadraticCost", nil, nil},
		{Spec{Arch: Arch{Sizes: sizes}, Objective: Objective{Cost: CrossEntropy, Lambda: 5}}, "CrossEntropyCost", nil, nil},
		{Spec{Arch: Arch{Sizes: sizes, Activation: ReLU}, Objective: Objective{Cost: LogLikelihood}}, "CrossEntropyCost", "relu", "softmax"},
		{Spec{Arch: Arch{Sizes: sizes, Activation: Tanh}}, "QuadraticCost", "tanh", nil},
	}
	for _, c := range cases {
		t.Run(c.spec.String(), func(t *testing.T) {
			n, err := NewSpec(c.spec, 3, Large)
			if err != nil {
				t.Fatal(err)
			}
			data, err := n.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			if raw["cost"] != c.cost || raw["activation"] != c.activation || raw["output"] != c.outer {
				t.Errorf("cost %v, activation %v, output %v; want %v, %v, %v", raw["cost"], raw["activation"], raw["output"], c.cost, c.activation, c.outer)
			}
			var back Network
			if err := back.UnmarshalJSON(data); err != nil {
				t.Fatal(err)
			}
			if !back.Equal(n) || back.Cost != c.spec.Norm().Cost || back.Lambda != c.spec.Lambda {
				t.Fatalf("read back as %v, want %v", back.Spec, n.Spec)
			}
		})
	}
	// network2.py's save: sizes, weights, biases and cost, nothing else.
	for _, cost := range []string{"QuadraticCost", "CrossEntropyCost"} {
		n, _ := New(sizes, 1)
		data, _ := n.MarshalJSON()
		var raw map[string]any
		json.Unmarshal(data, &raw)
		raw["cost"] = cost
		data, _ = json.Marshal(raw)
		var back Network
		if err := back.UnmarshalJSON(data); err != nil {
			t.Fatalf("network2.py's %s file: %v", cost, err)
		}
		if !back.Equal(n) {
			t.Fatalf("network2.py's %s file reads as another network", cost)
		}
	}
}

func TestModelMalformed(t *testing.T) {
	ok := `{"sizes":[784,1,10],"weights":[[W784],[[1],[2],[3],[4],[5],[6],[7],[8],[9],[10]]],"biases":[[[0]],[[0],[0],[0],[0],[0],[0],[0],[0],[0],[0]]],"cost":"QuadraticCost"}`
	row := "[" + strings.TrimSuffix(strings.Repeat("0.5,", 784), ",") + "]"
	ok = strings.Replace(ok, "[W784]", "["+row+"]", 1)
	var n Network
	if err := n.UnmarshalJSON([]byte(ok)); err != nil {
		t.Fatalf("the well-formed base case fails: %v", err)
	}
	cases := []struct{ name, json, want string }{
		{"empty", ``, "EOF"},
		{"not json", `hello`, "invalid character"},
		{"missing sizes", strings.Replace(ok, `"sizes":[784,1,10],`, "", 1), `missing "sizes"`},
		{"missing weights", strings.Replace(ok, `"weights"`, `"w"`, 1), `missing "weights"`},
		{"bad first size", strings.Replace(ok, `[784,1,10]`, `[783,1,10]`, 1), "must start with 784"},
		{"bad last size", strings.Replace(ok, `[784,1,10]`, `[784,1,9]`, 1), "must end with 10"},
		{"zero size", strings.Replace(ok, `[784,1,10]`, `[784,0,10]`, 1), "at least 1 neuron"},
		{"sizes disagree with layers", strings.Replace(ok, `[784,1,10]`, `[784,10]`, 1), "need 1 weight and bias layers"},
		{"ragged weights", strings.Replace(ok, `[[1],[2]`, `[[1,1],[2]`, 1), "weights[1][0]: want 1 columns, have 2"},
		{"wrong rows", strings.Replace(ok, `[[1],[2],`, `[[2],`, 1), "weights[1]: want 10 rows, have 9"},
		{"bias not a column", strings.Replace(ok, `"biases":[[[0]]`, `"biases":[[[0,0]]`, 1), "biases[0][0]: want 1 column"},
		{"NaN", strings.Replace(ok, `[[1],[2]`, `[[NaN],[2]`, 1), "NaN"},
		{"string for number", strings.Replace(ok, `[[1],[2]`, `[["x"],[2]`, 1), `"weights" holds a string where it needs a list per layer of rows of numbers`},
		{"flat biases", strings.Replace(ok, `"biases":[[[0]],[[0],[0],[0],[0],[0],[0],[0],[0],[0],[0]]]`, `"biases":[[0],[0,0,0,0,0,0,0,0,0,0]]`, 1),
			`"biases" holds a number where it needs a list per layer of one-number rows, [[[b], [b], ...], ...]`},
		{"unknown cost", strings.Replace(ok, `QuadraticCost`, `LogCost`, 1), `cost "LogCost": want QuadraticCost or CrossEntropyCost`},
		{"unknown activation", strings.Replace(ok, `"cost"`, `"activation":"swish","cost"`, 1), `activation "swish": want one of`},
		{"softmax with quadratic", strings.Replace(ok, `"cost"`, `"output":"softmax","cost"`, 1), `output "softmax" goes with cost "CrossEntropyCost"`},
		{"unknown output", strings.Replace(ok, `"cost"`, `"output":"linear","cost"`, 1), `output "linear": want`},
		{"negative lambda", strings.Replace(ok, `"cost"`, `"lambda":-1,"cost"`, 1), "lambda -1: must be"},
		{"trailing data", ok + ` x`, "data after the model's JSON object"},
		{"a second object", ok + ok, "data after the model's JSON object"},
		{"null weight", strings.Replace(ok, `[[1],[2]`, `[[null],[2]`, 1), `null in "weights": want numbers`},
		{"null bias row", strings.Replace(ok, `"biases":[[[0]]`, `"biases":[null`, 1), `null in "biases"`},
		{"boolean weight", strings.Replace(ok, `[[1],[2]`, `[[true],[2]`, 1), `"weights" holds a bool where it needs`},
		{"not an object", `[1,2]`, "not a JSON object"},
		{"huge size", strings.Replace(ok, `[784,1,10]`, `[784,4611686018427387904000,10]`, 1), "is not a layer size"},
		{"checkpoint", `{"flags":{},"position":{},"model":` + ok + `}`, "a training checkpoint, not a model file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n Network
			err := n.UnmarshalJSON([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"sizes":[1,2]}`), 0o644)
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("error %v does not start with the file name", err)
	}
}

// TestLoadBounded: anything but a regular file is refused before it is
// read (a FIFO would hang, /dev/zero would fill memory), and so is a file
// larger than its sizes can explain; the check hook sees the sizes first.
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	n, _ := New([]int{784, 2, 10}, 1)
	good, _ := n.MarshalJSON()
	padded := filepath.Join(dir, "padded.json")
	os.WriteFile(padded, append(good, bytes.Repeat([]byte(" "), 2<<20)...), 0o644)
	model := filepath.Join(dir, "m.json")
	os.WriteFile(model, good, 0o644)
	for _, c := range []struct{ path, want string }{
		{fifo, "is a named pipe (FIFO), want a model file"},
		{"/dev/zero", "is a device, want a model file"},
		{dir, "is a directory, want a model file"},
		{padded, "2.1 MB, more than the 1.2 MB it can be"},
	} {
		if _, err := Load(c.path); err == nil || !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%s): %v, want %q", c.path, err, c.want)
		}
	}
	refuse := errors.New("too big")
	var seen []int
	if _, err := LoadChecked(model, func(a Arch) error { seen = a.Sizes; return refuse }); err != refuse || len(seen) != 3 || seen[1] != 2 {
		t.Errorf("LoadChecked: %v, hook saw %v", err, seen)
	}
}

func FuzzUnmarshalModel(f *testing.F) {
	n, _ := New([]int{784, 2, 10}, 1)
	good, _ := n.MarshalJSON()
	f.Add(good)
	f.Add([]byte(`{"sizes":[784,10],"weights":[],"biases":[]}`))
	f.Add([]byte(`{"sizes":[784,10],"weights":[[[1]]],"biases":[[[1]]]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n Network
		if err := n.UnmarshalJSON(data); err != nil {
			return
		}
		if err := n.Check(); err != nil {
			t.Fatalf("accepted a network that fails Check: %v", err)
		}
	})
}
