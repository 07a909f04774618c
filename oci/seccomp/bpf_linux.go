package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// insnSize is sizeof(struct sock_filter): u16 code, u8 jt, u8 jf, u32 k.
const insnSize = 8

// nativeOrder is how seccomp_export_bpf writes, and the kernel reads, BPF.
var nativeOrder = binary.NativeEndian

func decodeInsns(raw []byte, order binary.ByteOrder) []unix.SockFilter {
	out := make([]unix.SockFilter, len(raw)/insnSize)
	for i := range out {
		b := raw[i*insnSize:]
		out[i] = unix.SockFilter{Code: order.Uint16(b), Jt: b[2], Jf: b[3], K: order.Uint32(b[4:])}
	}
	return out
}

func encodeInsns(dst []byte, prog []unix.SockFilter, order binary.ByteOrder) []byte {
	var b [insnSize]byte
	for _, in := range prog {
		order.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		order.PutUint32(b[4:], in.K)
		dst = append(dst, b[:]...)
	}
	return dst
}

// checkFilter does the structural checks the kernel's seccomp_check_filter
// would: jumps land inside the program and it ends in a return. It lets a
// damaged program be refused in the parent with a clear error instead of an
// EINVAL in init.
func checkFilter(prog []unix.SockFilter) error {
	n := len(prog)
	if n == 0 || n > maxInsns {
		return fmt.Errorf("program has %d instructions (want 1..%d)", n, maxInsns)
	}
	for i, in := range prog {
		if in.Code&0x07 != unix.BPF_JMP {
			continue
		}
		if in.Code&0xf0 == unix.BPF_JA {
			if uint64(i)+1+uint64(in.K) >= uint64(n) {
				return fmt.Errorf("instruction %d: jump past the end", i)
			}
		} else if i+1+int(in.Jt) >= n || i+1+int(in.Jf) >= n {
			return fmt.Errorf("instruction %d: jump past the end", i)
		}
	}
	if prog[n-1].Code&0x07 != unix.BPF_RET {
		return errors.New("program does not end with a return")
	}
	return nil
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// x32SyscallBit marks x32 syscalls on AUDIT_ARCH_X86_64 (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

var retENOSYS = uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))

// stubArch is one ABI the filter accepts, with the largest syscall number
// the profile names on it.
type stubArch struct {
	audit uint32
	x32   bool // the x32 ABI of AUDIT_ARCH_X86_64
	s390  bool
	max   uint32
}

// enosysStub builds runc's patchbpf idea: a prefix that returns -ENOSYS for
// syscall numbers above the largest one the profile mentions, so that a
// default-deny profile written before a syscall existed (clone3,
// faccessat2, ...) makes libc fall back instead of failing with EPERM. Other
// syscalls fall through to libseccomp's program, which reloads what it needs.
//
//	ld [arch]
//	jeq A1, sec1 ; jeq A2, sec2 ; ... ; ja filter
//	secN: ld [nr] ; (x86_64: jset X32_BIT ...) ; jgt maxN, enosys ; ja filter
//	enosys: ret ERRNO(ENOSYS)
//	filter: <libseccomp program>
func enosysStub(archs []stubArch) ([]unix.SockFilter, error) {
	if len(archs) == 0 {
		return nil, nil
	}
	// Group x86_64 and x32, which share one AUDIT_ARCH value.
	byAudit := map[uint32][]stubArch{}
	var order []uint32
	for _, a := range archs {
		if _, ok := byAudit[a.audit]; !ok {
			order = append(order, a.audit)
		}
		byAudit[a.audit] = append(byAudit[a.audit], a)
	}
	var as asm
	as.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch)
	for _, audit := range order {
		as.jump(unix.BPF_JEQ, audit, sectionLabel(audit), "")
	}
	as.ja("filter")
	for _, audit := range order {
		secs := byAudit[audit]
		as.label(sectionLabel(audit))
		as.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
		if secs[0].s390 {
			// s390 multiplexes syscalls it does not know onto setup(0);
			// answer ENOSYS for it (the real setup(2) is long gone).
			as.jump(unix.BPF_JEQ, 0, "enosys", "")
		}
		var native, x32 *stubArch
		for i := range secs {
			if secs[i].x32 {
				x32 = &secs[i]
			} else {
				native = &secs[i]
			}
		}
		switch {
		case x32 == nil:
			if audit == unix.AUDIT_ARCH_X86_64 {
				// x32 not allowed: leave bit-30 numbers to the filter's
				// bad-arch handling.
				as.jump(unix.BPF_JSET, x32SyscallBit, "filter", "")
			}
			as.jump(unix.BPF_JGT, native.max, "enosys", "")
		case native == nil:
			as.jump(unix.BPF_JSET, x32SyscallBit, "", "filter")
			as.jump(unix.BPF_JGT, x32.max, "enosys", "")
		default:
			l := sectionLabel(audit) + "x32"
			as.jump(unix.BPF_JSET, x32SyscallBit, l, "")
			as.jump(unix.BPF_JGT, native.max, "enosys", "")
			as.ja("filter")
			as.label(l)
			as.jump(unix.BPF_JGT, x32.max, "enosys", "")
		}
		as.ja("filter")
	}
	as.label("enosys")
	as.stmt(unix.BPF_RET|unix.BPF_K, retENOSYS)
	as.label("filter")
	return as.assemble()
}

func sectionLabel(audit uint32) string { return fmt.Sprintf("arch%#x", audit) }

// asm is a tiny BPF assembler with forward labels. Conditional jumps carry
// 8-bit offsets; a target further than 255 instructions is reached through
// an extra `ja`, decided by iterating until the layout is stable.
type asm struct {
	ins    []asmInsn
	labels map[string]int // label -> index in ins (position of the next insn)
}

type asmInsn struct {
	code   uint16
	k      uint32
	jt, jf string // labels; "" means the next instruction
	ja     string // for BPF_JA
	long   bool   // jt needs a trampoline
}

func (a *asm) stmt(code uint16, k uint32) { a.ins = append(a.ins, asmInsn{code: code, k: k}) }
func (a *asm) jump(op uint16, k uint32, jt, jf string) {
	a.ins = append(a.ins, asmInsn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}
func (a *asm) ja(l string) { a.ins = append(a.ins, asmInsn{code: unix.BPF_JMP | unix.BPF_JA, ja: l}) }
func (a *asm) label(l string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[l] = len(a.ins)
}

func (a *asm) assemble() ([]unix.SockFilter, error) {
	for range 16 {
		pos := make([]int, len(a.ins)+1) // pos[i] = address of a.ins[i]
		for i, in := range a.ins {
			pos[i+1] = pos[i] + 1
			if in.long {
				pos[i+1]++
			}
		}
		addr := func(l string) (int, error) {
			i, ok := a.labels[l]
			if !ok {
				return 0, fmt.Errorf("bpf asm: unknown label %q", l)
			}
			return pos[i], nil
		}
		var out []unix.SockFilter
		changed := false
		for i, in := range a.ins {
			here := pos[i]
			switch {
			case in.code == unix.BPF_JMP|unix.BPF_JA:
				t, err := addr(in.ja)
				if err != nil {
					return nil, err
				}
				out = append(out, unix.SockFilter{Code: in.code, K: uint32(t - here - 1)})
			case in.code&0x07 == unix.BPF_JMP:
				next := here + 1
				if in.long {
					next++ // skip the trampoline
				}
				off := func(l string) (int, error) {
					if l == "" {
						return next - here - 1, nil
					}
					t, err := addr(l)
					return t - here - 1, err
				}
				jt, err := off(in.jt)
				if err != nil {
					return nil, err
				}
				jf, err := off(in.jf)
				if err != nil {
					return nil, err
				}
				if jf > 255 {
					return nil, errors.New("bpf asm: false branch too far")
				}
				if in.long {
					// jcond k, 0, 1 ; ja target
					out = append(out, unix.SockFilter{Code: in.code, K: in.k, Jt: 0, Jf: uint8(jf)})
					out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(jt - 1)})
					continue
				}
				if jt > 255 {
					a.ins[i].long = true
					changed = true
				}
				out = append(out, unix.SockFilter{Code: in.code, K: in.k, Jt: uint8(jt), Jf: uint8(jf)})
			default:
				out = append(out, unix.SockFilter{Code: in.code, K: in.k})
			}
		}
		if !changed {
			return slices.Clip(out), nil
		}
	}
	return nil, errors.New("bpf asm: layout did not settle")
}
