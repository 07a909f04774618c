package seccomp

import (
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCompileErrorsNameTheField(t *testing.T) {
	allow := specs.ActAllow
	sc := func(s ...specs.LinuxSyscall) []specs.LinuxSyscall { return s }
	ok := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno}
	cases := []struct {
		name      string
		cfg       *specs.LinuxSeccomp
		field     string
		msgSubstr string
	}{
		{"nil", nil, "linux.seccomp", "no profile"},
		{"missing default", &specs.LinuxSeccomp{}, "linux.seccomp.defaultAction", "missing action"},
		{"unknown default", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction", `"SCMP_ACT_NOPE"`},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "linux.seccomp.defaultAction", "NOTIFY"},
		{"default errno on allow", &specs.LinuxSeccomp{DefaultAction: allow, DefaultErrnoRet: uintp(1)}, "linux.seccomp.defaultErrnoRet", "takes no errno"},
		{"default errno too big", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(5000)}, "linux.seccomp.defaultErrnoRet", "MAX_ERRNO"},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(ok, ok, ok, specs.LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_FOO"})},
			"linux.seccomp.syscalls[3].action", `unknown action "SCMP_ACT_FOO"`},
		{"missing action", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}})},
			"linux.seccomp.syscalls[0].action", "missing action"},
		{"errnoRet on kill", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActKill, ErrnoRet: uintp(1)})},
			"linux.seccomp.syscalls[0].errnoRet", "takes no errno"},
		{"trace data too big", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActTrace, ErrnoRet: uintp(70000)})},
			"linux.seccomp.syscalls[0].errnoRet", "16 bits"},
		{"no names", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(ok, specs.LinuxSyscall{Action: specs.ActErrno})},
			"linux.seccomp.syscalls[1].names", "no syscall names"},
		{"empty name", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read", ""}, Action: specs.ActErrno})},
			"linux.seccomp.syscalls[0].names[1]", "empty syscall name"},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: allow, Architectures: []specs.Arch{"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"}},
			"linux.seccomp.architectures[1]", `unknown architecture "SCMP_ARCH_VAX"`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: allow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NOPE"}},
			"linux.seccomp.flags[1]", `"SECCOMP_FILTER_FLAG_NOPE"`},
		{"metadata without path", &specs.LinuxSeccomp{DefaultAction: allow, ListenerMetadata: "x"},
			"linux.seccomp.listenerMetadata", "without listenerPath"},
		{"notify on write", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read", "write"}, Action: specs.ActNotify})},
			"linux.seccomp.syscalls[0].names", "write"},
		{"bad op", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_ABOUT"}}})},
			"linux.seccomp.syscalls[0].args[1].op", `unknown operator "SCMP_CMP_ABOUT"`},
		{"missing op", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0}}})},
			"linux.seccomp.syscalls[0].args[0].op", "missing operator"},
		{"index > 5", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(ok, specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}})},
			"linux.seccomp.syscalls[1].args[0].index", "argument index 6 > 5"},
		{"valueTwo without masked", &specs.LinuxSeccomp{DefaultAction: allow, Syscalls: sc(specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, ValueTwo: 2, Op: specs.OpEqualTo}}})},
			"linux.seccomp.syscalls[0].args[0].valueTwo", "only used by SCMP_CMP_MASKED_EQ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(c.cfg)
			if err == nil {
				t.Fatalf("Compile succeeded (%d insns), want an error about %s", len(p.Filter), c.field)
			}
			var pe *ProfileError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProfileError", err)
			}
			if pe.Field != c.field || !strings.Contains(err.Error(), c.msgSubstr) || !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q (field %q), want field %q and %q", err, pe.Field, c.field, c.msgSubstr)
			}
		})
	}
}

func TestCompileSkipsUnknownNamesAndRedundantRules(t *testing.T) {
	base := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	with := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "no_such_syscall_berth"}, Action: specs.ActErrno},
			{Names: []string{"read"}, Action: specs.ActAllow}, // same as default: dropped
		}}
	a, b := mustCompile(t, base), mustCompile(t, with)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("unknown name or redundant rule changed the program: %d vs %d insns", len(a.Filter), len(b.Filter))
	}
	// An allow-like default gets no -ENOSYS stub; a deny default does.
	deny := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}}})
	if got := run(t, deny, nativeAudit(t), 1000, 0); got != retENOSYS {
		t.Errorf("deny default, syscall 1000: %#x, want ERRNO(ENOSYS)", got)
	}
	if got := run(t, a, nativeAudit(t), 1000, 0); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("allow default, syscall 1000: %#x, want ALLOW", got)
	}
}

func nativeAudit(t *testing.T) uint32 {
	h, err := host()
	if err != nil {
		t.Fatal(err)
	}
	return h.audit
}

// The -ENOSYS stub on the other ABIs of an amd64 host, checked with a BPF
// interpreter: the kernel only ever runs the native one here.
func TestEnosysStubMultiArch(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("x86 ABIs are only in amd64 filters")
	}
	p := mustCompile(t, dockerProfile())
	const (
		amd64Mkdir = 83
		i386Mkdir  = 39
		x32Mkdir   = 0x40000000 | 83
		amd64Mount = 165
		i386Mount  = 21
	)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | 1)
	for _, c := range []struct {
		name string
		arch uint32
		nr   uint32
		want uint32
		arg0 uint64
	}{
		{"amd64 mkdir", unix.AUDIT_ARCH_X86_64, amd64Mkdir, allow, 0},
		{"amd64 mount", unix.AUDIT_ARCH_X86_64, amd64Mount, eperm, 0},
		{"amd64 beyond profile", unix.AUDIT_ARCH_X86_64, 999, retENOSYS, 0},
		{"amd64 clone3", unix.AUDIT_ARCH_X86_64, 435, retENOSYS, 0},
		{"amd64 personality ok", unix.AUDIT_ARCH_X86_64, 135, allow, 0xffffffff},
		{"amd64 personality bad", unix.AUDIT_ARCH_X86_64, 135, eperm, 4},
		{"i386 mkdir", unix.AUDIT_ARCH_I386, i386Mkdir, allow, 0},
		{"i386 mount", unix.AUDIT_ARCH_I386, i386Mount, eperm, 0},
		{"i386 beyond profile", unix.AUDIT_ARCH_I386, 999, retENOSYS, 0},
		{"x32 mkdir", unix.AUDIT_ARCH_X86_64, x32Mkdir, allow, 0},
		{"x32 beyond profile", unix.AUDIT_ARCH_X86_64, 0x40000000 | 999, retENOSYS, 0},
		{"unknown arch", unix.AUDIT_ARCH_AARCH64, 1, unix.SECCOMP_RET_KILL_THREAD, 0},
	} {
		if got := run(t, p, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}

	// Without x32 in the profile, x32 numbers are left to the filter's
	// bad-arch handling rather than the stub.
	cfg := dockerProfile()
	cfg.Architectures = []specs.Arch{specs.ArchX86_64}
	p = mustCompile(t, cfg)
	if got := run(t, p, unix.AUDIT_ARCH_X86_64, 0x40000000|999, 0); got == retENOSYS || got == unix.SECCOMP_RET_ALLOW {
		t.Errorf("x32 call without x32 in the profile: %#x, want the filter's refusal", got)
	}
}

func TestAsmLongJumps(t *testing.T) {
	var a asm
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr)
	a.jump(unix.BPF_JEQ, 7, "far", "")
	for range 300 {
		a.stmt(unix.BPF_MISC|unix.BPF_TAX, 0)
	}
	a.stmt(unix.BPF_RET|unix.BPF_K, 1)
	a.label("far")
	a.stmt(unix.BPF_RET|unix.BPF_K, 2)
	prog, err := a.assemble()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFilter(prog); err != nil {
		t.Fatal(err)
	}
	p := &Program{Filter: prog}
	if got := run(t, p, 0, 7, 0); got != 2 {
		t.Errorf("nr 7: %d, want 2 (the far label)", got)
	}
	if got := run(t, p, 0, 8, 0); got != 1 {
		t.Errorf("nr 8: %d, want 1 (fall through)", got)
	}
}

// run interprets p for one seccomp_data, as the kernel would.
func run(t *testing.T, p *Program, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.NativeEndian.PutUint32(data[0:], nr)
	binary.NativeEndian.PutUint32(data[4:], arch)
	binary.NativeEndian.PutUint64(data[16:], arg0)
	r, err := interpret(p.Filter, data[:])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func interpret(prog []unix.SockFilter, data []byte) (uint32, error) {
	var A, X uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code & 0x07 {
		case unix.BPF_LD, unix.BPF_LDX:
			var v uint32
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				if int(in.K)+4 > len(data) {
					return 0, errors.New("load out of range")
				}
				v = binary.NativeEndian.Uint32(data[in.K:])
			case unix.BPF_IMM:
				v = in.K
			case unix.BPF_MEM:
				v = mem[in.K&15]
			default:
				return 0, errors.New("unsupported load mode")
			}
			if in.Code&0x07 == unix.BPF_LD {
				A = v
			} else {
				X = v
			}
		case unix.BPF_ST:
			mem[in.K&15] = A
		case unix.BPF_STX:
			mem[in.K&15] = X
		case unix.BPF_ALU:
			v := in.K
			if in.Code&0x08 == unix.BPF_X {
				v = X
			}
			switch in.Code & 0xf0 {
			case unix.BPF_ADD:
				A += v
			case unix.BPF_SUB:
				A -= v
			case unix.BPF_AND:
				A &= v
			case unix.BPF_OR:
				A |= v
			case unix.BPF_LSH:
				A <<= v
			case unix.BPF_RSH:
				A >>= v
			case unix.BPF_XOR:
				A ^= v
			case unix.BPF_NEG:
				A = -A
			default:
				return 0, errors.New("unsupported alu op")
			}
		case unix.BPF_JMP:
			if in.Code&0xf0 == unix.BPF_JA {
				pc += int(in.K)
				continue
			}
			v := in.K
			if in.Code&0x08 == unix.BPF_X {
				v = X
			}
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				cond = A == v
			case unix.BPF_JGT:
				cond = A > v
			case unix.BPF_JGE:
				cond = A >= v
			case unix.BPF_JSET:
				cond = A&v != 0
			default:
				return 0, errors.New("unsupported jump")
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return A, nil
			}
			return in.K, nil
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TAX {
				X = A
			} else {
				A = X
			}
		}
	}
	return 0, errors.New("fell off the end")
}

func TestProgramEncoding(t *testing.T) {
	p := mustCompile(t, dockerProfile())
	p.Notify = true
	p.Flags = unix.SECCOMP_FILTER_FLAG_LOG
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Program
	if err := q.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, &q) {
		t.Fatal("round trip changed the program")
	}
	if len(data) > MaxEncodedSize {
		t.Errorf("%d bytes > MaxEncodedSize", len(data))
	}

	bad := map[string][]byte{
		"empty":     nil,
		"truncated": data[:len(data)-5],
		"magic":     append([]byte("XXXX"), data[4:]...),
		"bitflip":   flip(data, headerSize+3),
		"trailing":  append(append([]byte(nil), data...), 0),
	}
	// A well-formed encoding of a program that jumps past its end.
	jumpy, _ := (&Program{Filter: []unix.SockFilter{{Code: unix.BPF_JMP | unix.BPF_JA, K: 5}, {Code: unix.BPF_RET | unix.BPF_K}}}).MarshalBinary()
	bad["jump past end"] = jumpy
	noret, _ := (&Program{Filter: []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS}}}).MarshalBinary()
	bad["no return"] = noret
	for name, b := range bad {
		q := Program{Flags: 77}
		err := q.UnmarshalBinary(b)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
		if q.Flags != 77 || q.Filter != nil {
			t.Errorf("%s: program changed on error", name)
		}
	}
	if _, err := (&Program{}).MarshalBinary(); err == nil {
		t.Error("marshal of an empty program succeeded")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}
