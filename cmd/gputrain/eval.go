package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gputrain/gputrain/cmd/internal/cli"
	"github.com/gputrain/gputrain/cmd/internal/memlimit"
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/mnist"
)

// splits are the sets eval and show read, by --split name.
var splits = []string{"test", "validation", "training"}

func checkSplit(name string) error {
	for _, s := range splits {
		if s == name {
			return nil
		}
	}
	return cli.Usagef("--split %q: want %s", name, strings.Join(splits, ", "))
}

// splitSet returns the named set of d (checked by checkSplit).
func splitSet(d *mnist.Data, name string) *mnist.Set {
	switch name {
	case "validation":
		return d.Validation
	case "training":
		return d.Training
	}
	return d.Test
}

// evaluation is eval's result; it is also its --json output.
type evaluation struct {
	Model    string      `json:"model"`
	Split    string      `json:"split"`
	Correct  int         `json:"correct"`
	Total    int         `json:"total"`
	Accuracy float64     `json:"accuracy"`
	Matrix   [10][10]int `json:"confusion"` // [true digit][predicted digit]
	// An ensemble's members, each alone.
	Members []memberResult `json:"members,omitempty"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags("gputrain eval")
	model := fs.String("model", "", modelFlagHelp)
	combine := fs.String("combine", "vote", combineFlagHelp)
	split := fs.String("split", "test", "the images to evaluate on: "+strings.Join(splits, ", "))
	data := fs.String("data", defaultData, "directory of the MNIST files (fetched there when missing), or the book's mnist.pkl.gz")
	dtype := fs.String("dtype", "float32", "float32 or float64: the precision to compute in")
	device := fs.String("device", "cpu", deviceFlagHelp)
	asJSON := fs.Bool("json", false, "print one JSON object: counts, accuracy and confusion matrix")
	maxMemory := fs.String("max-memory", "", "refuse a model needing more memory than this (4GiB, 500MB; default: what the machine has available)")
	anyData := fs.Bool("allow-noncanonical", false, "read MNIST files that are not the canonical ones (a dataset of your own)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *model == "" {
		return cli.Usagef("--model is required: a model file written by gputrain train --save")
	}
	if err := checkSplit(*split); err != nil {
		return err
	}
	if *data == "" {
		return cli.Usagef("--data is empty: name the folder of the MNIST files")
	}
	dt, err := graph.ParseDtype(*dtype)
	if err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	if err := checkDevice(*device); err != nil {
		return err
	}
	limit, err := memlimit.Get(*maxMemory)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	ms, err := loadModels(*model, *combine, limit)
	if err != nil {
		return err
	}
	ms.device = *device
	d, err := mnist.EnsureWith(*data, stderr, dataOptions(*anyData, limit))
	if err != nil {
		return err
	}
	if err := checkDeviceData(*device, d, "evaluate on"); err != nil {
		return err
	}
	set := splitSet(d, *split)
	if set.Len() == 0 {
		return fmt.Errorf("the %s set of %s has no images: nothing to evaluate", *split, *data)
	}
	members, pred, err := ms.digits(set, dt)
	if err != nil {
		return err
	}
	e := evaluation{Model: ms.name(), Split: *split, Total: set.Len(), Members: ms.memberResults(members, set.Labels)}
	for i, p := range pred {
		e.Matrix[set.Labels[i]][p]++
		if p == set.Labels[i] {
			e.Correct++
		}
	}
	if e.Total > 0 {
		e.Accuracy = float64(e.Correct) / float64(e.Total)
	}
	if *asJSON {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", line)
		return nil
	}
	printEvaluation(stdout, e)
	return nil
}

// printEvaluation writes the accuracy and the confusion matrix with a row
// and a column of headers, a total and the accuracy per true digit.
func printEvaluation(w io.Writer, e evaluation) {
	for k, m := range e.Members {
		fmt.Fprintf(w, "member %d, %s: %d / %d correct (%.2f%%)\n", k+1, m.Model, m.Correct, e.Total, 100*m.Accuracy)
	}
	fmt.Fprintf(w, "%s on the %s set: %d / %d correct (%.2f%%)\n\n", e.Model, e.Split, e.Correct, e.Total, 100*e.Accuracy)
	fmt.Fprintf(w, "confusion matrix: one row per true digit, one column per predicted digit\n")
	fmt.Fprintf(w, "%10s", "true\\pred")
	for p := range 10 {
		fmt.Fprintf(w, "%6d", p)
	}
	fmt.Fprintf(w, "%8s%9s\n", "total", "correct")
	var cols [10]int
	for t := range 10 {
		fmt.Fprintf(w, "%10d", t)
		total := 0
		for p := range 10 {
			fmt.Fprintf(w, "%6d", e.Matrix[t][p])
			total += e.Matrix[t][p]
			cols[p] += e.Matrix[t][p]
		}
		acc := "-"
		if total > 0 {
			acc = fmt.Sprintf("%.1f%%", 100*float64(e.Matrix[t][t])/float64(total))
		}
		fmt.Fprintf(w, "%8d%9s\n", total, acc)
	}
	fmt.Fprintf(w, "%10s", "total")
	for p := range 10 {
		fmt.Fprintf(w, "%6d", cols[p])
	}
	fmt.Fprintf(w, "%8d\n", e.Total)
}
