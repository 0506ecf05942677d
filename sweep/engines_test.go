package sweep

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// indexedJob is the part of Kubernetes' batch/v1 Job that the example
// uses, decoded strictly: a field the API does not have there (a typo)
// fails the test. The rules checked below are the API's own validation
// rules for these fields (kubernetes.io/docs/concepts/workloads/controllers/job/).
type indexedJob struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode       string `yaml:"completionMode"`
		Completions          *int   `yaml:"completions"`
		Parallelism          *int   `yaml:"parallelism"`
		BackoffLimitPerIndex *int   `yaml:"backoffLimitPerIndex"`
		Template             struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Name      string   `yaml:"name"`
					Image     string   `yaml:"image"`
					Args      []string `yaml:"args"`
					Resources struct {
						Limits map[string]any `yaml:"limits"`
					} `yaml:"resources"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name                  string `yaml:"name"`
					PersistentVolumeClaim struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// flagValues returns every value given to flag in args.
func flagValues(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestKubernetesExampleIsAnIndexedJob(t *testing.T) {
	data, err := os.ReadFile("../docs/sweep/kubernetes-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job indexedJob
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&job); err != nil {
		t.Fatalf("kubernetes-job.yaml: %v", err)
	}
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job":
		t.Errorf("%s %s, want batch/v1 Job", job.APIVersion, job.Kind)
	case !dnsLabel.MatchString(job.Metadata.Name):
		t.Errorf("name %q is not a DNS label", job.Metadata.Name)
	case s.CompletionMode != "Indexed":
		t.Errorf("completionMode %q, want Indexed", s.CompletionMode)
	case s.Completions == nil || *s.Completions < 1:
		t.Error("an Indexed Job needs completions ≥ 1")
	case s.Parallelism != nil && *s.Parallelism < 0:
		t.Error("parallelism < 0")
	case s.BackoffLimitPerIndex != nil && *s.BackoffLimitPerIndex < 0:
		t.Error("backoffLimitPerIndex < 0")
	case s.Template.Spec.RestartPolicy != "Never" && s.Template.Spec.RestartPolicy != "OnFailure":
		t.Errorf("a Job's pods need restartPolicy Never or OnFailure, have %q", s.Template.Spec.RestartPolicy)
	case len(s.Template.Spec.Containers) != 1:
		t.Fatalf("%d containers, want the one sweep", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	if c.Name == "" || c.Image == "" || c.Args[0] != "sweep" {
		t.Errorf("container %q image %q args %v", c.Name, c.Image, c.Args)
	}
	if gpus := c.Resources.Limits["nvidia.com/gpu"]; gpus != 1 {
		t.Errorf("nvidia.com/gpu limit %v, want 1 per shard", gpus)
	}
	if got := flagValues(c.Args, "--shards"); len(got) != 1 || got[0] != strconv.Itoa(*s.Completions) {
		t.Errorf("--shards %v, want the Job's completions %d", got, *s.Completions)
	}
	volumes := map[string]bool{}
	for _, v := range s.Template.Spec.Volumes {
		volumes[v.Name] = v.PersistentVolumeClaim.ClaimName != ""
	}
	for _, out := range append(flagValues(c.Args, "--out"), flagValues(c.Args, "--save-dir")...) {
		mounted := false
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("volumeMount %q names no volume with a claim", m.Name)
			}
			mounted = mounted || strings.HasPrefix(out, m.MountPath+"/")
		}
		if !mounted {
			t.Errorf("%s is on no mounted volume: the results would die with the pod", out)
		}
	}
	if out := flagValues(c.Args, "--out"); len(out) != 1 || !strings.Contains(out[0], "$(JOB_COMPLETION_INDEX)") {
		t.Errorf("--out %v: each shard needs a folder of its own", out)
	}
	checkGrid(t, c.Args)
}

// checkGrid parses the sweep's lists in args as the command does and
// requires a grid that splits into every shard.
func checkGrid(t *testing.T, args []string) {
	t.Helper()
	var a Axes
	for _, v := range flagValues(args, "--sizes") {
		sizes, err := parseSizes(v)
		if err != nil {
			t.Fatal(err)
		}
		a.Sizes = append(a.Sizes, sizes)
	}
	var err error
	if v := flagValues(args, "--eta"); len(v) == 1 {
		a.Eta, err = ParseFloats(v[0])
	}
	if v := flagValues(args, "--lambda"); len(v) == 1 && err == nil {
		a.Lambda, err = ParseFloats(v[0])
	}
	if v := flagValues(args, "--seed"); len(v) == 1 && err == nil {
		a.Seed, err = ParseUints(v[0], 1000)
	}
	a.Cost = flagValues(args, "--cost")
	if err != nil {
		t.Fatal(err)
	}
	grid, err := a.Grid()
	if err != nil {
		t.Fatal(err)
	}
	if len(grid) != 48 {
		t.Errorf("the example's grid has %d networks; its comment says 48", len(grid))
	}
}

func TestSlurmExampleIsAnArray(t *testing.T) {
	const path = "../docs/sweep/slurm-array.sh"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v: %s", err, out)
	}
	text := string(data)
	m := regexp.MustCompile(`(?m)^#SBATCH --array=(\d+)-(\d+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("no #SBATCH --array=A-B line")
	}
	if !regexp.MustCompile(`(?m)^#SBATCH --gres=gpu:1$`).MatchString(text) {
		t.Error("no GPU per task (#SBATCH --gres=gpu:1)")
	}
	// #SBATCH lines count only before the first command.
	first := regexp.MustCompile(`(?m)^[^#\n]`).FindStringIndex(text)
	if last := strings.LastIndex(text, "#SBATCH"); first == nil || last > first[0] {
		t.Error("an #SBATCH line after the first command is ignored by sbatch")
	}
	cmd := regexp.MustCompile(`(?s)exec gputrain (sweep .*)`).FindStringSubmatch(text)
	if cmd == nil {
		t.Fatal("no gputrain sweep command")
	}
	args := strings.Fields(strings.ReplaceAll(cmd[1], "\\\n", " "))
	if slices.Contains(args, "--shards") {
		t.Error("--shards is not needed: Slurm says the array's size")
	}
	if out := flagValues(args, "--out"); len(out) != 1 || !strings.Contains(out[0], "${SLURM_ARRAY_TASK_ID}") {
		t.Errorf("--out %v: each task needs a folder of its own", out)
	}
	checkGrid(t, args)
}
