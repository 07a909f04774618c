package seccomp

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Program is a compiled filter ready for seccomp(2).
type Program struct {
	Filter []unix.SockFilter // classic BPF, host byte order as the kernel reads it
	Flags  uint              // SECCOMP_FILTER_FLAG_* from the spec's flags
	Notify bool              // some rule uses SCMP_ACT_NOTIFY: load with SECCOMP_FILTER_FLAG_NEW_LISTENER
}

// ProfileError reports a profile the runtime cannot load. Field is the path
// of the bad value in config.json, e.g. "linux.seccomp.syscalls[3].action".
type ProfileError struct {
	Field string
	Msg   string
	Err   error // cause, if any (e.g. from libseccomp)
}

func (e *ProfileError) Error() string {
	s := "seccomp: " + e.Msg + " in " + e.Field
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProfileError) Unwrap() error { return e.Err }

func badField(field, format string, args ...any) error {
	return &ProfileError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

const (
	fieldRoot = "linux.seccomp"
	// maxInsns is the kernel's BPF_MAXINSNS for one seccomp filter.
	maxInsns = 4096
	// maxErrno is the kernel's MAX_ERRNO: larger SCMP_ACT_ERRNO data is clamped.
	maxErrno = 4095
)

var actionNames = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread, // SCMP_ACT_KILL is the historic name of KILL_THREAD
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

var operatorNames = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// FlagTsync is accepted in linux.seccomp.flags (runtime-spec lists it) but
// has no constant in specs-go v1.2.1.
const FlagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var flagNames = map[specs.LinuxSeccompFlag]uint{
	FlagTsync:                              unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// archInfo maps a spec architecture to libseccomp's name and the kernel's
// AUDIT_ARCH value (seccomp_data.arch), which the -ENOSYS stub tests.
type archInfo struct {
	spec  specs.Arch
	name  string // for libseccomp.GetArchFromString
	audit uint32
	x32   bool // x32 shares AUDIT_ARCH_X86_64 and sets bit 30 of the syscall number
}

var archTable = []archInfo{
	{specs.ArchX86, "x86", unix.AUDIT_ARCH_I386, false},
	{specs.ArchX86_64, "amd64", unix.AUDIT_ARCH_X86_64, false},
	{specs.ArchX32, "x32", unix.AUDIT_ARCH_X86_64, true},
	{specs.ArchARM, "arm", unix.AUDIT_ARCH_ARM, false},
	{specs.ArchAARCH64, "arm64", unix.AUDIT_ARCH_AARCH64, false},
	{specs.ArchMIPS, "mips", unix.AUDIT_ARCH_MIPS, false},
	{specs.ArchMIPS64, "mips64", unix.AUDIT_ARCH_MIPS64, false},
	{specs.ArchMIPS64N32, "mips64n32", unix.AUDIT_ARCH_MIPS64N32, false},
	{specs.ArchMIPSEL, "mipsel", unix.AUDIT_ARCH_MIPSEL, false},
	{specs.ArchMIPSEL64, "mipsel64", unix.AUDIT_ARCH_MIPSEL64, false},
	{specs.ArchMIPSEL64N32, "mipsel64n32", unix.AUDIT_ARCH_MIPSEL64N32, false},
	{specs.ArchPPC, "ppc", unix.AUDIT_ARCH_PPC, false},
	{specs.ArchPPC64, "ppc64", unix.AUDIT_ARCH_PPC64, false},
	{specs.ArchPPC64LE, "ppc64le", unix.AUDIT_ARCH_PPC64LE, false},
	{specs.ArchS390, "s390", unix.AUDIT_ARCH_S390, false},
	{specs.ArchS390X, "s390x", unix.AUDIT_ARCH_S390X, false},
	{specs.ArchPARISC, "parisc", unix.AUDIT_ARCH_PARISC, false},
	{specs.ArchPARISC64, "parisc64", unix.AUDIT_ARCH_PARISC64, false},
	{specs.ArchRISCV64, "riscv64", unix.AUDIT_ARCH_RISCV64, false},
	{specs.ArchLOONGARCH64, "loong64", unix.AUDIT_ARCH_LOONGARCH64, false},
	{specs.ArchM68K, "m68k", unix.AUDIT_ARCH_M68K, false},
	{specs.ArchSH, "sh", unix.AUDIT_ARCH_SHEL, false}, // libseccomp: SCMP_ARCH_SH is little-endian
	{specs.ArchSHEB, "sheb", unix.AUDIT_ARCH_SH, false},
}

func lookupArch(a specs.Arch) (archInfo, libseccomp.ScmpArch, bool) {
	for _, ai := range archTable {
		if ai.spec == a {
			sa, err := libseccomp.GetArchFromString(ai.name)
			if err != nil {
				return ai, 0, false
			}
			return ai, sa, true
		}
	}
	return archInfo{}, 0, false
}

// host describes the native architecture, found once.
var host = sync.OnceValues(func() (archInfo, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return archInfo{}, fmt.Errorf("seccomp: native architecture: %w", err)
	}
	for _, ai := range archTable {
		if sa, err := libseccomp.GetArchFromString(ai.name); err == nil && sa == native {
			return ai, nil
		}
	}
	return archInfo{}, fmt.Errorf("seccomp: native architecture %v not in berth's table", native)
})

// supportedArchs lists the spec architectures the linked libseccomp can
// build filters for (2.5.4 lacks loongarch64, m68k, sh).
var supportedArchs = sync.OnceValue(func() map[specs.Arch]bool {
	ok := map[specs.Arch]bool{}
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return ok
	}
	defer f.Release()
	for _, ai := range archTable {
		if _, sa, found := lookupArch(ai.spec); found && f.AddArch(sa) == nil {
			ok[ai.spec] = true
		}
	}
	return ok
})

// Known returns what Compile accepts, sorted, for `berth runtime features`.
// archs lists only those the linked libseccomp can put in a filter next to
// the native one (same byte order; 2.5.4 lacks loongarch64, m68k and sh).
func Known() (actions, operators, archs, flags []string) {
	for a := range actionNames {
		actions = append(actions, string(a))
	}
	for o := range operatorNames {
		operators = append(operators, string(o))
	}
	for a := range supportedArchs() {
		archs = append(archs, string(a))
	}
	for f := range flagNames {
		flags = append(flags, string(f))
	}
	slices.Sort(actions)
	slices.Sort(operators)
	slices.Sort(archs)
	slices.Sort(flags)
	return
}

// LibseccompVersion returns the version of the linked libseccomp, e.g.
// "2.5.4" (runc reports it as io.github.seccomp.libseccomp.version).
func LibseccompVersion() string {
	maj, min, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, mic)
}

// action converts a spec action and its optional errnoRet. field names the
// action's place in the profile, errField the errnoRet's.
func action(a specs.LinuxSeccompAction, errnoRet *uint, field, errField string) (libseccomp.ScmpAction, error) {
	if a == "" {
		return 0, badField(field, "missing action")
	}
	act, ok := actionNames[a]
	if !ok {
		return 0, badField(field, "unknown action %q", a)
	}
	switch act {
	case libseccomp.ActErrno:
		code := uint(unix.EPERM)
		if errnoRet != nil {
			code = *errnoRet
		}
		if code > maxErrno {
			return 0, badField(errField, "errno %d exceeds MAX_ERRNO (%d)", code, maxErrno)
		}
		return act.SetReturnCode(int16(code)), nil
	case libseccomp.ActTrace:
		code := uint(unix.EPERM)
		if errnoRet != nil {
			code = *errnoRet
		}
		if code > 0xffff {
			return 0, badField(errField, "trace data %d does not fit in 16 bits", code)
		}
		return act.SetReturnCode(int16(uint16(code))), nil
	}
	if errnoRet != nil {
		// runtime-spec: "When the action doesn't support an errno, the
		// runtime MUST print and error and fail."
		return 0, badField(errField, "errnoRet %d set but action %s takes no errno", *errnoRet, a)
	}
	return act, nil
}

// allowLike are default actions that let unknown syscalls through, so the
// -ENOSYS stub must not turn them into errors (same set as runc: a tracer is
// expected to handle new syscalls itself).
func allowLike(a specs.LinuxSeccompAction) bool {
	return a == specs.ActAllow || a == specs.ActLog || a == specs.ActTrace
}

type rule struct {
	field string // linux.seccomp.syscalls[i]
	name  string
	nr    libseccomp.ScmpSyscall
	act   libseccomp.ScmpAction
	conds [][]libseccomp.ScmpCondition // one libseccomp rule per element (ORed)
}

// Compile validates cfg and compiles it to a Program. Syscall names that
// libseccomp does not know for this architecture are skipped, like runc
// does; everything else that is wrong is a *ProfileError.
func Compile(cfg *specs.LinuxSeccomp) (*Program, error) {
	if cfg == nil {
		return nil, badField(fieldRoot, "no profile")
	}
	defAct, err := action(cfg.DefaultAction, cfg.DefaultErrnoRet, fieldRoot+".defaultAction", fieldRoot+".defaultErrnoRet")
	if err != nil {
		return nil, err
	}
	if cfg.DefaultAction == specs.ActNotify {
		// The init process must still be able to hand the listener fd out
		// after loading; a notifying default would block it forever.
		return nil, badField(fieldRoot+".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
	}
	if cfg.ListenerMetadata != "" && cfg.ListenerPath == "" {
		return nil, badField(fieldRoot+".listenerMetadata", "set without listenerPath")
	}

	p := &Program{}
	for i, f := range cfg.Flags {
		v, ok := flagNames[f]
		if !ok {
			return nil, badField(fmt.Sprintf("%s.flags[%d]", fieldRoot, i), "unknown flag %q", f)
		}
		p.Flags |= v
	}

	nat, err := host()
	if err != nil {
		return nil, err
	}
	type archUse struct {
		info archInfo
		arch libseccomp.ScmpArch
	}
	nativeArch, _ := libseccomp.GetArchFromString(nat.name)
	archs := []archUse{{nat, nativeArch}}
	for i, a := range cfg.Architectures {
		field := fmt.Sprintf("%s.architectures[%d]", fieldRoot, i)
		ai, sa, ok := lookupArch(a)
		if !ok {
			return nil, badField(field, "unknown architecture %q", a)
		}
		if !supportedArchs()[a] {
			// libseccomp lacks it, or cannot mix it with the native byte order.
			return nil, badField(field, "architecture %q cannot be filtered on this host with libseccomp %s", a, LibseccompVersion())
		}
		if !slices.ContainsFunc(archs, func(u archUse) bool { return u.arch == sa }) {
			archs = append(archs, archUse{ai, sa})
		}
	}

	apiLevel, _ := libseccomp.GetAPI()
	var rules []rule
	var allNames []string // every resolvable name, for the -ENOSYS stub
	for i, sc := range cfg.Syscalls {
		field := fmt.Sprintf("%s.syscalls[%d]", fieldRoot, i)
		act, err := action(sc.Action, sc.ErrnoRet, field+".action", field+".errnoRet")
		if err != nil {
			return nil, err
		}
		if len(sc.Names) == 0 {
			return nil, badField(field+".names", "no syscall names")
		}
		if sc.Action == specs.ActNotify {
			if apiLevel < 6 {
				return nil, badField(field+".action", "SCMP_ACT_NOTIFY needs libseccomp API level 6, have %d (libseccomp %s)", apiLevel, LibseccompVersion())
			}
			if slices.Contains(sc.Names, "write") {
				// Like runc: init reports the listener fd to its parent with
				// write(2) after loading; notifying write would deadlock it.
				return nil, badField(field+".names", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
			}
			p.Notify = true
		}
		conds, err := conditions(sc.Args, field)
		if err != nil {
			return nil, err
		}
		for j, name := range sc.Names {
			if name == "" {
				return nil, badField(fmt.Sprintf("%s.names[%d]", field, j), "empty syscall name")
			}
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				// Unknown to libseccomp on this arch (e.g. a syscall newer
				// than the library): skipped, as runc does.
				continue
			}
			allNames = append(allNames, name)
			if act == defAct {
				continue // redundant; libseccomp refuses such rules
			}
			rules = append(rules, rule{field: field, name: name, nr: nr, act: act, conds: conds})
		}
	}

	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	defer filter.Release()
	for _, a := range archs[1:] {
		if err := filter.AddArch(a.arch); err != nil {
			return nil, &ProfileError{Field: fieldRoot + ".architectures", Msg: "cannot add " + string(a.info.spec), Err: err}
		}
	}
	// A binary tree over syscall numbers instead of a linear list: about
	// log2(n) comparisons per syscall for Docker-sized allow-lists. Like
	// runc, only for longer lists (libseccomp <= 2.5.4 misbehaves with 0
	// rules).
	if len(rules) > 32 {
		_ = filter.SetOptimize(2) // older libseccomp: keep the linear filter
	}
	for _, r := range rules {
		if len(r.conds) == 0 {
			err = filter.AddRule(r.nr, r.act)
		} else {
			for _, c := range r.conds {
				if err = filter.AddRuleConditional(r.nr, r.act, c); err != nil {
					break
				}
			}
		}
		if err != nil {
			return nil, &ProfileError{Field: r.field, Msg: fmt.Sprintf("cannot add rule for syscall %q", r.name), Err: err}
		}
	}

	bpf, err := exportBPF(filter)
	if err != nil {
		return nil, err
	}
	if !allowLike(cfg.DefaultAction) && !(cfg.DefaultErrnoRet != nil && *cfg.DefaultErrnoRet == uint(unix.ENOSYS)) {
		var secs []stubArch
		for _, a := range archs {
			var max int32 = -1
			for _, n := range allNames {
				nr, err := libseccomp.GetSyscallFromNameByArch(n, a.arch)
				if err == nil && int32(nr) > max {
					max = int32(nr) // pseudo-syscalls (<0) do not exist on a.arch
				}
			}
			if max >= 0 {
				secs = append(secs, stubArch{audit: a.info.audit, x32: a.info.x32, s390: a.info.spec == specs.ArchS390 || a.info.spec == specs.ArchS390X, max: uint32(max)})
			}
		}
		stub, err := enosysStub(secs)
		if err != nil {
			return nil, err
		}
		bpf = append(stub, bpf...)
	}
	if len(bpf) > maxInsns {
		return nil, badField(fieldRoot+".syscalls", "filter has %d instructions, the kernel allows %d", len(bpf), maxInsns)
	}
	if err := checkFilter(bpf); err != nil {
		return nil, fmt.Errorf("seccomp: generated filter is invalid: %w", err)
	}
	p.Filter = bpf
	return p, nil
}

// conditions converts a rule's args. libseccomp refuses two comparisons of
// the same argument in one rule; like runc, such a rule becomes one rule per
// comparison (so they are ORed instead of ANDed).
func conditions(args []specs.LinuxSeccompArg, field string) ([][]libseccomp.ScmpCondition, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var all []libseccomp.ScmpCondition
	var seen [6]int
	split := false
	for k, a := range args {
		af := fmt.Sprintf("%s.args[%d]", field, k)
		if a.Index > 5 {
			return nil, badField(af+".index", "argument index %d > 5", a.Index)
		}
		if a.Op == "" {
			return nil, badField(af+".op", "missing operator")
		}
		op, ok := operatorNames[a.Op]
		if !ok {
			return nil, badField(af+".op", "unknown operator %q", a.Op)
		}
		if op != libseccomp.CompareMaskedEqual && a.ValueTwo != 0 {
			return nil, badField(af+".valueTwo", "valueTwo %#x is only used by %s, not %s", a.ValueTwo, specs.OpMaskedEqual, a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, &ProfileError{Field: af, Msg: "bad condition", Err: err}
		}
		seen[a.Index]++
		if seen[a.Index] > 1 {
			split = true
		}
		all = append(all, c)
	}
	if !split {
		return [][]libseccomp.ScmpCondition{all}, nil
	}
	out := make([][]libseccomp.ScmpCondition, len(all))
	for i, c := range all {
		out[i] = []libseccomp.ScmpCondition{c}
	}
	return out, nil
}

// exportBPF has libseccomp write the program into a memfd (no pipe, so no
// reader goroutine and no pipe-size limit) and parses it.
func exportBPF(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("berth-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: memfd_create: %w", err)
	}
	file := os.NewFile(uintptr(fd), "berth-seccomp-bpf")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("seccomp: export BPF: %w", err)
	}
	st, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("seccomp: export BPF: %w", err)
	}
	raw := make([]byte, st.Size())
	if _, err := file.ReadAt(raw, 0); err != nil {
		return nil, fmt.Errorf("seccomp: read exported BPF: %w", err)
	}
	if len(raw) == 0 || len(raw)%insnSize != 0 {
		return nil, fmt.Errorf("seccomp: exported BPF has %d bytes, not a multiple of %d", len(raw), insnSize)
	}
	return decodeInsns(raw, nativeOrder), nil
}

var errNilProgram = errors.New("seccomp: nil or empty program")

const knownFlagBits = unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG |
	unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
