// Package logs reads the container log files the shim writes: Docker's
// json-file and CRI's k8s-file, rotated as path.N-1 ... path.1, path.
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// ReadOptions select and shape the entries.
type ReadOptions struct {
	Follow     bool      // keep reading new entries until Done says so
	Tail       int       // only the last Tail lines; < 0 all (0: none)
	Since      time.Time // entries at or after (zero: no bound)
	Until      time.Time // entries before (zero: no bound)
	Timestamps bool      // prefix each line with its RFC3339Nano time and a space
	// Done reports that the container has exited: Follow then returns
	// once the file is drained. nil: follow until ctx ends.
	Done func() bool
}

// Entry is one log record: a line, or a piece of one (Partial).
type Entry struct {
	Time    time.Time
	Stream  string // stdout or stderr
	Data    []byte // without the trailing newline
	Partial bool
}

// Read copies the entries of the log at path (driver json-file or
// k8s-file) to stdout and stderr, oldest rotated file first. A partial
// entry is written without newline (the next piece continues the line).
// Tail < 0 means all lines, else the last Tail lines (0: none, then
// follow); the pieces of a long line count as one.
func Read(ctx context.Context, path, driver string, o ReadOptions, stdout, stderr io.Writer) error {
	parse, err := parser(driver)
	if err != nil {
		return err
	}
	w := &writer{o: o, stdout: stdout, stderr: stderr}
	var tail []Entry
	lines := 0
	keepTail := o.Tail >= 0
	emit := func(e Entry) error {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return nil
		}
		if !o.Until.IsZero() && !e.Time.Before(o.Until) {
			return nil
		}
		if keepTail {
			if o.Tail == 0 {
				return nil
			}
			// Tail counts lines: the pieces of a long line go together.
			tail = append(tail, e)
			if !e.Partial {
				lines++
			}
			for lines > o.Tail {
				i := 0
				for i < len(tail) && tail[i].Partial {
					i++
				}
				tail = tail[i+1:]
				lines--
			}
			return nil
		}
		return w.write(e)
	}
	var cur *lineReader
	defer func() { cur.close() }()
	files := rotated(path)
	for i, f := range files {
		lr, err := openLines(f, parse, emit)
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return err
		}
		if err := lr.read(); err != nil {
			lr.close()
			return err
		}
		if i == len(files)-1 && o.Follow {
			cur = lr
		} else {
			lr.close()
		}
	}
	keepTail = false
	for _, e := range tail {
		if err := w.write(e); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	for cur == nil {
		// No file yet: wait for it.
		lr, err := openLines(path, parse, emit)
		if err == nil {
			cur = lr
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if o.Done != nil && o.Done() {
			return nil
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
	for {
		// Done is asked before draining so that nothing written before
		// the exit is missed.
		done := o.Done != nil && o.Done()
		if err := cur.read(); err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err == nil && !os.SameFile(fi, cur.fi) {
			// Rotated: finish the old file (the writer may have added
			// to it after our read, before the rename) and go on with
			// the new one from its start.
			if lr, err := openLines(path, parse, emit); err == nil {
				if err := cur.read(); err != nil {
					lr.close()
					return err
				}
				// Several rotations since the last look: the files
				// between ours (now path.K) and path are newer; read them.
				if err := readNewer(path, cur.fi, parse, emit); err != nil {
					lr.close()
					return err
				}
				cur.close()
				cur = lr
				continue
			}
		} else if err == nil && cur.off > fi.Size() {
			// Truncated in place (one file with max-size): start over.
			cur.f.Seek(0, io.SeekStart)
			cur.off, cur.pend = 0, cur.pend[:0]
			continue
		}
		if done {
			return nil
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context) error {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rotated lists path.N ... path.1, path (oldest first).
func rotated(path string) []string {
	var old []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Lstat(p); err != nil {
			break
		}
		old = append(old, p)
	}
	out := make([]string, 0, len(old)+1)
	for i := len(old) - 1; i >= 0; i-- {
		out = append(out, old[i])
	}
	return append(out, path)
}

// readNewer reads path.K-1 ... path.1 where path.K is the file fi.
func readNewer(path string, fi os.FileInfo, parse func([]byte) (Entry, error), emit func(Entry) error) error {
	files := rotated(path)
	files = files[:len(files)-1] // oldest first, without path
	for i, f := range files {
		if st, err := os.Stat(f); err != nil || !os.SameFile(st, fi) {
			continue
		}
		for _, g := range files[i+1:] {
			lr, err := openLines(g, parse, emit)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			err = lr.read()
			lr.close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

// lineReader parses the complete lines of a file that is being written;
// an unfinished last line waits in pend for the next read.
type lineReader struct {
	f     *os.File
	fi    os.FileInfo
	off   int64
	pend  []byte
	chunk []byte
	parse func([]byte) (Entry, error)
	emit  func(Entry) error
}

// maxLine bounds a line without newline (the shim writes at most ~100 kB).
const maxLine = 4 << 20

func openLines(name string, parse func([]byte) (Entry, error), emit func(Entry) error) (*lineReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat log %s: %w", name, err)
	}
	return &lineReader{f: f, fi: fi, chunk: make([]byte, 64*1024), parse: parse, emit: emit}, nil
}

func (l *lineReader) close() {
	if l != nil {
		l.f.Close()
	}
}

func (l *lineReader) read() error {
	for {
		n, err := l.f.Read(l.chunk)
		l.off += int64(n)
		data := l.chunk[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if len(l.pend)+len(data) <= maxLine {
					l.pend = append(l.pend, data...)
				}
				break
			}
			line := data[:i]
			if len(l.pend) > 0 {
				line = append(l.pend, line...)
				l.pend = l.pend[:0]
			}
			data = data[i+1:]
			e, perr := l.parse(line)
			if perr != nil {
				continue // a torn or foreign line: skip it
			}
			if err := l.emit(e); err != nil {
				return err
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log %s: %w", l.f.Name(), err)
		}
	}
}

func parser(driver string) (func([]byte) (Entry, error), error) {
	switch driver {
	case "", "json-file":
		return parseJSON, nil
	case "k8s-file":
		return parseK8s, nil
	case "none":
		return nil, fmt.Errorf("read logs: log driver none keeps no logs")
	}
	return nil, fmt.Errorf("read logs: unknown log driver %q", driver)
}

func parseJSON(b []byte) (Entry, error) {
	var j struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Entry{}, err
	}
	e := Entry{Time: j.Time, Stream: j.Stream, Data: []byte(j.Log)}
	if n := len(e.Data); n > 0 && e.Data[n-1] == '\n' {
		e.Data = e.Data[:n-1]
	} else {
		e.Partial = true
	}
	return e, nil
}

// parseK8s reads "TIME STREAM F|P text".
func parseK8s(b []byte) (Entry, error) {
	var f [3][]byte
	rest := b
	for i := range f {
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			if i == 2 { // empty text may lack the space
				f[i], rest = rest, nil
				break
			}
			return Entry{}, fmt.Errorf("bad k8s-file line %q", b)
		}
		f[i], rest = rest[:sp], rest[sp+1:]
	}
	t, err := time.Parse(time.RFC3339Nano, string(f[0]))
	if err != nil {
		return Entry{}, err
	}
	return Entry{Time: t, Stream: string(f[1]), Data: append([]byte(nil), rest...), Partial: string(f[2]) == "P"}, nil
}

type writer struct {
	o              ReadOptions
	stdout, stderr io.Writer
	midLine        map[string]bool // stream is in the middle of a partial line
}

func (w *writer) write(e Entry) error {
	out := w.stdout
	if e.Stream == "stderr" {
		out = w.stderr
	}
	if out == nil {
		return nil
	}
	if w.midLine == nil {
		w.midLine = map[string]bool{}
	}
	var b []byte
	if w.o.Timestamps && !w.midLine[e.Stream] {
		b = append(b, e.Time.UTC().Format(time.RFC3339Nano)...)
		b = append(b, ' ')
	}
	b = append(b, e.Data...)
	if !e.Partial {
		b = append(b, '\n')
	}
	w.midLine[e.Stream] = e.Partial
	if _, err := out.Write(b); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return err
		}
		return fmt.Errorf("write logs: %w", err)
	}
	return nil
}
