package initproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Rlimits maps spec names to resource numbers.
var Rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// IOPrioClasses maps spec ioPriority classes to kernel values.
var IOPrioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// SchedPolicies maps spec scheduler policies to kernel values.
var SchedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

// applyProcessAttrs applies rlimits, oom score, personality, scheduler and
// I/O priority, in that order, while init still has its capabilities.
func applyProcessAttrs(p *specs.Process, spec *specs.Spec) error {
	for _, r := range p.Rlimits {
		n, ok := Rlimits[r.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		// syscall.Setrlimit, not unix: it tells the Go runtime not to put
		// back its own RLIMIT_NOFILE on exec.
		if err := syscall.Setrlimit(n, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	if p.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("process.oomScoreAdj %d: %w", *p.OOMScoreAdj, err)
		}
	}
	if spec.Linux != nil && spec.Linux.Personality != nil {
		var pers uintptr
		switch spec.Linux.Personality.Domain {
		case specs.PerLinux:
			pers = 0
		case specs.PerLinux32:
			pers = 0x0008
		default:
			return fmt.Errorf("linux.personality.domain %q: unknown", spec.Linux.Personality.Domain)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, pers, 0, 0); e != 0 {
			return fmt.Errorf("personality: %w", e)
		}
	}
	if s := p.Scheduler; s != nil {
		pol, ok := SchedPolicies[s.Policy]
		if !ok {
			return fmt.Errorf("process.scheduler.policy %q: unknown", s.Policy)
		}
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: pol, Nice: s.Nice, Priority: uint32(s.Priority),
			Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
		for _, f := range s.Flags {
			v, ok := schedFlags[f]
			if !ok {
				return fmt.Errorf("process.scheduler.flags %q: unknown", f)
			}
			attr.Flags |= v
		}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			return fmt.Errorf("process.scheduler (%s): %w", s.Policy, err)
		}
	}
	if io := p.IOPriority; io != nil {
		c, ok := IOPrioClasses[io.Class]
		if !ok {
			return fmt.Errorf("process.ioPriority.class %q: unknown", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority %d: want 0..7", io.Priority)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, 1, 0, uintptr(c<<13|io.Priority)); e != 0 {
			return fmt.Errorf("process.ioPriority: %w", e)
		}
	}
	return nil
}

// AppArmorEnabled reports whether the host runs AppArmor.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// SELinuxEnabled reports whether the host runs SELinux.
func SELinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

func setLSMLabels(p *specs.Process) error {
	if p.ApparmorProfile != "" {
		if !AppArmorEnabled() {
			return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", p.ApparmorProfile)
		}
		if err := writeAttr("apparmor/exec", "exec "+p.ApparmorProfile); err != nil {
			return fmt.Errorf("process.apparmorProfile %q: %w", p.ApparmorProfile, err)
		}
	}
	if p.SelinuxLabel != "" {
		if !SELinuxEnabled() {
			return fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on this host", p.SelinuxLabel)
		}
		if err := writeAttr("exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

func writeAttr(name, v string) error {
	p := "/proc/thread-self/attr/" + name
	if _, err := os.Stat(p); err != nil && strings.HasPrefix(name, "apparmor/") {
		p = "/proc/thread-self/attr/exec"
	}
	return os.WriteFile(p, []byte(v), 0)
}

// setupConsole opens a new pty in the container's devpts, hands the master
// to the runtime (which passes it to --console-socket) and makes the slave
// this process's controlling terminal and stdio.
func (s *stage) setupConsole(mountNS bool) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx (is devpts mounted at /dev/pts?): %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("ptsname: %w", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(int(n))
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	if cs := s.cfg.Process.ConsoleSize; cs != nil {
		unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)})
	}
	if mountNS {
		if f, _, err := openNoFollow("/dev/console"); err == nil {
			unix.Mount(slavePath, fdPath(f), "", unix.MS_BIND, "")
			f.Close()
		} else if err == unix.ENOENT {
			if fd, err := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600); err == nil {
				unix.Close(fd)
				unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, "")
			}
		}
	}
	if err := s.sync.Send(Msg{Type: MsgConsole}, master); err != nil {
		return fmt.Errorf("send console: %w", err)
	}
	if m, _, err := s.sync.Recv(); err != nil || m.Type != MsgAck {
		return fmt.Errorf("console socket: %v %s", err, m.Error)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(slave, i, 0); err != nil {
			return fmt.Errorf("dup pty: %w", err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}
