package sweep

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard returns the settings of the i-th (from 0) of n disjoint parts of
// grid, in the grid's order. The parts together are the grid; they are
// the same on every machine for the same grid and n, and balanced by
// work: settings are dealt, costliest first, each to the part with the
// least work so far (ties to the lower part), so no part carries more
// than the lightest part plus one setting's work.
func Shard(grid []Setting, i, n int) []Setting {
	order := make([]int, len(grid))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(grid[b].Work(), grid[a].Work()) })
	load := make([]float64, n)
	owner := make([]int, len(grid))
	for _, k := range order {
		least := 0
		for p := 1; p < n; p++ {
			if load[p] < load[least] {
				least = p
			}
		}
		owner[k] = least
		load[least] += grid[k].Work()
	}
	var part []Setting
	for k, s := range grid {
		if owner[k] == i {
			part = append(part, s)
		}
	}
	return part
}

// ParseShard reads --shard's "I/N": part I (from 0) of N.
func ParseShard(v string) (i, n int, err error) {
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--shard %q: want I/N, part I (from 0) of N, such as 0/4", v)
	}
	return i, n, checkShard(i, n, "--shard "+v)
}

func checkShard(i, n int, what string) error {
	if n < 1 {
		return fmt.Errorf("%s: %d shards: want at least 1", what, n)
	}
	if i < 0 || i >= n {
		return fmt.Errorf("%s: shard %d of %d: want 0 to %d", what, i, n, n-1)
	}
	return nil
}

// The variables the engines set in each task.
const (
	// A Kubernetes Indexed Job's pod: its index, from 0. The pod cannot
	// see the Job's completions, so the count comes from --shards.
	EnvKubernetesIndex = "JOB_COMPLETION_INDEX"
	// A Slurm job array's task: its ID, the array's lowest ID, its step
	// (--array=0-15:2) and its number of tasks.
	EnvSlurmID    = "SLURM_ARRAY_TASK_ID"
	EnvSlurmMin   = "SLURM_ARRAY_TASK_MIN"
	EnvSlurmStep  = "SLURM_ARRAY_TASK_STEP"
	EnvSlurmCount = "SLURM_ARRAY_TASK_COUNT"
)

// FromEnv finds this task's shard in the engine's environment: a
// Kubernetes Indexed Job's JOB_COMPLETION_INDEX with n from shards, or a
// Slurm array task's (ID − MIN)/STEP with n from shards or, when shards
// is 0, SLURM_ARRAY_TASK_COUNT. It names the engine it read.
func FromEnv(getenv func(string) string, shards int) (i, n int, engine string, err error) {
	num := func(name string) (int, error) {
		v, err := strconv.Atoi(getenv(name))
		if err != nil {
			return 0, fmt.Errorf("%s=%q: not a whole number", name, getenv(name))
		}
		return v, nil
	}
	switch {
	case getenv(EnvKubernetesIndex) != "":
		engine = "Kubernetes Indexed Job (" + EnvKubernetesIndex + ")"
		if shards < 1 {
			return 0, 0, engine, fmt.Errorf("%s is set but --shards is not: a pod cannot see its Job's completions; pass --shards with the Job's spec.completions", EnvKubernetesIndex)
		}
		if i, err = num(EnvKubernetesIndex); err != nil {
			return 0, 0, engine, err
		}
		n = shards
	case getenv(EnvSlurmID) != "":
		engine = "Slurm job array (" + EnvSlurmID + ")"
		id, err := num(EnvSlurmID)
		if err != nil {
			return 0, 0, engine, err
		}
		lo, step := 0, 1
		if getenv(EnvSlurmMin) != "" {
			if lo, err = num(EnvSlurmMin); err != nil {
				return 0, 0, engine, err
			}
		}
		if getenv(EnvSlurmStep) != "" {
			if step, err = num(EnvSlurmStep); err != nil || step < 1 {
				return 0, 0, engine, fmt.Errorf("%s=%q: want a step of at least 1", EnvSlurmStep, getenv(EnvSlurmStep))
			}
		}
		if (id-lo)%step != 0 {
			return 0, 0, engine, fmt.Errorf("%s=%d is not on the array's step %d from %d", EnvSlurmID, id, step, lo)
		}
		i, n = (id-lo)/step, shards
		if n < 1 {
			if n, err = num(EnvSlurmCount); err != nil {
				return 0, 0, engine, fmt.Errorf("--shards is not given and %v", err)
			}
		}
	default:
		return 0, 0, "", fmt.Errorf("--shards %d: no shard index in the environment: want %s (a Kubernetes Indexed Job) or %s (a Slurm job array); or pass --shard I/N", shards, EnvKubernetesIndex, EnvSlurmID)
	}
	return i, n, engine, checkShard(i, n, engine)
}
