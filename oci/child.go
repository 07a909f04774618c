package oci

import (
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/oci/initproc"
)

// child is a process the runtime starts itself (the init or exec stage)
// with syscall.ForkExec: os/exec's first Start in a process also forks a
// probe child to test pidfd support, ~0.15 ms more on the path of every
// container start.
type child struct {
	path  string
	args  []string
	env   []string
	files []*os.File // become fds 0, 1, 2, 3, ...
	sys   *syscall.SysProcAttr

	pid    int
	waited bool
	ws     syscall.WaitStatus
}

// stageChild is the init or exec stage of the runtime binary exe, with
// the container's stdio and preserved fds, then extra.
func stageChild(exe *os.File, stdin, stdout, stderr *os.File, preserve int, extra ...*os.File) *child {
	c := &child{
		path:  "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		args:  []string{"berth", initproc.Arg},
		files: []*os.File{orStd(stdin, os.Stdin), orStd(stdout, os.Stdout), orStd(stderr, os.Stderr)},
	}
	for i := 0; i < preserve; i++ {
		c.files = append(c.files, os.NewFile(uintptr(3+i), "preserved"))
	}
	c.files = append(c.files, extra...)
	return c
}

// fd is the number fd f gets in the child (f must be in files).
func (c *child) fd(f *os.File) int {
	for i, g := range c.files {
		if g == f {
			return i
		}
	}
	return -1
}

func (c *child) start() error {
	fds := make([]uintptr, len(c.files))
	for i, f := range c.files {
		fds[i] = f.Fd()
	}
	pid, err := syscall.ForkExec(c.path, c.args, &syscall.ProcAttr{Env: c.env, Files: fds, Sys: c.sys})
	runtime.KeepAlive(c.files)
	if err != nil {
		return err
	}
	c.pid = pid
	return nil
}

// wait reaps the child (once) and returns its status.
func (c *child) wait() syscall.WaitStatus {
	if c.waited {
		return c.ws
	}
	for {
		_, err := syscall.Wait4(c.pid, &c.ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	c.waited = true
	return c.ws
}

// statusText words a wait status as os/exec does.
func statusText(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}
