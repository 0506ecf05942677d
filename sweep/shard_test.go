package sweep

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func testGrid(t *testing.T) []Setting {
	t.Helper()
	grid, err := Axes{
		Sizes: [][]int{{784, 30, 10}, {784, 100, 10}, {784, 1000, 10}},
		Eta:   []float64{0.1, 1, 3},
		Seed:  []uint64{1, 2, 3, 4, 5},
	}.Grid()
	if err != nil {
		t.Fatal(err)
	}
	return grid
}

func TestShardsPartitionTheGrid(t *testing.T) {
	grid := testGrid(t)
	var maxWork float64
	for _, s := range grid {
		maxWork = max(maxWork, s.Work())
	}
	for _, n := range []int{1, 2, 3, 4, 7, 45, 60} {
		owner := map[string]int{}
		var loads []float64
		for i := range n {
			part := Shard(grid, i, n)
			if !slices.Equal(namesOf(part), namesOf(Shard(grid, i, n))) {
				t.Fatalf("n=%d: shard %d differs between calls", n, i)
			}
			load := 0.0
			last := -1
			for _, s := range part {
				if o, ok := owner[s.Name()]; ok {
					t.Fatalf("n=%d: %s in shards %d and %d", n, s.Name(), o, i)
				}
				owner[s.Name()] = i
				load += s.Work()
				k := slices.IndexFunc(grid, func(g Setting) bool { return g.Name() == s.Name() })
				if k <= last {
					t.Fatalf("n=%d: shard %d is not in the grid's order", n, i)
				}
				last = k
			}
			loads = append(loads, load)
		}
		if len(owner) != len(grid) {
			t.Fatalf("n=%d: the shards hold %d of %d settings", n, len(owner), len(grid))
		}
		if spread := slices.Max(loads) - slices.Min(loads); spread > maxWork {
			t.Errorf("n=%d: loads %v differ by %g, more than one setting's %g", n, loads, spread, maxWork)
		}
	}
}

func namesOf(ss []Setting) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]string{"0/4": "", "3/4": "", "4/4": "shard 4 of 4: want 0 to 3", "-1/4": "shard -1", "0/0": "0 shards", "1": "want I/N", "a/b": "want I/N"} {
		i, n, err := ParseShard(in)
		if want == "" {
			if err != nil || fmt.Sprintf("%d/%d", i, n) != in {
				t.Errorf("%q: %d/%d, %v", in, i, n, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--shard") {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env          map[string]string
		shards       int
		i, n         int
		engine, fail string
	}{
		{env: map[string]string{"JOB_COMPLETION_INDEX": "2"}, shards: 4, i: 2, n: 4, engine: "Kubernetes"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, shards: 1, i: 0, n: 1, engine: "Kubernetes"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "2"}, fail: "--shards is not"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "4"}, shards: 4, fail: "shard 4 of 4"},
		{env: map[string]string{"JOB_COMPLETION_INDEX": "x"}, shards: 4, fail: `JOB_COMPLETION_INDEX="x"`},
		// sbatch --array=10-13: IDs 10..13, MIN 10, COUNT 4.
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}, i: 2, n: 4, engine: "Slurm"},
		// --shards wins over the array's count.
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, shards: 2, i: 1, n: 2, engine: "Slurm"},
		// --array=0-6:2: IDs 0, 2, 4, 6.
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, i: 2, n: 4, engine: "Slurm"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, fail: "not on the array's step"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "3"}, fail: "--shards is not given"},
		{env: map[string]string{"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, fail: "shard 5 of 4"},
		{env: map[string]string{}, shards: 4, fail: "no shard index in the environment"},
	} {
		i, n, engine, err := FromEnv(func(k string) string { return tc.env[k] }, tc.shards)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("%v: %d/%d, %v; want error %q", tc.env, i, n, err, tc.fail)
			}
			continue
		}
		if err != nil || i != tc.i || n != tc.n || !strings.Contains(engine, tc.engine) {
			t.Errorf("%v: %d/%d %q, %v; want %d/%d %s", tc.env, i, n, engine, err, tc.i, tc.n, tc.engine)
		}
	}
}
