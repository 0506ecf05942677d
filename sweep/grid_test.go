package sweep

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gputrain/gputrain/graph/train"
)

func TestGridIsTheProduct(t *testing.T) {
	a := Axes{
		Sizes:  [][]int{{784, 30, 10}, {784, 100, 10}},
		Eta:    []float64{0.025, 0.25, 2.5},
		Lambda: []float64{0, 5},
		Seed:   []uint64{1, 2},
		Cost:   []string{"quadratic", "cross-entropy"},
	}
	grid, err := a.Grid()
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * 3 * 2 * 2 * 2; len(grid) != want {
		t.Fatalf("%d settings, want %d", len(grid), want)
	}
	// Every combination once, written out by hand as nested loops over
	// the axes in another order.
	seen := map[string]bool{}
	for _, s := range grid {
		seen[s.Name()] = true
	}
	for _, seed := range a.Seed {
		for _, c := range a.Cost {
			for _, l := range a.Lambda {
				for _, e := range a.Eta {
					for _, sz := range a.Sizes {
						s := Book()
						s.Sizes, s.Eta, s.Lambda, s.Seed, s.Cost = sz, e, l, seed, c
						if !seen[s.Name()] {
							t.Errorf("missing %s", s.Name())
						}
					}
				}
			}
		}
	}
	// The seed varies fastest, the sizes slowest.
	if grid[0].Seed != 1 || grid[1].Seed != 2 || !slices.Equal(grid[len(grid)/2].Sizes, []int{784, 100, 10}) {
		t.Errorf("order: %s, %s, middle %s", grid[0].Name(), grid[1].Name(), grid[len(grid)/2].Name())
	}
	// Empty axes are the book's run.
	one, err := Axes{}.Grid()
	if err != nil || len(one) != 1 || one[0].Name() != Book().Name() {
		t.Errorf("empty axes: %v, %v", one, err)
	}
}

func TestGridRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		axes Axes
		want string
	}{
		{Axes{Eta: []float64{0}}, "--eta 0: must be a finite number > 0"},
		{Axes{Lambda: []float64{-1}}, "--lambda -1"},
		{Axes{Sizes: [][]int{{783, 10}}}, "--sizes"},
		{Axes{BatchSize: []int{0}}, "--batch-size 0"},
		{Axes{Cost: []string{"hinge"}}, `--cost "hinge"`},
		{Axes{Activation: []string{"gelu"}}, `--activation "gelu"`},
		{Axes{WeightInit: []string{"xavier"}}, `--weight-init "xavier"`},
		{Axes{Sizes: [][]int{{784, 30, 10}, {784, 30, 10}}}, "the same network"},
	} {
		if _, err := tc.axes.Grid(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.axes, err, tc.want)
		}
	}
}

func TestSettingNameIsUnique(t *testing.T) {
	a, b := Book(), Book()
	b.Eta = 3.0000000000000004 // the next float64: a name must tell them apart
	if a.Name() == b.Name() {
		t.Errorf("%s names two settings", a.Name())
	}
	if got := Book().Name(); got != "784-30-10_b10_eta3_lambda0_seed1_quadratic_sigmoid_large" {
		t.Errorf("book: %s", got)
	}
}

func TestParseLists(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint64
		err  string
	}{
		{in: "1..5", want: []uint64{1, 2, 3, 4, 5}},
		{in: "1,3,10..12", want: []uint64{1, 3, 10, 11, 12}},
		{in: "7", want: []uint64{7}},
		{in: "7..7", want: []uint64{7}},
		{in: "5..1", err: "runs backwards"},
		{in: "1,2,1", err: "1 is listed twice"},
		{in: "1..3,2", err: "2 is listed twice"},
		{in: "x", err: "want whole numbers"},
		{in: "1..", err: "want whole numbers"},
		{in: "-1", err: "want whole numbers"},
		{in: "0..18446744073709551615", err: "more than 1000 values"},
		{in: "1..600,1000..1500", err: "more than 1000 values"},
	} {
		got, err := ParseUints(tc.in, 1000)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if got, err := ParseFloats("0.025, 0.25,2.5"); err != nil || !slices.Equal(got, []float64{0.025, 0.25, 2.5}) {
		t.Errorf("floats: %v, %v", got, err)
	}
	for _, bad := range []string{"", "1,,2", "0.5,0.5", "1..3"} {
		if _, err := ParseFloats(bad); err == nil {
			t.Errorf("floats %q: no error", bad)
		}
	}
	if _, err := ParseInts("0,10", 100); err == nil {
		t.Error("batch size 0 accepted")
	}
	if got, err := ParseNames("quadratic,cross-entropy", []string{"quadratic", "cross-entropy", "log-likelihood"}); err != nil || len(got) != 2 {
		t.Errorf("names: %v, %v", got, err)
	}
	if _, err := ParseNames("quadratic,hinge", []string{"quadratic"}); err == nil || !strings.Contains(err.Error(), `"hinge"`) {
		t.Errorf("bad name: %v", err)
	}
}

func TestReadGrid(t *testing.T) {
	write := writer(t)
	base := Book()
	base.BatchSize = 20
	j := write("g.json", `[{"eta": 0.5, "seed": 2}, {"sizes": [784, 100, 10], "cost": "cross-entropy", "lambda": 5, "weight_init": "scaled"}]`)
	c := write("g.csv", "# chapter 3\nsizes,eta,lambda,cost\n784-100-10,0.5,5,cross-entropy\n\"784,30,10\",0.5,,\n")
	got, err := ReadGrid(j, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	w0, w1 := base, base
	w0.Eta, w0.Seed = 0.5, 2
	w1.Sizes, w1.Cost, w1.Lambda, w1.WeightInit = []int{784, 100, 10}, "cross-entropy", 5, "scaled"
	if len(got) != 2 || got[0].Name() != w0.Name() || got[1].Name() != w1.Name() {
		t.Errorf("json: %v", got)
	}
	got, err = ReadGrid(c, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	c0, c1 := base, base
	c0.Sizes, c0.Eta, c0.Lambda, c0.Cost = []int{784, 100, 10}, 0.5, 5, "cross-entropy"
	c1.Eta = 0.5
	if len(got) != 2 || got[0].Name() != c0.Name() || got[1].Name() != c1.Name() {
		t.Errorf("csv: %v", got)
	}
	if base.Sizes[1] != 30 {
		t.Error("ReadGrid changed base's sizes")
	}
	for _, tc := range []struct{ name, text, want string }{
		{"u.json", `[{"etta": 1}]`, `setting 1: json: unknown field "etta"`},
		{"o.json", `{"eta": 1}`, "want a JSON array"},
		{"e.json", `[]`, "no settings"},
		{"bad.json", `[{"eta": -1}]`, "setting 1: --eta -1"},
		{"dup.json", `[{"eta": 1}, {"eta": 1}]`, "settings 1 and 2 are the same network"},
		{"many.json", "[" + strings.Repeat(`{"seed": 1},`, 100) + `{"seed": 2}]`, "101 settings, more than the 100"},
		{"h.csv", "eta,momentum\n1,0.9\n", `unknown column "momentum"`},
		{"n.csv", "eta,seed\n1,x\n", `line 2, column seed: "x" is not a valid number`},
		{"s.csv", "sizes\n784-thirty-10\n", "line 2, column sizes"},
		{"r.csv", "eta,seed\n1\n", "wrong number of fields"},
	} {
		if _, err := ReadGrid(write(tc.name, tc.text), base, 100); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadGrid(filepath.Join(t.TempDir(), "none.json"), base, 100); err == nil {
		t.Error("missing file: no error")
	}
}

// TestGridOfLayers: networks of layers join the grid after those of sizes,
// as --layers alone or beside --sizes; they take the log-likelihood cost
// and no activation or initialisation of their own, and refuse those
// axes when there are no sizes for them to apply to.
func TestGridOfLayers(t *testing.T) {
	conv, fc := "conv:20x5x5:relu,pool:2,fc:100:relu:dropout=0.5,softmax:10", "fc:30,softmax:10"
	grid, err := Axes{Layers: []string{conv, fc}, Eta: []float64{0.03, 0.1}, Seed: []uint64{1, 2, 3}}.Grid()
	if err != nil {
		t.Fatal(err)
	}
	if len(grid) != 2*2*3 {
		t.Fatalf("%d settings, want 12", len(grid))
	}
	for i, s := range grid {
		want := []string{conv, fc}[i/6]
		if s.Layers != want || s.Sizes != nil || s.Cost != "log-likelihood" || s.Activation != "" || s.WeightInit != "" || s.Network() != want {
			t.Errorf("setting %d: %+v", i, s)
		}
		if c := s.Config(Book().Config(train.Book())); len(c.Layers) == 0 || c.Layers.String() != want || c.Lambda != s.Lambda || c.Eta != s.Eta {
			t.Errorf("setting %d: config %+v", i, c.Spec)
		}
	}
	if g, err := (Axes{Layers: []string{fc}, Cost: []string{"log-likelihood"}}).Grid(); err != nil || len(g) != 1 {
		t.Errorf("--layers with --cost log-likelihood: %v, %v", g, err)
	}
	mixed, err := Axes{Sizes: [][]int{{784, 30, 10}}, Layers: []string{fc}, Cost: []string{"quadratic", "cross-entropy"}}.Grid()
	if err != nil || len(mixed) != 3 || mixed[0].Layers != "" || mixed[1].Layers != "" || mixed[2].Layers != fc {
		t.Errorf("sizes and layers: %v, %v", mixed, err)
	}
	for _, tc := range []struct {
		axes Axes
		want string
	}{
		{Axes{Layers: []string{fc}, Cost: []string{"quadratic"}}, "--cost with --layers alone"},
		{Axes{Layers: []string{fc}, Cost: []string{"log-likelihood", "quadratic"}}, "--cost with --layers alone"},
		{Axes{Layers: []string{fc}, Activation: []string{"relu"}}, "--activation with --layers alone"},
		{Axes{Layers: []string{"fc:30"}}, "softmax:10"},
		{Axes{Layers: []string{"pool:2,softmax:10"}}, "pooling follows a convolution"},
	} {
		if _, err := tc.axes.Grid(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.axes, err, tc.want)
		}
	}
	// Names tell every stack apart and can be file names.
	names := map[string]string{}
	for _, l := range []string{conv, fc, "fc:30:relu,softmax:10", "fc:30:dropout=1e-05,softmax:10", "fc:30:dropout=0.1,softmax:10"} {
		s, err := Setting{BatchSize: 10, Eta: 1, Seed: 1}.WithLayers(l)
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if o, ok := names[s.Name()]; ok {
			t.Errorf("%s and %s share the name %s", o, l, s.Name())
		}
		names[s.Name()] = l
		if strings.ContainsAny(s.Name(), ":,/ ") {
			t.Errorf("%s: name %q", l, s.Name())
		}
	}
}

// TestReadGridOfLayers: a grid file's "layers" field or column makes a
// network of layers, refusing sizes, activation or initialisation that
// differ from the defaults beside it.
func TestReadGridOfLayers(t *testing.T) {
	write := writer(t)
	fc := "fc:30,softmax:10"
	for _, path := range []string{
		write("l.json", `[{"layers": "fc:30,softmax:10", "eta": 0.1, "seed": 2}, {"eta": 0.5}]`),
		write("l.csv", "layers,eta,seed\n\"fc:30,softmax:10\",0.1,2\n,0.5,1\n"),
	} {
		got, err := ReadGrid(path, Book(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Layers != fc || got[0].Eta != 0.1 || got[0].Seed != 2 || got[0].Sizes != nil || got[0].Cost != "log-likelihood" ||
			got[1].Layers != "" || !slices.Equal(got[1].Sizes, Book().Sizes) {
			t.Errorf("%s: %+v", path, got)
		}
	}
	for _, tc := range []struct{ name, text, want string }{
		{"s.json", `[{"layers": "fc:30,softmax:10", "sizes": [784, 100, 10]}]`, "sizes and layers"},
		{"a.json", `[{"layers": "fc:30,softmax:10", "activation": "relu"}]`, "activation with layers"},
		{"c.csv", "layers,cost\n\"fc:30,softmax:10\",quadratic\n", "cost quadratic with layers"},
		{"w.csv", "layers,weight_init\n\"fc:30,softmax:10\",large\n", "weight_init with layers"},
		{"b.csv", "layers\nfc:30\n", "setting 1: --layers fc:30"},
	} {
		if _, err := ReadGrid(write(tc.name, tc.text), Book(), 100); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// writer returns a function that writes a file of text into a folder of
// the test's and returns its path.
func writer(t *testing.T) func(name, text string) string {
	dir := t.TempDir()
	return func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
