package initproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Plan is the init stage's program: the operations stage.c runs in order,
// each with the description an error in it is reported under.
type Plan struct {
	ops  []planOp
	desc []string
	err  error // the first string the stage could not take
}

type planOp struct {
	code int
	ints []int64
	strs []string
}

// add appends an op; desc names what it does in config.json's terms.
func (p *Plan) add(code int, desc string, ints []int64, strs ...string) {
	if len(ints) > maxInts {
		panic(fmt.Sprintf("initproc: op %d with %d ints", code, len(ints)))
	}
	// C reads strings up to their NUL: "/dev\x00x" would be /dev there
	// and not here. Only the seccomp program, the groups and a written
	// value are bytes.
	for i, s := range strs {
		binary := code == opSeccomp || code == opSetUser || code == opWrite && i == 1
		if !binary && p.err == nil && strings.IndexByte(s, 0) >= 0 {
			p.err = fmt.Errorf("%s: %q contains a NUL byte", strings.ReplaceAll(desc, "\x00", `\x00`), s)
		}
	}
	p.ops = append(p.ops, planOp{code, ints, strs})
	p.desc = append(p.desc, desc)
}

// Len is the number of operations.
func (p *Plan) Len() int { return len(p.ops) }

// Ops lists the op codes, for tests.
func (p *Plan) codes() []int {
	out := make([]int, len(p.ops))
	for i, o := range p.ops {
		out[i] = o.code
	}
	return out
}

// ints is shorthand for an op's integer arguments.
func ints(v ...int64) []int64 { return v }

// Encode serializes the plan as stage.h describes.
func (p *Plan) Encode() []byte {
	n := 12
	for _, o := range p.ops {
		n += 8 + 8*len(o.ints)
		for _, s := range o.strs {
			n += 5 + len(s)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, planMagic...)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(p.ops)))
	for _, o := range p.ops {
		b = binary.NativeEndian.AppendUint16(b, uint16(o.code))
		b = binary.NativeEndian.AppendUint16(b, uint16(len(o.ints)))
		b = binary.NativeEndian.AppendUint32(b, uint32(len(o.strs)))
		for _, v := range o.ints {
			b = binary.NativeEndian.AppendUint64(b, uint64(v))
		}
		for _, s := range o.strs {
			b = binary.NativeEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
			b = append(b, 0)
		}
	}
	return b
}

// StageError is a failure the init stage reported: what it was doing (in
// config.json's terms), the step's detail and the errno, if any.
type StageError struct {
	What   string
	Detail string
	Errno  unix.Errno // 0 when the failure is not a system call's
	Code   int        // the stage's code (an errno or one of stage.h's ERR_*)
}

func (e *StageError) Error() string {
	parts := make([]string, 0, 3)
	for _, s := range []string{e.What, e.Detail} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	switch e.Code {
	case errNotInPath:
		parts = append(parts, "executable file not found in $PATH")
	case errNotDirMount:
		parts = append(parts, "must be mounted on a directory")
	case errCwdOutside:
		parts = append(parts, "current working directory is outside the container root")
	default:
		if e.Errno != 0 {
			parts = append(parts, e.Errno.Error())
		}
	}
	return strings.Join(parts, ": ")
}

func (e *StageError) Unwrap() error {
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// Err turns an error message of the stage into an error.
func (p *Plan) Err(m Msg) error {
	if m.Type != MsgError {
		return fmt.Errorf("unexpected message %q from init", m.Type)
	}
	e := &StageError{Detail: m.Error, Code: m.Code}
	if m.Op >= 0 && m.Op < len(p.desc) {
		e.What = p.desc[m.Op]
	}
	if m.Code > 0 && m.Code < errNotInPath {
		e.Errno = unix.Errno(m.Code)
	}
	if m.Code == errPlan {
		// (a berth-init built from other sources than the runtime would
		// read the plan wrong: both come from one make build)
		return fmt.Errorf("init stage: bad plan (op %d): %s (is berth-init beside the runtime from the same build?)", m.Op, m.Error)
	}
	return e
}

// IsNotFound reports whether err is the stage's "executable not found"
// (docker's exit code 127) rather than another exec failure (126).
func IsNotFound(err error) bool {
	var se *StageError
	if errors.As(err, &se) {
		return se.Code == errNotInPath || se.Errno == unix.ENOENT
	}
	return false
}
