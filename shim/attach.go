package shim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// Frame types on the attach socket (the header is Docker's stdcopy one).
const (
	FrameStdin  = 0
	FrameStdout = 1
	FrameStderr = 2
	FrameEOF    = 4 // client → shim: stdin ended
	FrameResize = 5 // client → shim: uint16 rows, uint16 cols (big-endian)
)

// ErrDetached is returned by Attach when the detach keys were typed.
var ErrDetached = errors.New("detached from container")

// DefaultDetachKeys is ctrl-p, ctrl-q.
var DefaultDetachKeys = []byte{16, 17}

// AttachOptions are the streams of an attach.
type AttachOptions struct {
	Stdin  io.Reader // nil: send nothing
	Stdout io.Writer // nil: discard
	Stderr io.Writer // nil: discard (with a tty everything is stdout)
	Tty    bool
	// DetachKeys typed on Stdin end the attach with ErrDetached; nil
	// means DefaultDetachKeys, empty (non-nil) disables detaching.
	DetachKeys []byte
	// CloseStdin closes the container's stdin when Stdin ends, even
	// without StdinOnce.
	CloseStdin bool
	// Connected, if set, is called once the connection is up: output
	// from then on reaches this client (attach, then start).
	Connected func()
}

func dialAttach(dir string) (*net.UnixConn, error) {
	p := filepath.Join(dir, "attach")
	addr := &net.UnixAddr{Name: p, Net: "unix"}
	if len(p) >= 108 {
		// Too long for sun_path: reach it through /proc/self/fd of Dir.
		d, err := os.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", dir, err)
		}
		defer d.Close()
		addr.Name = fmt.Sprintf("/proc/self/fd/%d/attach", d.Fd())
	}
	c, err := net.DialUnix("unix", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", p, err)
	}
	return c, nil
}

func writeFrame(w io.Writer, typ byte, p []byte) error {
	var h [8]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	_, err := w.Write(append(h[:], p...))
	return err
}

// Attach connects to the monitor in dir and copies output to o.Stdout and
// o.Stderr and o.Stdin to the container, until the container has exited
// and its output is drained (nil), the detach keys are typed
// (ErrDetached) or ctx ends. Attaching to a container whose monitor has
// already exited returns nil at once.
func Attach(ctx context.Context, dir string, o AttachOptions) error {
	c, err := dialAttach(dir)
	if err != nil {
		if s, serr := ReadState(dir); serr == nil && s.Status == "exited" &&
			(errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist)) {
			return nil
		}
		return err
	}
	defer c.Close()
	if o.Connected != nil {
		o.Connected()
	}
	keys := o.DetachKeys
	if keys == nil {
		keys = DefaultDetachKeys
	}
	var (
		mu     sync.Mutex
		result error
	)
	finish := func(err error) {
		mu.Lock()
		if result == nil {
			result = err
		}
		mu.Unlock()
		c.Close()
	}
	stop := context.AfterFunc(ctx, func() { finish(ctx.Err()) })
	defer stop()
	if o.Stdin != nil {
		go func() {
			err := copyStdin(c, o.Stdin, keys)
			if err == ErrDetached {
				finish(ErrDetached)
				return
			}
			if err == nil {
				force := []byte{0}
				if o.CloseStdin {
					force[0] = 1
				}
				writeFrame(c, FrameEOF, force)
			}
		}()
	}
	err = copyOutput(c, o)
	mu.Lock()
	defer mu.Unlock()
	if result != nil {
		return result
	}
	return err
}

func copyOutput(c io.Reader, o AttachOptions) error {
	var h [8]byte
	buf := make([]byte, 32*1024)
	for {
		if _, err := io.ReadFull(c, h[:]); err != nil {
			if err == io.EOF || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("attach: read: %w", err)
		}
		n := int(binary.BigEndian.Uint32(h[4:]))
		w := o.Stdout
		if h[0] == FrameStderr && !o.Tty {
			w = o.Stderr
		}
		if w == nil {
			w = io.Discard
		}
		for n > 0 {
			m := min(n, len(buf))
			if _, err := io.ReadFull(c, buf[:m]); err != nil {
				return fmt.Errorf("attach: read: %w", err)
			}
			if _, err := w.Write(buf[:m]); err != nil {
				return fmt.Errorf("attach: write output: %w", err)
			}
			n -= m
		}
	}
}

// copyStdin sends r as stdin frames, watching for the detach sequence;
// nil at EOF of r.
func copyStdin(c io.Writer, r io.Reader, keys []byte) error {
	buf := make([]byte, 32*1024)
	matched := 0 // bytes of keys seen at the end of the stream so far
	for {
		n, err := r.Read(buf)
		if n > 0 {
			var out bytes.Buffer
			for _, b := range buf[:n] {
				if len(keys) > 0 && b == keys[matched] {
					matched++
					if matched == len(keys) {
						if out.Len() > 0 {
							writeFrame(c, FrameStdin, out.Bytes())
						}
						return ErrDetached
					}
					continue
				}
				if matched > 0 {
					out.Write(keys[:matched])
					matched = 0
					if len(keys) > 0 && b == keys[0] {
						matched = 1
						continue
					}
				}
				out.WriteByte(b)
			}
			if out.Len() > 0 {
				if werr := writeFrame(c, FrameStdin, out.Bytes()); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			if matched > 0 {
				writeFrame(c, FrameStdin, keys[:matched])
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Resize sets the container's pty size (forward SIGWINCH with it).
func Resize(dir string, rows, cols uint16) error {
	c, err := dialAttach(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	var p [4]byte
	binary.BigEndian.PutUint16(p[0:], rows)
	binary.BigEndian.PutUint16(p[2:], cols)
	if err := writeFrame(c, FrameResize, p[:]); err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	return nil
}
