package sweep

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func epochs(s Setting, correct ...int) []Epoch {
	var out []Epoch
	for e, c := range correct {
		out = append(out, Epoch{Setting: s, Epoch: e, Correct: c, Total: 10000, Seconds: 0.5})
	}
	return out
}

func TestSummarizeAndRank(t *testing.T) {
	a, b, c, d := Book(), Book(), Book(), Book()
	b.Seed, c.Seed, d.Eta = 2, 3, 1e39
	var lines []Epoch
	lines = append(lines, epochs(a, 9000, 9500, 9500, 9400)...) // best 9500 at epoch 1 (the first of the tie)
	lines = append(lines, epochs(b, 9534)...)
	lines = append(lines, epochs(c, 9100, 9534)...) // ties b: the name decides
	lines = append(lines, Epoch{Setting: d, Epoch: 0, Diverged: "weights overflowed"})
	rows := Summarize(lines)
	if len(rows) != 4 || rows[0].BestEpoch != 1 || rows[0].Correct != 9500 || rows[0].Epochs != 4 || rows[0].Seconds != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	Rank(rows)
	if rows[0].Name() != b.Name() || rows[1].Name() != c.Name() || rows[2].Name() != a.Name() || rows[3].Diverged == "" {
		t.Errorf("ranked: %v", rows)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"95.34%", "95.00%", "diverged epoch 0", "[784,30,10]", "1e+39"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 5 || !strings.Contains(lines[1], "95.34%") || !strings.Contains(lines[4], "diverged") {
		t.Errorf("table:\n%s", text)
	}
}

// TestTableWithoutEvaluation: networks trained with --eval none (every
// line's total 0) show no accuracy, not 0.00%.
func TestTableWithoutEvaluation(t *testing.T) {
	a := Book()
	var buf bytes.Buffer
	if err := WriteTable(&buf, Summarize([]Epoch{{Setting: a, Epoch: 0, Seconds: 0.5}, {Setting: a, Epoch: 1, Seconds: 0.5}})); err != nil {
		t.Fatal(err)
	}
	row := strings.Fields(strings.Split(strings.TrimSpace(buf.String()), "\n")[1])
	if best, epoch, done := row[len(row)-4], row[len(row)-3], row[len(row)-2]; best != "-" || epoch != "-" || done != "2" {
		t.Errorf("best %s at epoch %s after %s epochs, want - at - after 2:\n%s", best, epoch, done, buf.String())
	}
}

// writeShard lays out a shard's --out folder as the sweep command does.
func writeShard(t *testing.T, dir string, plan Plan, lines []Epoch) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(plan)
	if err := os.WriteFile(filepath.Join(dir, PlanFile), p, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, l := range lines {
		b, _ := json.Marshal(l)
		buf.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMerge(t *testing.T) {
	grid := testGrid(t)[:6]
	plan := Plan{Grid: grid, Epochs: 2, Shards: 2, Shared: map[string]string{"dtype": "float32"}}
	root := t.TempDir()
	var all []Epoch
	dirs := make([]string, 2)
	for i := range 2 {
		plan.Shard = i
		var lines []Epoch
		for k, s := range Shard(grid, i, 2) {
			lines = append(lines, epochs(s, 9000+k, 9100+k)...)
		}
		all = append(all, lines...)
		dirs[i] = filepath.Join(root, "shard", string(rune('0'+i)))
		writeShard(t, dirs[i], plan, lines)
	}
	m, err := Merge(dirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Missing)+len(m.Incomplete)+len(m.Duplicated) != 0 || len(m.Rows) != len(grid) {
		t.Fatalf("merged: %+v", m)
	}
	var merged, whole bytes.Buffer
	WriteTable(&merged, m.Rows)
	WriteTable(&whole, Summarize(all))
	if merged.String() != whole.String() {
		t.Errorf("merged table\n%s\nwant the unsharded one\n%s", merged.String(), whole.String())
	}

	// One shard alone: the other's settings are missing. The same shard
	// twice: duplicated. A shard cut short: incomplete.
	if m, err = Merge(dirs[:1]); err != nil || len(m.Missing) != len(Shard(grid, 1, 2)) {
		t.Errorf("one shard: %v missing, %v", len(m.Missing), err)
	}
	cp := filepath.Join(root, "copy")
	plan.Shard = 0
	writeShard(t, cp, plan, all[:2])
	if m, err = Merge([]string{dirs[0], cp}); err != nil || len(m.Duplicated) != 1 || !strings.Contains(m.Duplicated[0], cp) {
		t.Errorf("duplicated: %v, %v", m.Duplicated, err)
	}
	cut := filepath.Join(root, "cut")
	plan.Shard = 1
	writeShard(t, cut, plan, all[len(all)-1:])
	if m, err = Merge([]string{dirs[0], cut}); err != nil || len(m.Incomplete) != 1 {
		t.Errorf("incomplete: %v, %v", m.Incomplete, err)
	}

	// Folders of other sweeps, and files that are no sweep's.
	other := plan
	other.Epochs = 3
	od := filepath.Join(root, "other")
	writeShard(t, od, other, nil)
	if _, err := Merge([]string{dirs[0], od}); err == nil || !strings.Contains(err.Error(), "not shards of one sweep: 2 epochs against 3") {
		t.Errorf("other sweep: %v", err)
	}
	if _, err := Merge([]string{root}); err == nil || !strings.Contains(err.Error(), PlanFile) {
		t.Errorf("no plan: %v", err)
	}
	bad := filepath.Join(root, "bad")
	writeShard(t, bad, plan, nil)
	os.WriteFile(filepath.Join(bad, ResultsFile), []byte(`{"epoch": 0}`+"\n"+`{"epok": 1}`+"\n"), 0o644)
	if _, err := Merge([]string{bad}); err == nil || !strings.Contains(err.Error(), ResultsFile+":2") {
		t.Errorf("bad line: %v", err)
	}
}
