package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

// TestCheckpointFlagsCompatible: the settings a checkpoint stores read
// back into the run's one configuration, both as checkpoints written
// before train.Config held the whole run (the flags' own JSON, written by
// 947becf: layers as --layers text, dtype by name, sizes null) and as
// they are written now.
func TestCheckpointFlagsCompatible(t *testing.T) {
	layers, err := network.ParseLayers("conv:4x5x5:relu,pool:2,fc:20:dropout=0.5,softmax:10")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stored string
		want         trainFlags
	}{
		{"layers, older", `{"sizes": null, "epochs": 1, "batch_size": 10, "eta": 0.1, "seed": 3, "dtype": "float64", "train_limit": 300, "no_shuffle": false, "eval": "test", "layers": "conv:4x5x5:relu,pool:2,fc:20:dropout=0.5,softmax:10", "cost": "log-likelihood", "lambda": 0.1, "weight_init": "large", "train_set": "standard", "data": "/d", "log_format": "text", "checkpoint": "/ck"}`,
			trainFlags{Config: train.Config{Spec: network.Spec{Arch: network.Arch{Layers: layers}, Objective: network.Objective{Cost: network.LogLikelihood, Lambda: 0.1}},
				WeightInit: network.Large, Epochs: 1, BatchSize: 10, Eta: 0.1, Seed: 3, Dtype: graph.Float64, TrainSet: "standard", TrainLimit: 300, Eval: "test"},
				Data: "/d", LogFormat: "text", Checkpoint: "/ck"}},
		{"sizes, older, defaults empty", `{"sizes": [784, 20, 10], "epochs": 2, "batch_size": 10, "eta": 3, "seed": 5, "dtype": "float32", "train_limit": 0, "no_shuffle": true, "eval": "none"}`,
			trainFlags{Config: train.Config{Spec: network.Spec{Arch: network.Arch{Sizes: []int{784, 20, 10}}},
				Epochs: 2, BatchSize: 10, Eta: 3, Seed: 5, Dtype: graph.Float32, NoShuffle: true, Eval: "none"}}},
		{"sizes, now", `{"sizes": [784, 20, 10], "activation": "relu", "cost": "cross-entropy", "lambda": 1, "weight_init": "scaled", "epochs": 1, "batch_size": 10, "eta": 3, "seed": 5, "dtype": "float32", "train_set": "standard", "train_limit": 500, "no_shuffle": false, "eval": "validation", "monitor": true, "data": "/d", "log_format": "text", "checkpoint": "/ck"}`,
			trainFlags{Config: train.Config{Spec: network.Spec{Arch: network.Arch{Sizes: []int{784, 20, 10}, Activation: network.ReLU}, Objective: network.Objective{Cost: network.CrossEntropy, Lambda: 1}},
				WeightInit: network.Scaled, Epochs: 1, BatchSize: 10, Eta: 3, Seed: 5, Dtype: graph.Float32, TrainSet: "standard", TrainLimit: 500, Eval: "validation", Monitor: true},
				Data: "/d", LogFormat: "text", Checkpoint: "/ck"}},
	} {
		var got trainFlags
		if err := json.Unmarshal([]byte(c.stored), &got); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: read %+v, want %+v", c.name, got, c.want)
		}
		// What is written now reads back the same.
		again, _ := json.Marshal(got)
		var back trainFlags
		if err := json.Unmarshal(again, &back); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%s: %s reads back as %+v (%v)", c.name, again, back, err)
		}
	}
	// A stored value no flag takes is the checkpoint's fault, named.
	var bad trainFlags
	if err := json.Unmarshal([]byte(`{"dtype": "float16"}`), &bad); err == nil {
		t.Errorf("dtype float16 read without an error")
	}
}
