package layer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is a layer blob's compression.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "uncompressed"
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress detects the compression of r by its magic bytes and returns
// the uncompressed stream (klauspost/compress's gzip and zstd, faster than
// the standard library's). Gzip is decoded on a goroutine of its own,
// ahead of the reader, so that inflating (one CPU) overlaps with whatever
// consumes the stream (writing files or an image) on another.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, Uncompressed, fmt.Errorf("read layer header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, Gzip, fmt.Errorf("open gzip layer: %w", err)
		}
		return readAhead(zr), Gzip, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, Zstd, fmt.Errorf("open zstd layer: %w", err)
		}
		return zr.IOReadCloser(), Zstd, nil
	}
	return io.NopCloser(br), Uncompressed, nil
}

// readAhead reads r on a goroutine into a few 1 MiB buffers ahead of the
// caller.
func readAhead(r io.ReadCloser) io.ReadCloser {
	ra := &aheadReader{r: r, ch: make(chan chunk, 8), done: make(chan struct{})}
	go ra.fill()
	return ra
}

type chunk struct {
	b   []byte
	err error
}

type aheadReader struct {
	r    io.ReadCloser
	ch   chan chunk
	done chan struct{}
	cur  []byte
	err  error
	once sync.Once
}

func (a *aheadReader) fill() {
	defer close(a.ch)
	for {
		b := make([]byte, 1<<20)
		n, err := io.ReadFull(a.r, b)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case a.ch <- chunk{b[:n], err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		c, ok := <-a.ch
		if !ok {
			if a.err == nil {
				a.err = io.ErrClosedPipe
			}
			return 0, a.err
		}
		a.cur, a.err = c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

func (a *aheadReader) Close() error {
	a.once.Do(func() { close(a.done) })
	for range a.ch { // let fill return before closing its reader
	}
	return a.r.Close()
}
