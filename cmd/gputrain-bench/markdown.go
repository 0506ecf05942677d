package main

import (
	"cmp"
	"errors"
	"fmt"
	"github.com/gputrain/gputrain/internal/safefile"
	"io"
	"io/fs"
	"os"
	"strings"
)

// replaceSection returns doc with the text between section name's markers,
// <!-- bench:NAME --> and <!-- /bench:NAME -->, replaced by body. A
// document without the section gets it appended, so a fresh BENCHMARKS.md
// fills up section by section; a marker without its partner, or out of
// order, is an error rather than a guess that could swallow hand-written
// prose.
func replaceSection(doc, name, body string) (string, error) {
	begin, end := "<!-- bench:"+name+" -->", "<!-- /bench:"+name+" -->"
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	body = strings.Trim(body, "\n")
	switch {
	case i < 0 && j < 0:
		return strings.TrimLeft(strings.TrimRight(doc, "\n")+"\n\n", "\n") + begin + "\n" + body + "\n" + end + "\n", nil
	case i < 0 || j < 0:
		return "", fmt.Errorf("section %q has only one of its markers %s and %s", name, begin, end)
	case j < i:
		return "", fmt.Errorf("section %q: %s comes before %s", name, end, begin)
	case strings.Count(doc, begin) > 1 || strings.Count(doc, end) > 1:
		return "", fmt.Errorf("section %q: its markers appear more than once", name)
	}
	return doc[:i+len(begin)] + "\n" + body + "\n" + doc[j:], nil
}

// updateSection rewrites one section of the markdown file at path,
// creating the file if it does not exist. The write goes through a
// temporary file and a rename so that an interrupted run leaves the old
// file whole.
func updateSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	doc, err := replaceSection(cmp.Or(string(old), "# Benchmarks\n"), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return safefile.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, doc)
		return err
	})
}

// table renders a markdown table; align holds one of 'l' or 'r' per column.
func table(header []string, align string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		b.WriteString(map[bool]string{false: " --- |", true: " ---: |"}[i < len(align) && align[i] == 'r'])
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
