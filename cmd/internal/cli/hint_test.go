package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestHint: other tools' names, underscores and small typos get the flag
// they stand for; anything else gets no guess.
func TestHint(t *testing.T) {
	cases := []struct {
		args []string
		want string // the whole error
	}{
		{[]string{"--lr", "0.1"}, "flag provided but not defined: -lr (did you mean --eta?)"},
		{[]string{"--learning_rate=0.1"}, "flag provided but not defined: -learning_rate (did you mean --eta?)"},
		{[]string{"--save-model", "m.pt"}, "flag provided but not defined: -save-model (did you mean --save?)"},
		{[]string{"--batch_size", "32"}, "flag provided but not defined: -batch_size (did you mean --batch-size?)"},
		{[]string{"-epoch", "3"}, "flag provided but not defined: -epoch (did you mean --epochs?)"},
		{[]string{"--bach-size", "3"}, "flag provided but not defined: -bach-size (did you mean --batch-size?)"},
		{[]string{"--EPOCHS", "3"}, "flag provided but not defined: -EPOCHS (did you mean --epochs?)"},
		{[]string{"--colour"}, "flag provided but not defined: -colour"},
		{[]string{"--et", "1"}, "flag provided but not defined: -et (did you mean --eta?)"},
		{[]string{"--verbose"}, "flag provided but not defined: -verbose"},
		{[]string{"--gpu"}, "flag provided but not defined: -gpu"}, // no --device in this set
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			fs := NewFlags("prog train")
			fs.Float64("eta", 3, "")
			fs.String("save", "", "")
			fs.Int("batch-size", 10, "")
			fs.Int("epochs", 30, "")
			err := Parse(fs, c.args, &bytes.Buffer{})
			if err == nil || err.Error() != c.want || !IsUsage(err) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestHelpTwoDashes: -h lists the flags with two dashes, as the README
// writes them.
func TestHelpTwoDashes(t *testing.T) {
	fs := NewFlags("prog sub")
	fs.Int("batch-size", 10, "mini-batch size")
	fs.Bool("quiet", false, "no progress bar")
	var out bytes.Buffer
	Parse(fs, []string{"-h"}, &out)
	want := "Usage of prog sub:\n  --batch-size int\n    \tmini-batch size (default 10)\n  --quiet\n    \tno progress bar\n"
	if out.String() != want {
		t.Errorf("-h printed\n%q\nwant\n%q", out.String(), want)
	}
}

func TestClosest(t *testing.T) {
	names := []string{"train", "predict", "eval", "show", "data", "version"}
	for _, c := range []struct{ word, want string }{
		{"trian", "train"}, {"predcit", "predict"}, {"versoin", "version"}, {"evl", "eval"}, {"fit", ""}, {"shwo", "show"}, {"help", ""}, {"train", "train"},
	} {
		if got := Closest(c.word, names); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}
