package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
)

// aliases are other tools' names for gputrain's flags (PyTorch's and
// Keras' examples, the book's Python): a user typing one gets the flag
// it means suggested.
var aliases = map[string][]string{
	"eta":        {"lr", "learning-rate", "learning_rate", "learningrate", "alpha"},
	"save":       {"save-model", "save_model", "output", "out", "model-path", "checkpoint-path"},
	"batch-size": {"batch_size", "batchsize", "bs", "mini-batch-size", "mini_batch_size"},
	"epochs":     {"num-epochs", "num_epochs", "n-epochs", "n_epochs", "max-epochs", "nb_epoch"},
	"sizes":      {"layers", "hidden", "hidden-size", "hidden_size", "architecture"},
	"seed":       {"random-seed", "random_seed", "manual-seed", "manual_seed"},
	"device":     {"gpu", "cuda", "use-cuda", "use_cuda", "no-cuda"},
	"data":       {"data-dir", "data_dir", "dataset", "datadir"},
	"quiet":      {"silent", "no-progress"},
}

// Hint is " (did you mean --eta?)" when err is the flag package's unknown
// flag error and fs has a flag the unknown one stands for: an alias from
// another tool, the same name with _ for -, or a typo a letter or two
// away. Otherwise it is "".
func Hint(fs *flag.FlagSet, err error) string {
	const prefix = "flag provided but not defined: -"
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		return ""
	}
	name := strings.ToLower(strings.TrimLeft(strings.TrimPrefix(err.Error(), prefix), "-"))
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	for want, names := range aliases {
		for _, a := range names {
			if a == name && fs.Lookup(want) != nil {
				return fmt.Sprintf(" (did you mean --%s?)", want)
			}
		}
	}
	if f := fs.Lookup(strings.ReplaceAll(name, "_", "-")); f != nil {
		return fmt.Sprintf(" (did you mean --%s?)", f.Name)
	}
	best, bestD := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		// A typo of a short name is more often another word.
		if d := editDistance(name, f.Name); d < bestD && d <= len(f.Name)/3 {
			best, bestD = f.Name, d
		}
	})
	if best != "" {
		return fmt.Sprintf(" (did you mean --%s?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// printDefaults writes fs's flags as flag.PrintDefaults does, with two
// dashes, the way the README and every message write them (the flag
// package takes either).
func printDefaults(fs *flag.FlagSet, w io.Writer) {
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if strings.HasPrefix(line, "  -") {
			line = "  --" + line[3:]
		}
		io.WriteString(w, line)
	}
}
