package sweep

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// The files a sweep keeps in its --out folder.
const (
	PlanFile    = "sweep.json"    // the Plan
	ResultsFile = "results.jsonl" // one Epoch per line
	TableFile   = "table.txt"     // the ranked table
)

// Plan is what a sweep's --out folder records of the sweep as a whole, so
// that the shards' folders can be merged and checked against each other.
type Plan struct {
	// Grid is the whole sweep, every shard's settings.
	Grid   []Setting `json:"grid"`
	Epochs int       `json:"epochs"`
	// Shard is this folder's part (from 0) of Shards.
	Shard  int `json:"shard"`
	Shards int `json:"shards"`
	// Shared holds the flags every network of the sweep shares (data,
	// dtype, training images, evaluation set) as their command-line text.
	Shared map[string]string `json:"shared"`
}

// Epoch is one network's figures after one epoch, a line of
// results.jsonl: its settings, then the book's "Epoch N: correct / total".
type Epoch struct {
	Setting
	Epoch   int `json:"epoch"`
	Correct int `json:"correct"`
	Total   int `json:"total"`
	// EpochCost is the epoch's mean training cost, as the network
	// trained ("cost" names the cost function, a setting).
	EpochCost float64 `json:"epoch_cost"`
	// Seconds is the epoch's training time.
	Seconds float64 `json:"seconds"`
	// The monitors (--monitor), network2's four.
	TrainingCost       *float64 `json:"training_cost,omitempty"`
	TrainingAccuracy   *float64 `json:"training_accuracy,omitempty"`
	EvaluationCost     *float64 `json:"evaluation_cost,omitempty"`
	EvaluationAccuracy *float64 `json:"evaluation_accuracy,omitempty"`
	// Diverged says why the network stopped in this epoch (its parameters
	// overflowed or became NaN); the line's other figures are then zero.
	Diverged string `json:"diverged,omitempty"`
}

// Row is one network's line of the ranked table.
type Row struct {
	Setting
	// BestEpoch is the first epoch of the best accuracy, -1 before any.
	BestEpoch      int
	Correct, Total int
	// Epochs is how many epochs it finished; Seconds their training time.
	Epochs   int
	Seconds  float64
	Diverged string
}

// Accuracy is the best epoch's share of evaluation images right.
func (r Row) Accuracy() float64 {
	if r.Total == 0 {
		return 0
	}
	return float64(r.Correct) / float64(r.Total)
}

// Summarize folds each network's epochs into its row, the networks in the
// order their first lines come.
func Summarize(lines []Epoch) []Row {
	var rows []Row
	at := map[string]int{}
	for _, l := range lines {
		k, ok := at[l.Name()]
		if !ok {
			k = len(rows)
			at[l.Name()] = k
			rows = append(rows, Row{Setting: l.Setting, BestEpoch: -1})
		}
		r := &rows[k]
		if l.Diverged != "" {
			r.Diverged = fmt.Sprintf("epoch %d: %s", l.Epoch, l.Diverged)
			continue
		}
		r.Epochs++
		r.Seconds += l.Seconds
		if r.BestEpoch < 0 || better(l.Correct, l.Total, r.Correct, r.Total) {
			r.BestEpoch, r.Correct, r.Total = l.Epoch, l.Correct, l.Total
		}
	}
	return rows
}

// better compares accuracies exactly (a/b > c/d), the earlier epoch
// keeping a tie.
func better(a, b, c, d int) bool { return int64(a)*int64(d) > int64(c)*int64(b) }

// Rank sorts rows best first: by accuracy, a diverged network after every
// one that did not, and equal ones in the order of their names.
func Rank(rows []Row) {
	slices.SortStableFunc(rows, func(x, y Row) int {
		if (x.Diverged != "") != (y.Diverged != "") {
			if x.Diverged != "" {
				return 1
			}
			return -1
		}
		if better(x.Correct, x.Total, y.Correct, y.Total) {
			return -1
		}
		if better(y.Correct, y.Total, x.Correct, x.Total) {
			return 1
		}
		return cmp.Compare(x.Name(), y.Name())
	})
}

// WriteTable writes rows, ranked, as an aligned text table: the settings,
// the best accuracy as a percentage with two decimals, its epoch, the
// epochs done and their training time.
func WriteTable(w io.Writer, rows []Row) error {
	rows = slices.Clone(rows)
	Rank(rows)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\tnetwork\tbatch\teta\tlambda\tseed\tcost\tactivation\tinit\tbest\tepoch\tepochs\ttime\t")
	for k, r := range rows {
		best, epoch := fmt.Sprintf("%.2f%%", 100*r.Accuracy()), fmt.Sprint(r.BestEpoch)
		if r.BestEpoch < 0 || r.Total == 0 { // no epoch yet, or none evaluated (--eval none)
			best, epoch = "-", "-"
		}
		if r.Diverged != "" {
			best = "diverged " + strings.SplitN(r.Diverged, ":", 2)[0]
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%.2fs\t\n",
			k+1, r.Network(), r.BatchSize, formatFloat(r.Eta), formatFloat(r.Lambda), r.Seed,
			r.Cost, r.Activation, r.WeightInit, best, epoch, r.Epochs, r.Seconds)
	}
	return tw.Flush()
}

func sizesText(sizes []int) string {
	b, _ := json.Marshal(sizes)
	return string(b)
}

// Merged is several shards' folders read as one sweep.
type Merged struct {
	Plan Plan
	Rows []Row
	// Missing are settings of the grid no folder has a line of;
	// Incomplete ones stopped short of the plan's epochs without
	// diverging (a shard still running, or killed).
	Missing, Incomplete []Setting
	// Duplicated names each setting found in more than one folder, with
	// the folders; the first folder's lines are kept.
	Duplicated []string
}

// maxLine bounds one line of results.jsonl.
const maxLine = 1 << 20

// Merge reads the --out folders of a sweep's shards. Their plans must be
// the same sweep (grid, epochs, shards, shared flags); each folder's
// lines are its shard's networks.
func Merge(dirs []string) (*Merged, error) {
	m := &Merged{}
	owner := map[string]string{}
	var lines []Epoch
	for k, dir := range dirs {
		plan, err := ReadPlan(dir)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			m.Plan = *plan
		} else if err := samePlan(m.Plan, *plan); err != nil {
			return nil, fmt.Errorf("%s and %s are not shards of one sweep: %v", dirs[0], dir, err)
		}
		got, err := ReadResults(filepath.Join(dir, ResultsFile))
		if err != nil {
			return nil, err
		}
		here := map[string]bool{}
		for _, l := range got {
			name := l.Name()
			if o, ok := owner[name]; ok && o != dir {
				if !here[name] {
					m.Duplicated = append(m.Duplicated, fmt.Sprintf("%s (in %s and %s)", name, o, dir))
					here[name] = true
				}
				continue
			}
			owner[name] = dir
			lines = append(lines, l)
		}
	}
	m.Rows = Summarize(lines)
	done := map[string]Row{}
	for _, r := range m.Rows {
		done[r.Name()] = r
	}
	for _, s := range m.Plan.Grid {
		r, ok := done[s.Name()]
		switch {
		case !ok:
			m.Missing = append(m.Missing, s)
		case r.Diverged == "" && r.Epochs < m.Plan.Epochs:
			m.Incomplete = append(m.Incomplete, s)
		}
	}
	return m, nil
}

func samePlan(a, b Plan) error {
	a.Shard, b.Shard = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if bytes.Equal(ja, jb) {
		return nil
	}
	switch {
	case a.Shards != b.Shards:
		return fmt.Errorf("%d shards against %d", a.Shards, b.Shards)
	case a.Epochs != b.Epochs:
		return fmt.Errorf("%d epochs against %d", a.Epochs, b.Epochs)
	case len(a.Grid) != len(b.Grid):
		return fmt.Errorf("grids of %d and %d settings", len(a.Grid), len(b.Grid))
	}
	return fmt.Errorf("their grids or shared flags differ (%v against %v)", a.Shared, b.Shared)
}

// ReadPlan reads dir's sweep.json.
func ReadPlan(dir string) (*Plan, error) {
	path := filepath.Join(dir, PlanFile)
	data, err := readBounded(path, 64<<20)
	if err != nil {
		return nil, err
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: not a sweep's plan: %v", path, err)
	}
	if len(p.Grid) == 0 || p.Epochs < 1 || checkShard(p.Shard, p.Shards, "") != nil {
		return nil, fmt.Errorf("%s: not a sweep's plan: no grid, no epochs or no shard", path)
	}
	return &p, nil
}

// ReadResults reads a results.jsonl; a missing file is no lines yet.
func ReadResults(path string) ([]Epoch, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []Epoch
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		var l Epoch
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%s:%d: not a sweep's result: %v", path, n, err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return lines, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, limit>>20)
	}
	return data, nil
}
