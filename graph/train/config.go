package train

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
)

// Config is a training run: the network and its objective (Spec), how it
// starts, and the settings of network.py's SGD. It is the one
// configuration of a run: gputrain train's and the benchmark peers' flags
// fill it (cmd/internal/trainflags), a sweep derives one per network, a
// checkpoint stores it under the flags' names (JSON below), and a backend
// compiles its programs for it. The compiler's per-step scalars
// (graph.Step) are derived from it, never set apart.
type Config struct {
	network.Spec
	// WeightInit is chapter 3's choice for a network of sizes; "" is
	// Large, chapter 1's (a network of layers starts as network3's).
	WeightInit network.WeightInit `json:"weight_init,omitempty"`
	Epochs     int                `json:"epochs"`
	BatchSize  int                `json:"batch_size"`
	Eta        float64            `json:"eta"`
	// Seed draws the initial weights, shuffles every epoch and keys the
	// dropout masks (with the step, graph/dropout).
	Seed  uint64      `json:"seed"`
	Dtype graph.Dtype `json:"dtype"`
	// TrainSet is the training images' set: "" or "standard" (MNIST's
	// 50,000) or "expanded" (expand_mnist.py's 250,000).
	TrainSet string `json:"train_set,omitempty"`
	// TrainLimit keeps the first TrainLimit training images (0: all).
	TrainLimit int  `json:"train_limit"`
	NoShuffle  bool `json:"no_shuffle"`
	// Eval is the set evaluated after each epoch: test, validation or none.
	Eval string `json:"eval"`
	// EarlyStop ends the run after that many epochs without a better
	// evaluation accuracy (network2's early_stopping_n; 0: never).
	EarlyStop int  `json:"early_stop,omitempty"`
	Monitor   bool `json:"monitor,omitempty"`
	// TrainSize is n, the training images an epoch takes, known once the
	// data is read (On); the L2 step needs it. Not stored: the data says.
	TrainSize int `json:"-"`
}

// Book is chapter 1's run: [784,30,10] sigmoid neurons, quadratic cost,
// 30 epochs of shuffled mini-batches of 10 at η 3.0 from seed 1, in
// float32, evaluated on the test set.
func Book() Config {
	return Config{Spec: network.Book([]int{784, 30, 10}), WeightInit: network.Large,
		Epochs: 30, BatchSize: 10, Eta: 3, Seed: 1, Dtype: graph.Float32, TrainSet: "standard", Eval: "test"}
}

// NewConfig is the Config that a backend needs of a run of spec on a
// training set of n images at batchSize and eta in dt; tests and the
// benchmarks open backends with it.
func NewConfig(spec network.Spec, n, batchSize int, eta float64, dt graph.Dtype) Config {
	return Config{Spec: spec, BatchSize: batchSize, Eta: eta, Dtype: dt}.On(n)
}

// On is c run on a training set of n images: n is the L2 step's, and a
// batch size over n is n, as the book's SGD takes a set smaller than one
// mini-batch as one.
func (c Config) On(n int) Config {
	c.TrainSize, c.BatchSize = n, min(c.BatchSize, n)
	return c
}

// Norm returns c with the defaults filled in (what an older checkpoint
// leaves empty) and its own copies of the spec's slices.
func (c Config) Norm() Config {
	c.Spec = c.Spec.Norm()
	if c.WeightInit == "" {
		c.WeightInit = network.Large
	}
	if c.TrainSet == "" {
		c.TrainSet = "standard"
	}
	return c
}

// Check reports the first field a backend cannot compile for.
func (c Config) Check() error {
	if err := c.Spec.Check(); err != nil {
		return err
	}
	if c.Lambda != 0 && c.TrainSize < 1 {
		return fmt.Errorf("lambda %v: the L2 step needs the training-set size, have %d", c.Lambda, c.TrainSize)
	}
	if flag, fault := c.stepFault(); flag != "" {
		return fmt.Errorf("%s%s", strings.ReplaceAll(flag, "-", " "), fault)
	}
	return nil
}

// stepFault is the first of the settings every step uses that is invalid.
func (c Config) stepFault() (flag, fault string) {
	switch {
	case c.BatchSize < 1:
		return "batch-size", fmt.Sprintf(" %d: must be at least 1", c.BatchSize)
	case !(c.Eta > 0) || math.IsInf(c.Eta, 0):
		return "eta", fmt.Sprintf(" %v: must be a finite number > 0", c.Eta)
	}
	return "", ""
}

// Fault returns the first invalid setting of the run but its layers or
// sizes (which a model file may supply, and which have checks of their
// own), as the flag's name and what is wrong with its value (" 0: must be
// at least 1"), so that a caller words it for the command line or for a
// checkpoint's stored settings. The training set's name is the caller's
// to check, as it alone knows the sets it reads.
func (c Config) Fault() (flag, fault string) {
	if c.Epochs < 1 {
		return "epochs", fmt.Sprintf(" %d: must be at least 1", c.Epochs)
	}
	if flag, fault := c.stepFault(); flag != "" {
		return flag, fault
	}
	switch {
	case c.TrainLimit < 0:
		return "train-limit", fmt.Sprintf(" %d: must be 0 (all) or more", c.TrainLimit)
	case c.Eval != "test" && c.Eval != "validation" && c.Eval != "none":
		return "eval", fmt.Sprintf(" %q: want test, validation or none", c.Eval)
	case c.Dtype != graph.Float32 && c.Dtype != graph.Float64:
		return "dtype", fmt.Sprintf(" %d: want float32 or float64", c.Dtype)
	case c.Activation != "" && !slices.Contains(network.Activations, c.Activation):
		return "activation", fmt.Sprintf(" %q: want %s", c.Activation, OneOf(network.Activations))
	case c.Cost != "" && !slices.Contains(network.Costs, c.Cost):
		return "cost", fmt.Sprintf(" %q: want %s", c.Cost, OneOf(network.Costs))
	case !(c.Lambda >= 0) || math.IsInf(c.Lambda, 0):
		return "lambda", fmt.Sprintf(" %v: must be a finite number ≥ 0", c.Lambda)
	case c.WeightInit != "" && c.WeightInit != network.Large && c.WeightInit != network.Scaled:
		return "weight-init", fmt.Sprintf(" %q: want %s or %s", c.WeightInit, network.Large, network.Scaled)
	case c.EarlyStop < 0:
		return "early-stop", fmt.Sprintf(" %d: must be 0 (never) or more", c.EarlyStop)
	case c.EarlyStop > 0 && c.Eval == "none":
		return "early-stop", fmt.Sprintf(" %d: stops on the evaluation accuracy, and --eval is none", c.EarlyStop)
	}
	return "", ""
}

// OneOf lists names as a sentence does: "a, b or c".
func OneOf[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
