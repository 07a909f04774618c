package initproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Message types on the sync socket between the runtime (parent) and the
// init stage. A message is its type, then for MsgError three NUL-separated
// fields: op index, code (errno or stage.h's ERR_*), detail text.
const (
	MsgCreateRuntime = "createRuntime" // init → parent: run createRuntime+prestart hooks, then answer MsgAck
	MsgAck           = "ack"
	MsgConsole       = "console" // init → parent, with the pty master fd
	MsgSeccompFD     = "seccomp" // init → parent, with the seccomp listener fd
	MsgReady         = "ready"   // init → parent: set up, waiting for start (or exec'ing now)
	MsgStart         = "start"   // parent → init (StartBySync): exec now; the socket closes when it has
	MsgError         = "error"   // either way: setup failed
)

// Msg is one datagram on the sync socket.
type Msg struct {
	Type  string
	Op    int    // MsgError from init: index of the failed op
	Code  int    // MsgError from init: errno or ERR_* code
	Error string // MsgError: detail (from init) or the whole error (from the parent)
}

// Sync is one end of the SOCK_SEQPACKET pair between parent and init.
type Sync struct{ f *os.File }

// NewSync wraps an fd of the socket pair.
func NewSync(f *os.File) *Sync { return &Sync{f} }

// File returns the underlying socket.
func (s *Sync) File() *os.File { return s.f }

// Send writes m, with an optional fd attached (-1 for none).
func (s *Sync) Send(m Msg, fd int) error {
	b := []byte(m.Type)
	if m.Type == MsgError {
		b = fmt.Appendf(b, "\x00%d\x00%d\x00%s", -1, 0, m.Error)
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(int(s.f.Fd()), b, oob, nil, 0)
}

// Recv reads one message and the fd attached to it (-1 if none).
func (s *Sync) Recv() (Msg, int, error) {
	var m Msg
	buf := make([]byte, 8<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(s.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return m, -1, err
	}
	if n == 0 {
		return m, -1, fmt.Errorf("sync socket closed")
	}
	fd := -1
	if oobn > 0 {
		cms, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil && len(cms) > 0 {
			if fds, err := unix.ParseUnixRights(&cms[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	f := strings.SplitN(string(buf[:n]), "\x00", 4)
	m.Type = f[0]
	if m.Type == MsgError {
		if len(f) != 4 {
			return m, fd, fmt.Errorf("bad sync message %q", buf[:n])
		}
		m.Op, _ = strconv.Atoi(f[1])
		m.Code, _ = strconv.Atoi(f[2])
		m.Error = f[3]
	}
	return m, fd, nil
}

// NewSyncPair makes the socket pair: parent end first.
func NewSyncPair() (*Sync, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("sync socketpair: %w", err)
	}
	return &Sync{os.NewFile(uintptr(fds[0]), "sync-parent")}, os.NewFile(uintptr(fds[1]), "sync-child"), nil
}
