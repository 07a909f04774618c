package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ResourceError reports a resource of the spec that could not be applied:
// which spec field, which cgroup file, and why.
type ResourceError struct {
	Field string // spec field under linux.resources, e.g. "memory.limit"
	File  string // cgroup interface file, e.g. "memory.limit_in_bytes"
	Op    string // "write", "read", or "" for a validation failure
	Err   error
}

func (e *ResourceError) Error() string {
	var b strings.Builder
	b.WriteString("cgroup: linux.resources.")
	b.WriteString(e.Field)
	b.WriteString(": ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(" ")
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ResourceError) Unwrap() error { return e.Err }

// ErrNotSupported is wrapped by errors for resources the host's cgroup
// layout cannot apply (controller not mounted or not available).
var ErrNotSupported = errors.New("not supported")

func invalid(field, format string, args ...any) error {
	return &ResourceError{Field: field, Err: fmt.Errorf(format, args...)}
}

func unsupported(field, why string) error {
	return &ResourceError{Field: field, Err: fmt.Errorf("%w: %s", ErrNotSupported, why)}
}

// writeFile writes value to dir/name with a single write(2), as cgroupfs
// expects (O_TRUNC costs nothing there and makes plain test files
// behave). A failure is reported as a ResourceError naming field and file.
func writeFile(dir, name, value, field string) error {
	if err := rawWrite(dir+"/"+name, value); err != nil {
		return &ResourceError{Field: field, File: name, Op: "write", Err: err}
	}
	return nil
}

func rawWrite(path, value string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return err
	}
	_, err = unix.Write(fd, []byte(value))
	for err == unix.EINTR {
		_, err = unix.Write(fd, []byte(value))
	}
	unix.Close(fd)
	return err
}

// readFile reads a small interface file whole.
func readFile(dir, name string) (string, error) {
	path := dir + "/" + name
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var buf [512]byte
	var out []byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		out = append(out, buf[:n]...)
	}
	return string(out), nil
}

// readUint reads a file holding one number; "max" reads as math.MaxUint64
// when maxValue is set, 0 otherwise.
func readUint(dir, name string, maxValue uint64) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	return parseUint(strings.TrimSpace(s), maxValue)
}

func parseUint(s string, maxValue uint64) (uint64, error) {
	if s == "max" {
		return maxValue, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Kernels print -1 for "no limit" in a few v1 files.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

// parseKV parses "key value" lines (memory.stat, cpu.stat, cgroup.events).
func parseKV(s string, fn func(k string, v uint64)) {
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		fn(k, n)
	}
}

func exists(path string) bool {
	return unix.Access(path, unix.F_OK) == nil
}

// mkdirTracked creates dir and any missing parents, appending each dir it
// made to created, in creation order (so a failure can undo exactly that).
func mkdirTracked(dir string, created *[]string) error {
	err := unix.Mkdir(dir, 0o755)
	if err == nil {
		*created = append(*created, dir)
		return nil
	}
	if err == unix.EEXIST {
		return nil
	}
	if err != unix.ENOENT {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	if err := mkdirTracked(parent, created); err != nil {
		return err
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	} else if err == nil {
		*created = append(*created, dir)
	}
	return nil
}
