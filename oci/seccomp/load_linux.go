package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var (
	errLoadEmpty = errors.New("seccomp: load: empty program")
	errLoadLong  = errors.New("seccomp: load: program longer than 4096 instructions")
)

// Load installs p on the calling thread; the caller has locked the
// goroutine to its thread, set no_new_privs (or holds CAP_SYS_ADMIN), and
// will execve from this thread. It is one raw seccomp(2) call, so it does
// not allocate on success or start goroutines. It returns the listener fd
// when p.Notify, else -1.
func Load(p *Program) (listenerFD int, err error) {
	if p == nil || len(p.Filter) == 0 {
		return -1, errLoadEmpty
	}
	if len(p.Filter) > maxInsns {
		return -1, errLoadLong
	}
	flags := p.LoadFlags()
	prog := unix.SockFprog{Len: uint16(len(p.Filter)), Filter: &p.Filter[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p)
	if errno != 0 {
		return -1, loadError(errno, flags)
	}
	if p.Notify {
		return int(r), nil
	}
	if r != 0 {
		// TSYNC without TSYNC_ESRCH: r is the thread that could not be
		// synchronised (it runs another filter).
		return -1, fmt.Errorf("seccomp: load with SECCOMP_FILTER_FLAG_TSYNC: thread %d cannot be synchronized", r)
	}
	return -1, nil
}

// LoadFlags are the seccomp(2) filter flags p is loaded with: the spec's
// flags adjusted for a listener (or for having none).
func (p *Program) LoadFlags() uintptr {
	flags := p.Flags
	if p.Notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		if flags&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
			// The kernel refuses TSYNC with NEW_LISTENER unless a TSYNC
			// failure is reported as ESRCH (the return value is the fd).
			flags |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
		}
	} else {
		// Only meaningful for a listener, and refused by the kernel without one.
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	return uintptr(flags)
}

func loadError(errno unix.Errno, flags uintptr) error {
	switch errno {
	case unix.EACCES:
		return fmt.Errorf("seccomp: load: %w (set no_new_privs or hold CAP_SYS_ADMIN)", errno)
	case unix.EINVAL:
		return fmt.Errorf("seccomp: load with flags %#x: %w (flag or program not supported by this kernel)", flags, errno)
	case unix.ESRCH:
		return fmt.Errorf("seccomp: load with SECCOMP_FILTER_FLAG_TSYNC: %w (another thread cannot be synchronized)", errno)
	}
	return fmt.Errorf("seccomp: load: %w", errno)
}

// SendListener implements linux.seccomp.listenerPath: it connects to the
// unix stream socket at path and sends fd with SCM_RIGHTS, with st (the
// container process state) as the JSON payload of the same message, then
// closes the connection. st.Fds defaults to ["seccompFd"] and st.Version to
// the spec version; the caller fills Pid, Metadata (listenerMetadata) and
// State. The caller keeps ownership of fd.
//
// The container's filter may forbid connect/sendmsg, so this is meant to run
// in the runtime parent after init has handed it the listener fd.
func SendListener(path string, fd int, st specs.ContainerProcessState) error {
	if fd < 0 {
		return fmt.Errorf("seccomp: send listener to %s: bad fd %d", path, fd)
	}
	if st.Version == "" {
		st.Version = specs.Version
	}
	if len(st.Fds) == 0 {
		st.Fds = []string{specs.SeccompFdName}
	}
	payload, err := json.Marshal(&st)
	if err != nil {
		return fmt.Errorf("seccomp: send listener to %s: encode state: %w", path, err)
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("seccomp: send listener: %w", err)
	}
	defer conn.Close()
	// An agent that accepted but stopped reading must not hang the runtime.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	n, oobn, err := conn.WriteMsgUnix(payload, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("seccomp: send listener to %s: %w", path, err)
	}
	if oobn == 0 {
		return fmt.Errorf("seccomp: send listener to %s: fd not sent", path)
	}
	if n < len(payload) {
		if _, err := conn.Write(payload[n:]); err != nil {
			return fmt.Errorf("seccomp: send listener to %s: %w", path, err)
		}
	}
	return nil
}

// SupportedFlags returns the known flags this kernel accepts, probed the
// way libseccomp does: seccomp(SET_MODE_FILTER, flag, NULL) fails with
// EFAULT for a known flag and EINVAL for an unknown one.
func SupportedFlags() []string {
	var out []string
	for name, bit := range flagNames {
		probe := bit
		if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
			probe |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(probe), 0)
		if errno == unix.EFAULT {
			out = append(out, string(name))
		}
	}
	slices.Sort(out)
	return out
}

// NotifySupported reports whether the kernel has user notification
// (SECCOMP_GET_NOTIF_SIZES works and SECCOMP_RET_USER_NOTIF is available).
func NotifySupported() bool {
	var sizes [3]uint16
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0, uintptr(unsafe.Pointer(&sizes))); errno != 0 {
		return false
	}
	act := uint32(unix.SECCOMP_RET_USER_NOTIF)
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&act)))
	return errno == 0
}
