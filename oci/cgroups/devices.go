package cgroups

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// deviceRule is a checked spec device rule.
type deviceRule struct {
	allow  bool
	typ    byte  // 'a', 'b' or 'c'
	major  int64 // -1: any
	minor  int64 // -1: any
	access int32 // BPF_DEVCG_ACC_* bits
}

const accAll = unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE | unix.BPF_DEVCG_ACC_MKNOD

func parseDeviceRules(rules []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(rules))
	for i, r := range rules {
		field := fmt.Sprintf("devices[%d]", i)
		d := deviceRule{allow: r.Allow, major: -1, minor: -1}
		switch r.Type {
		case "", "a":
			d.typ = 'a'
		case "b", "c":
			d.typ = r.Type[0]
		default:
			return nil, invalid(field+".type", "%q is not a, b or c", r.Type)
		}
		if r.Major != nil {
			if *r.Major < 0 || *r.Major >= 1<<12 {
				return nil, invalid(field+".major", "%d is out of range", *r.Major)
			}
			d.major = *r.Major
		}
		if r.Minor != nil {
			if *r.Minor < 0 || *r.Minor >= 1<<20 {
				return nil, invalid(field+".minor", "%d is out of range", *r.Minor)
			}
			d.minor = *r.Minor
		}
		for _, c := range r.Access {
			switch c {
			case 'r':
				d.access |= unix.BPF_DEVCG_ACC_READ
			case 'w':
				d.access |= unix.BPF_DEVCG_ACC_WRITE
			case 'm':
				d.access |= unix.BPF_DEVCG_ACC_MKNOD
			default:
				return nil, invalid(field+".access", "%q has %q, not one of r, w, m", r.Access, c)
			}
		}
		if r.Access == "" {
			d.access = accAll
		}
		out = append(out, d)
	}
	return out, nil
}

// DeviceFilter compiles spec device rules into a BPF_PROG_TYPE_CGROUP_DEVICE
// program. Everything is denied by default and the last rule that matches
// an access wins, each requested bit (read, write, mknod) decided on its
// own. This is the v1 devices controller's behaviour but for two of its
// oddities, checked against the kernel in TestDeviceFilterMatchesV1: v1
// ignores a deny narrower than an earlier wildcard allow (we deny), and
// v1 refuses an O_RDWR open allowed by two rules, one per bit (we allow,
// as two separate opens would get the same access).
func DeviceFilter(rules []specs.LinuxDeviceCgroup) (bpfProg, error) {
	parsed, err := parseDeviceRules(rules)
	if err != nil {
		return nil, err
	}
	return deviceProgram(parsed), nil
}

func deviceProgram(rules []deviceRule) bpfProg {
	// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
	// access_type = (access << 16) | type.
	insts := bpfProg{
		ldxW(r2, r1, 0),
		alu32Imm(bpfAND, r2, 0xFFFF), // R2 = type
		ldxW(r3, r1, 0),
		alu32Imm(bpfRSH, r3, 16), // R3 = requested access
		ldxW(r4, r1, 4),          // R4 = major
		ldxW(r5, r1, 8),          // R5 = minor
		mov32Reg(r6, r3),         // R6 = access bits not yet decided
	}
	// Walk the rules from the last: the first match decides.
	n := 0
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if r.typ == 'a' && r.major < 0 && r.minor < 0 && r.access == accAll {
			// Matches everything: it decides all that is left, and code
			// after it would be unreachable, which the verifier refuses.
			return append(insts,
				mov32Imm(r0, int32(boolInt(r.allow))).at("rule-"+strconv.Itoa(n)),
				bpfExit(),
			)
		}
		next := "rule-" + strconv.Itoa(n+1)
		var block bpfProg
		switch r.typ {
		case 'c':
			block = append(block, jmpImm(bpfJNE, r2, int32(unix.BPF_DEVCG_DEV_CHAR), next))
		case 'b':
			block = append(block, jmpImm(bpfJNE, r2, int32(unix.BPF_DEVCG_DEV_BLOCK), next))
		}
		if r.major >= 0 {
			block = append(block, jmpImm(bpfJNE, r4, int32(r.major), next))
		}
		if r.minor >= 0 {
			block = append(block, jmpImm(bpfJNE, r5, int32(r.minor), next))
		}
		if r.access != accAll {
			// Skip the rule unless it covers an undecided requested bit.
			block = append(block,
				mov32Reg(r0, r6),
				alu32Imm(bpfAND, r0, r.access),
				jmpImm(bpfJEQ, r0, 0, next),
			)
		}
		if r.allow && r.access == accAll {
			// Allows every bit still undecided: done.
			block = append(block,
				mov32Imm(r0, 1),
				bpfExit(),
			)
		} else if r.allow {
			block = append(block,
				alu32Imm(bpfAND, r6, ^r.access&accAll),
				jmpImm(bpfJNE, r6, 0, next),
				mov32Imm(r0, 1),
				bpfExit(),
			)
		} else {
			block = append(block,
				mov32Imm(r0, 0),
				bpfExit(),
			)
		}
		block[0] = block[0].at("rule-" + strconv.Itoa(n))
		insts = append(insts, block...)
		n++
	}
	// No rule decided some requested bit: deny.
	insts = append(insts,
		mov32Imm(r0, 0).at("rule-"+strconv.Itoa(n)),
		bpfExit(),
	)
	return insts
}

// setDevicesV2 loads the device program and attaches it to the cgroup dir
// with BPF_F_ALLOW_MULTI, then detaches any program attached before (on
// Set): the new one is in force before the old one goes, so there is no
// moment without a filter.
func setDevicesV2(dir string, rules []specs.LinuxDeviceCgroup) error {
	insts, err := DeviceFilter(rules)
	if err != nil {
		return err
	}
	prog, err := loadDeviceProgram(insts)
	if err != nil {
		return &ResourceError{Field: "devices", Err: err}
	}
	defer unix.Close(prog)
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &ResourceError{Field: "devices", Err: fmt.Errorf("open %s: %w", dir, err)}
	}
	defer unix.Close(fd)
	old, err := attachedDevicePrograms(fd)
	if err != nil {
		return &ResourceError{Field: "devices", Err: fmt.Errorf("query device filters of %s: %w", dir, err)}
	}
	if err := attachDeviceProgram(fd, prog); err != nil {
		return &ResourceError{Field: "devices", Err: fmt.Errorf("attach BPF device filter to %s: %w", dir, err)}
	}
	for _, id := range old {
		op, err := progFDByID(id)
		if err != nil {
			// Gone meanwhile, or hidden by LSM policy: a program we may
			// not see can only add restrictions; leave it.
			if err == unix.ENOENT || err == unix.EPERM || err == unix.EACCES {
				continue
			}
			return &ResourceError{Field: "devices", Err: fmt.Errorf("open old device filter %d: %w", id, err)}
		}
		err = detachDeviceProgram(fd, op)
		unix.Close(op)
		if err != nil && err != unix.ENOENT {
			return &ResourceError{Field: "devices", Err: fmt.Errorf("detach old device filter %d: %w", id, err)}
		}
	}
	return nil
}

// setDevicesV1 denies everything, then writes the rules in order to
// devices.allow and devices.deny.
func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	parsed, err := parseDeviceRules(rules)
	if err != nil {
		return err
	}
	// Rule lists usually start with deny-all themselves; skip the duplicate.
	if r0 := parsed[0]; r0.allow || r0.typ != 'a' || r0.major >= 0 || r0.minor >= 0 || r0.access != accAll {
		if err := writeFile(dir, "devices.deny", "a", "devices"); err != nil {
			return err
		}
	}
	for i, r := range parsed {
		file := "devices.deny"
		if r.allow {
			file = "devices.allow"
		}
		for _, line := range v1DeviceLines(r) {
			if err := writeFile(dir, file, line, fmt.Sprintf("devices[%d]", i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// v1DeviceLines renders a rule for devices.allow/deny. The kernel's "a"
// ignores numbers and access and switches the whole cgroup to allow- or
// deny-all, so a narrower "a" rule is written as its b and c halves.
func v1DeviceLines(r deviceRule) []string {
	num := func(v int64) string {
		if v < 0 {
			return "*"
		}
		return strconv.FormatInt(v, 10)
	}
	var acc strings.Builder
	if r.access&unix.BPF_DEVCG_ACC_READ != 0 {
		acc.WriteByte('r')
	}
	if r.access&unix.BPF_DEVCG_ACC_WRITE != 0 {
		acc.WriteByte('w')
	}
	if r.access&unix.BPF_DEVCG_ACC_MKNOD != 0 {
		acc.WriteByte('m')
	}
	rest := " " + num(r.major) + ":" + num(r.minor) + " " + acc.String()
	if r.typ != 'a' {
		return []string{string(r.typ) + rest}
	}
	if r.major < 0 && r.minor < 0 && r.access == accAll {
		return []string{"a"}
	}
	return []string{"c" + rest, "b" + rest}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
