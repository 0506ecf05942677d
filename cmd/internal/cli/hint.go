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
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if best := Closest(name, names); best != "" {
		return fmt.Sprintf(" (did you mean --%s?)", best)
	}
	return ""
}

// Closest is the one of names that word is most likely a typo of: at most
// two edits away, and no more than a third of the name (a typo of a short
// name is more often another word); "" when none is.
func Closest(word string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(word, n); d < bestD && d <= len(n)/3 {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the number of edits that turn a into b: inserting,
// deleting or changing a letter, or swapping two neighbours (the optimal
// string alignment distance), so that "trian" is one edit from "train".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
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
