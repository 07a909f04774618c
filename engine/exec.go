package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine/specgen"
)

// ExecOptions is `berth exec`.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Tty        bool
	Detach     bool
	Privileged bool
	Stdin      io.Reader // nil: /dev/null
	Stdout     io.Writer
	Stderr     io.Writer
	// Resize, with Tty, is called with the pty master so the caller can
	// size it and follow the terminal's size.
	Resize func(master *os.File)
}

// Exec runs a process in a running container and returns its exit code
// (126/127 as Docker when it cannot be run).
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return 125, err
	}
	if c.State.Status == StatusPaused {
		return 125, fmt.Errorf("%w: container %s is paused, unpause the container before exec", ErrState, c.ID)
	}
	if c.State.Status != StatusRunning {
		return 125, fmt.Errorf("%w: container %s is not running", ErrState, c.ID)
	}
	if len(o.Cmd) == 0 {
		return 125, errors.New("exec: no command given")
	}
	b, err := os.ReadFile(filepath.Join(e.containerDir(c.ID), "config.json"))
	if err != nil {
		return 125, fmt.Errorf("read the container's spec: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return 125, fmt.Errorf("read the container's spec: %w", err)
	}
	p := *spec.Process
	p.Args = o.Cmd
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = mergeEnv(p.Env, o.Env)
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	if o.User != "" {
		uid, gid, groups, home, err := specgen.LookupUser(e.rootfs(c.ID), o.User)
		if err != nil {
			return 126, err
		}
		p.User = specs.User{UID: uid, GID: gid, AdditionalGids: groups}
		p.Env = mergeEnv(p.Env, []string{"HOME=" + home})
	}
	if o.Privileged {
		all := specgen.AllCaps()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	dir, err := os.MkdirTemp(e.shimDir(c.ID), "exec")
	if err != nil {
		return 125, err
	}
	defer os.RemoveAll(dir)
	pf := filepath.Join(dir, "process.json")
	if b, err = json.Marshal(&p); err != nil {
		return 125, err
	}
	if err := os.WriteFile(pf, b, 0o600); err != nil {
		return 125, err
	}
	bin, pre := e.runtimeFor(c)
	logf := filepath.Join(dir, "log")
	args := append(append([]string{}, pre...), "--log", logf, "--log-format", "json", "exec", "--process", pf)
	if o.Detach {
		args = append(args, "--detach")
	}
	var ln *net.UnixListener
	if o.Tty {
		sock := filepath.Join(dir, "console")
		if ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"}); err != nil {
			return 125, err
		}
		defer ln.Close()
		args = append(args, "--console-socket", sock)
	}
	args = append(args, c.ID)
	cmd := exec.CommandContext(ctx, bin, args...)
	if o.Tty || o.Detach {
		// The process gets the pty (or nothing): the caller's streams are
		// copied, not inherited.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("run %s exec: %w", bin, err)
	}
	var copied chan struct{}
	if o.Tty {
		master, err := recvPty(ln)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 126, fmt.Errorf("exec: %w", execError(logf, err))
		}
		defer master.Close()
		if o.Resize != nil {
			o.Resize(master)
		}
		copied = make(chan struct{})
		go func() {
			io.Copy(o.Stdout, master)
			close(copied)
		}()
		if o.Stdin != nil {
			go io.Copy(master, o.Stdin)
		}
	}
	werr := cmd.Wait()
	if copied != nil {
		<-copied
	}
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return 125, werr
		}
		if msg := runtimeLogError(logf); msg != "" {
			code := 126
			if se := classify(errors.New(msg)); se.(*StartError).Code == 127 {
				code = 127
			}
			if !o.Tty && !o.Detach && o.Stderr != nil {
				// The runtime printed it on the stderr it shares with the
				// process: the caller should not print it again.
				return code, &ReportedError{Err: errors.New(msg)}
			}
			return code, errors.New(msg)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, nil
}

// ReportedError is an error the user has already seen (the runtime wrote
// it to the same stderr).
type ReportedError struct{ Err error }

func (e *ReportedError) Error() string { return e.Err.Error() }
func (e *ReportedError) Unwrap() error { return e.Err }

func execError(logf string, err error) error {
	if msg := runtimeLogError(logf); msg != "" {
		return errors.New(msg)
	}
	return err
}

// runtimeLogError is the last error a runc-style runtime logged as JSON.
func runtimeLogError(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && (l.Level == "error" || l.Level == "fatal") {
			msg = l.Msg
		}
	}
	return msg
}

// recvPty accepts the runtime's connection on a console socket and takes
// the pty master it sends.
func recvPty(ln *net.UnixListener) (*os.File, error) {
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	cms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cms) == 0 {
		return nil, errors.New("console socket: no pty received")
	}
	fds, err := unix.ParseUnixRights(&cms[0])
	if err != nil || len(fds) == 0 {
		return nil, errors.New("console socket: no pty received")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// mergeEnv overrides base by key with add.
func mergeEnv(base, add []string) []string {
	out := append([]string{}, base...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
