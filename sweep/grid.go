// Package sweep plans many training runs as one: the grid of settings a
// sweep trains (the product of the flags' lists, or a file of settings),
// its split into shards that engines such as Kubernetes Indexed Jobs and
// Slurm job arrays run apart, and the results each network leaves, merged
// back into one ranked table. It trains nothing itself.
package sweep

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
)

// Setting is one network of a sweep: everything that makes its run differ
// from another's. Its JSON names are the training flags' own.
type Setting struct {
	Sizes []int `json:"sizes"`
	// Layers is chapter 6's network, as --layers writes it, in place of
	// Sizes; such a network has no activation or initialisation of its
	// own to set and trains with the log-likelihood cost.
	Layers     string  `json:"layers,omitempty"`
	BatchSize  int     `json:"batch_size"`
	Eta        float64 `json:"eta"`
	Lambda     float64 `json:"lambda"`
	Seed       uint64  `json:"seed"`
	Cost       string  `json:"cost"`
	Activation string  `json:"activation"`
	WeightInit string  `json:"weight_init"`
}

// Book is the book's run as a setting: [784,30,10], batch 10, η 3.0, seed
// 1, sigmoid neurons, quadratic cost, N(0,1) weights.
func Book() Setting {
	return Setting{
		Sizes: []int{784, 30, 10}, BatchSize: 10, Eta: 3, Seed: 1,
		Cost: string(network.Quadratic), Activation: string(network.Sigmoid), WeightInit: string(network.Large),
	}
}

// Config is the run the setting makes of base, the settings every network
// of the sweep shares: exactly the run gputrain train makes with them.
func (s Setting) Config(base train.Config) train.Config {
	c := base
	c.Spec = network.Spec{Arch: s.Arch(), Objective: network.Objective{Cost: network.Cost(s.Cost), Lambda: s.Lambda}}
	c.WeightInit, c.BatchSize, c.Eta, c.Seed = network.WeightInit(s.WeightInit), s.BatchSize, s.Eta, s.Seed
	if s.Layers != "" {
		c.WeightInit = network.Large // unused: as gputrain train --layers leaves it
	}
	return c.Norm()
}

// Arch is the setting's network: its sizes and activation, or its layers
// (nil when they do not parse: Check says why).
func (s Setting) Arch() network.Arch {
	if s.Layers == "" {
		return network.Arch{Sizes: s.Sizes, Activation: network.Activation(s.Activation)}
	}
	var ls network.Layers
	if ls.UnmarshalText([]byte(s.Layers)) != nil {
		return network.Arch{}
	}
	return network.Arch{Layers: ls}
}

// Network is the setting's network as the table writes it: its sizes,
// [784,30,10], or its layers.
func (s Setting) Network() string {
	if s.Layers != "" {
		return s.Layers
	}
	return sizesText(s.Sizes)
}

// WithLayers returns s as a network of layers (the --layers text): no
// sizes, activation or initialisation, the log-likelihood cost. given
// names the fields set beside the layers (a grid file's): sizes,
// activation and weight_init are refused, and a cost other than the
// log-likelihood.
func (s Setting) WithLayers(layers string, given ...string) (Setting, error) {
	switch {
	case slices.Contains(given, "sizes"):
		return s, fmt.Errorf("sizes and layers: give one")
	case slices.Contains(given, "activation"):
		return s, fmt.Errorf("activation with layers: each conv or fc layer takes its own, as conv:20x5x5:relu")
	case slices.Contains(given, "weight_init"):
		return s, fmt.Errorf("weight_init with layers: a network of layers starts as network3.py's does")
	case slices.Contains(given, "cost") && s.Cost != string(network.LogLikelihood):
		return s, fmt.Errorf("cost %s with layers: a network of layers trains with the %s cost", s.Cost, network.LogLikelihood)
	}
	var ls network.Layers
	if err := ls.UnmarshalText([]byte(layers)); err != nil {
		return s, err
	}
	s.Layers, s.Sizes, s.Activation, s.WeightInit, s.Cost = ls.String(), nil, "", "", string(network.LogLikelihood)
	return s, nil
}

// Check reports the first invalid field, named as its flag.
func (s Setting) Check() error {
	if s.Layers != "" {
		return s.checkLayers()
	}
	if err := network.CheckSizes(s.Sizes); err != nil {
		return fmt.Errorf("--sizes: %v", err)
	}
	if err := s.checkTraining(); err != nil {
		return err
	}
	switch {
	case !slices.Contains(network.Costs, network.Cost(s.Cost)):
		return fmt.Errorf("--cost %q: want one of %v", s.Cost, network.Costs)
	case !slices.Contains(network.Activations, network.Activation(s.Activation)):
		return fmt.Errorf("--activation %q: want one of %v", s.Activation, network.Activations)
	case s.WeightInit != string(network.Large) && s.WeightInit != string(network.Scaled):
		return fmt.Errorf("--weight-init %q: want %s or %s", s.WeightInit, network.Large, network.Scaled)
	}
	return nil
}

// checkTraining checks the fields every network has.
func (s Setting) checkTraining() error {
	switch {
	case s.BatchSize < 1:
		return fmt.Errorf("--batch-size %d: must be at least 1", s.BatchSize)
	case !(s.Eta > 0) || math.IsInf(s.Eta, 0):
		return fmt.Errorf("--eta %v: must be a finite number > 0", s.Eta)
	case !(s.Lambda >= 0) || math.IsInf(s.Lambda, 0):
		return fmt.Errorf("--lambda %v: must be a finite number ≥ 0", s.Lambda)
	}
	return nil
}

// checkLayers checks a network of layers: the stack, and nothing set
// that such a network does not take.
func (s Setting) checkLayers() error {
	ls, err := ParseLayers(s.Layers)
	if err != nil {
		return fmt.Errorf("--layers %s: %v", s.Layers, err)
	}
	switch {
	case ls != s.Layers:
		return fmt.Errorf("--layers %s: write it as %s", s.Layers, ls)
	case s.Sizes != nil || s.Activation != "" || s.WeightInit != "":
		return fmt.Errorf("--layers %s: a network of layers takes no sizes, activation or weight_init", s.Layers)
	case s.Cost != string(network.LogLikelihood):
		return fmt.Errorf("--layers %s: a network of layers trains with the %s cost, not %q", s.Layers, network.LogLikelihood, s.Cost)
	}
	return s.checkTraining()
}

// ParseLayers reads a network of layers as --layers takes it and checks
// that the stack fits together; it returns the text as --layers writes it.
func ParseLayers(text string) (string, error) {
	var ls network.Layers
	if err := ls.UnmarshalText([]byte(text)); err != nil {
		return "", err
	}
	if err := (network.Spec{Arch: network.Arch{Layers: ls}}).Norm().Check(); err != nil {
		return "", err
	}
	return ls.String(), nil
}

// Name is the setting in a few characters that a file name can carry,
// unique to it: floats are written in the shortest form that reads back
// exactly, so two settings share a name only when they are equal.
func (s Setting) Name() string {
	if s.Layers != "" {
		return fmt.Sprintf("%s_b%d_eta%s_lambda%s_seed%d",
			layersName.Replace(s.Layers), s.BatchSize, formatFloat(s.Eta), formatFloat(s.Lambda), s.Seed)
	}
	sizes := make([]string, len(s.Sizes))
	for i, v := range s.Sizes {
		sizes[i] = strconv.Itoa(v)
	}
	return fmt.Sprintf("%s_b%d_eta%s_lambda%s_seed%d_%s_%s_%s",
		strings.Join(sizes, "-"), s.BatchSize, formatFloat(s.Eta), formatFloat(s.Lambda),
		s.Seed, s.Cost, s.Activation, s.WeightInit)
}

// layersName writes --layers text into a file name, one to one: each
// character it takes out has its own replacement, which never occurs in
// that text (a minus only in a tiny dropout's exponent, 1e-05).
var layersName = strings.NewReplacer(":", "-", ",", "+", "=", "~", "-", "^")

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Work is what one epoch of the setting costs, up to a factor that all
// settings of a sweep share (the images, the epochs): its multiply-adds
// per image, three products per weight (forward, back, gradient).
func (s Setting) Work() float64 {
	if s.Layers != "" {
		return 3 * s.Arch().MultiplyAdds()
	}
	return 3 * network.ParamCount(s.Sizes)
}

// Axes are the lists the training flags take in a sweep; the grid is
// their product. An empty axis takes the book's value.
type Axes struct {
	Sizes      [][]int
	Layers     []string // networks of layers, after those of Sizes
	BatchSize  []int
	Eta        []float64
	Lambda     []float64
	Seed       []uint64
	Cost       []string
	Activation []string
	WeightInit []string
}

// Grid is the product of the axes, each setting checked. The order is
// fixed: sizes vary slowest (then layers), then batch size, cost,
// activation, weight initialisation, λ and η, and the seed fastest, so
// that the networks that can share a program (same shapes, batch size
// and functions) sit together. Networks of layers take no cost,
// activation or initialisation: with layers alone, those axes are
// refused; beside sizes, they apply to the sizes' networks.
func (a Axes) Grid() ([]Setting, error) {
	book := Book()
	sizes := orBook(a.Sizes, book.Sizes)
	if len(a.Layers) > 0 && len(a.Sizes) == 0 {
		sizes = nil
		for _, f := range []struct {
			name string
			set  bool
		}{{"cost", len(a.Cost) > 0 && !slices.Equal(a.Cost, []string{string(network.LogLikelihood)})}, {"activation", len(a.Activation) > 0}, {"weight-init", len(a.WeightInit) > 0}} {
			if f.set {
				return nil, fmt.Errorf("--%s with --layers alone: a network of layers trains with the log-likelihood cost and network3.py's activations and initialisation", f.name)
			}
		}
	}
	batches, etas, lambdas, seeds := orBook(a.BatchSize, book.BatchSize), orBook(a.Eta, book.Eta), orBook(a.Lambda, book.Lambda), orBook(a.Seed, book.Seed)
	costs, acts, inits := orBook(a.Cost, book.Cost), orBook(a.Activation, book.Activation), orBook(a.WeightInit, book.WeightInit)
	var grid []Setting
	for _, sz := range sizes {
		for _, b := range batches {
			for _, c := range costs {
				for _, act := range acts {
					for _, init := range inits {
						for _, l := range lambdas {
							for _, e := range etas {
								for _, seed := range seeds {
									s := Setting{Sizes: slices.Clone(sz), BatchSize: b, Eta: e, Lambda: l, Seed: seed, Cost: c, Activation: act, WeightInit: init}
									if err := s.Check(); err != nil {
										return nil, err
									}
									grid = append(grid, s)
								}
							}
						}
					}
				}
			}
		}
	}
	for _, layers := range a.Layers {
		for _, b := range batches {
			for _, l := range lambdas {
				for _, e := range etas {
					for _, seed := range seeds {
						s, err := Setting{BatchSize: b, Eta: e, Lambda: l, Seed: seed}.WithLayers(layers)
						if err == nil {
							err = s.Check()
						}
						if err != nil {
							return nil, err
						}
						grid = append(grid, s)
					}
				}
			}
		}
	}
	return grid, Unique(grid)
}

func orBook[T any](axis []T, book T) []T {
	if len(axis) == 0 {
		return []T{book}
	}
	return axis
}

// Unique reports the first setting that appears twice.
func Unique(grid []Setting) error {
	seen := make(map[string]int, len(grid))
	for i, s := range grid {
		if j, ok := seen[s.Name()]; ok {
			return fmt.Errorf("settings %d and %d are the same network (%s)", j+1, i+1, s.Name())
		}
		seen[s.Name()] = i
	}
	return nil
}

// ParseFloats reads a comma-separated list of numbers ("0.025,0.25,2.5").
func ParseFloats(list string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("want numbers separated by commas, such as 0.025,0.25,2.5")
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%v is listed twice", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseUints reads a comma-separated list of whole numbers and inclusive
// ranges ("1..5", "1,3,10..12"). A range holds at most limit numbers, so
// that a typing slip cannot ask for billions of runs.
func ParseUints(list string, limit int) ([]uint64, error) {
	var out []uint64
	bad := fmt.Errorf("want whole numbers and ranges separated by commas, such as 1..5 or 1,3,7")
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		lo, hi, isRange := strings.Cut(f, "..")
		first, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, bad
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 64); err != nil {
				return nil, bad
			}
			if last < first {
				return nil, fmt.Errorf("the range %s runs backwards", f)
			}
		}
		if last-first >= uint64(limit) || len(out)+int(last-first)+1 > limit {
			return nil, fmt.Errorf("more than %d values", limit)
		}
		for v := first; ; v++ {
			if slices.Contains(out, v) {
				return nil, fmt.Errorf("%d is listed twice", v)
			}
			out = append(out, v)
			if v == last {
				break
			}
		}
	}
	return out, nil
}

// ParseInts is ParseUints for counts such as batch sizes, each at least 1.
func ParseInts(list string, limit int) ([]int, error) {
	us, err := ParseUints(list, limit)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(us))
	for i, u := range us {
		if u < 1 || u > math.MaxInt32 {
			return nil, fmt.Errorf("%d is not between 1 and %d", u, math.MaxInt32)
		}
		out[i] = int(u)
	}
	return out, nil
}

// ParseNames reads a comma-separated list of names, each one of valid.
func ParseNames[T ~string](list string, valid []T) ([]string, error) {
	var out []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(valid, T(f)) {
			return nil, fmt.Errorf("%q is not one of %v", f, valid)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("%s is listed twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}
