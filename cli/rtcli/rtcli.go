// Package rtcli is the runc-compatible command line of berth's OCI runtime.
// It is linked both into the full berth CLI (`berth runtime ...`) and into
// the lean bin/berth-runc, which engines call for every container: keeping
// the image stack out of that binary keeps its start-up cost low.
package rtcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/version"
	"github.com/berth-dev/berth/oci"
	"github.com/berth-dev/berth/oci/seccomp"
	"github.com/berth-dev/berth/oci/specconv"
)

// runtimeOpts are runc's global flags.
type runtimeOpts struct {
	root, log, logFormat string
	debug, systemdCgroup bool
	rootless             string
	logFile              io.Writer
}

// ExitError carries a specific exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the runc-compatible command line (berth-runc, or berth invoked
// as `runc`) and returns the exit status: the container's for run and
// exec, 1 for errors of the runtime itself, as runc does.
func Main(args []string) int {
	oci.Trace("main")
	if versionArg(args) {
		writeVersion(os.Stdout)
		return 0
	}
	cmd := newRoot("runc", topCommand(args))
	cmd.SetArgs(args)
	return Execute(cmd, 1)
}

// versionArg reports whether args ask for the version (--version or -v
// among the global flags): how engines (docker info, podman info) learn a
// runtime's version. Answered without cobra: a version template with a
// template function made the binary 1.4 MB larger.
func versionArg(args []string) bool {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--version" || a == "-v":
			return true
		case a == "--":
			return false
		case strings.HasPrefix(a, "-"):
			if valueFlags[a] {
				i++
			}
		default:
			return false // a subcommand
		}
	}
	return false
}

// writeVersion prints the version the way runc does.
func writeVersion(w io.Writer) {
	fmt.Fprintf(w, "berth-runc version %s\ncommit: %s\nspec: %s\ngo: %s\nlibseccomp: %s\n",
		version.Version, version.Revision(), specs.Version, runtime.Version(), seccomp.LibseccompVersion())
}

// valueFlags are the global flags that take a separate value.
var valueFlags = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

// topCommand is the subcommand args run, "" if unsure (help, errors).
func topCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-h" || a == "--help":
			return ""
		case strings.HasPrefix(a, "-"):
			if valueFlags[a] {
				i++
			}
		default:
			return a
		}
	}
	return ""
}

// Execute runs c; errors without their own status exit with def.
func Execute(c *cobra.Command, def int) int {
	err := c.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(os.Stderr, "berth: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(os.Stderr, "berth: %v\n", err)
	return def
}

// New returns the runtime command tree under the name use.
func New(use string) *cobra.Command { return newRoot(use, "") }

// newRoot builds the tree with only the subcommand only (building all of
// them with their flags is paid by every runtime call an engine makes),
// or all of them when only is "" or unknown.
func newRoot(use, only string) *cobra.Command {
	o := &runtimeOpts{}
	c := &cobra.Command{
		Use:   use,
		Short: "OCI runtime with runc's command line (create, start, run, exec, kill, delete, ...)",
		Long: `berth's low-level OCI runtime. It implements the OCI runtime spec for Linux with
runc's command line, so containerd, Podman, CRI-O and dockerd can use it as
their runc (point them at a symlink named runc, or at bin/berth-runc).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// runc has no completion command; building it costs every call.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		// `berth runtime --version` (berth-runc answers it in Main)
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := cmd.Flags().GetBool("version"); v {
				writeVersion(cmd.OutOrStdout())
				return nil
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			oci.Trace("cobra parsed")
			if o.log != "" {
				f, err := os.OpenFile(o.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
				if err != nil {
					return fmt.Errorf("--log %s: %w", o.log, err)
				}
				o.logFile = f
			}
			return nil
		},
	}
	pf := c.PersistentFlags()
	// handled by Main before cobra (see versionArg); here for --help
	pf.BoolP("version", "v", false, "print the version")
	pf.StringVar(&o.root, "root", "/run/berth/runc", "root directory for storage of container state (should be on tmpfs)")
	pf.StringVar(&o.log, "log", "", "log file for runtime errors (default: stderr only)")
	pf.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&o.debug, "debug", false, "enable debug logging")
	pf.BoolVar(&o.systemdCgroup, "systemd-cgroup", false, "accept systemd cgroup paths (slice:prefix:name); the cgroupfs driver is used")
	pf.StringVar(&o.rootless, "rootless", "auto", "ignore cgroup permission errors (true, false or auto)")
	pf.String("criu", "criu", "path to criu (accepted for compatibility)")
	all := map[string]func(*runtimeOpts) *cobra.Command{
		"spec": rtSpec, "create": rtCreate, "start": rtStart, "run": rtRun, "state": rtState,
		"kill": rtKill, "delete": rtDelete, "list": rtList, "exec": rtExec, "ps": rtPs,
		"pause": rtPause, "resume": rtResume, "events": rtEvents, "update": rtUpdate, "features": rtFeatures,
	}
	if f, ok := all[only]; ok {
		c.AddCommand(f(o))
	} else {
		for _, name := range []string{"spec", "create", "start", "run", "state", "kill", "delete", "list",
			"exec", "ps", "pause", "resume", "events", "update", "features"} {
			c.AddCommand(all[name](o))
		}
	}
	// Errors go to the --log file too (engines read them from there).
	for _, sub := range c.Commands() {
		wrapLog(o, sub)
	}
	return c
}

func wrapLog(o *runtimeOpts, c *cobra.Command) {
	if c.RunE == nil {
		return
	}
	f := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		if err != nil && o.logFile != nil {
			if ee, ok := err.(*ExitError); ok && ee.Err == nil {
				return err
			}
			o.logError(err)
		}
		return err
	}
}

func (o *runtimeOpts) logError(err error) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if o.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": now})
		fmt.Fprintf(o.logFile, "%s\n", b)
		return
	}
	fmt.Fprintf(o.logFile, "time=%q level=error msg=%q\n", now, err.Error())
}

func (o *runtimeOpts) runtime() *oci.Runtime {
	rootless := o.rootless == "true" || (o.rootless == "auto" && os.Geteuid() != 0)
	return &oci.Runtime{Root: o.root, SystemdCgroup: o.systemdCgroup, Rootless: rootless,
		Warn: func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, "berth: warning: "+f+"\n", a...)
			if o.logFile != nil {
				fmt.Fprintf(o.logFile, "level=warning msg=%q\n", fmt.Sprintf(f, a...))
			}
		}}
}

func (o *runtimeOpts) load(id string) (*oci.Container, error) {
	return o.runtime().Load(id)
}

func exactID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s: needs exactly one container id, got %d arguments", cmd.Name(), len(args))
	}
	return nil
}

func rtSpec(o *runtimeOpts) *cobra.Command {
	var bundle string
	var rootless bool
	c := &cobra.Command{
		Use:   "spec",
		Short: "create a new specification file (config.json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := specconv.Example()
			if rootless {
				specconv.ToRootless(s, os.Getuid(), os.Getgid())
			}
			p := "config.json"
			if bundle != "" {
				p = bundle + "/config.json"
			}
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("file %s exists: remove it first", p)
			}
			b, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(p, b, 0o666)
		},
	}
	c.Flags().StringVarP(&bundle, "bundle", "b", "", "path to the root of the bundle directory")
	c.Flags().BoolVar(&rootless, "rootless", false, "generate a configuration for a rootless container")
	return c
}

type createFlags struct {
	bundle, pidFile, consoleSocket string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (f *createFlags) add(c *cobra.Command) {
	c.Flags().StringVarP(&f.bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	c.Flags().StringVar(&f.pidFile, "pid-file", "", "file to write the container init's pid to")
	c.Flags().StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master (process.terminal)")
	c.Flags().BoolVar(&f.noPivot, "no-pivot", false, "use MS_MOVE + chroot instead of pivot_root")
	c.Flags().BoolVar(&f.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	c.Flags().IntVar(&f.preserveFDs, "preserve-fds", 0, "pass N extra fds (3..3+N-1) to the container")
}

func (f *createFlags) opts() oci.CreateOpts {
	return oci.CreateOpts{Bundle: f.bundle, PidFile: f.pidFile, ConsoleSocket: f.consoleSocket,
		NoPivot: f.noPivot, NoNewKeyring: f.noNewKeyring, PreserveFDs: f.preserveFDs}
}

func rtCreate(o *runtimeOpts) *cobra.Command {
	f := &createFlags{}
	c := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "create a container (its process waits for start)",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := o.runtime().Create(args[0], f.opts())
			return err
		},
	}
	f.add(c)
	return c
}

func rtRun(o *runtimeOpts) *cobra.Command {
	f := &createFlags{}
	var detach bool
	c := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "create and start a container, wait for it and delete it",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := o.runtime().Run(args[0], f.opts(), detach)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f.add(c)
	c.Flags().BoolVarP(&detach, "detach", "d", false, "return after start instead of waiting")
	c.Flags().Bool("keep", false, "accepted for compatibility")
	return c
}

func rtStart(o *runtimeOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "start a created container",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			return c.Start()
		},
	}
}

func rtState(o *runtimeOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "state <container-id>",
		Short: "print the state of a container as JSON",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(c.SpecState(), "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}

func rtKill(o *runtimeOpts) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "send a signal (default SIGTERM) to the container's init",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := "SIGTERM"
			if len(args) == 2 {
				sig = args[1]
			}
			s, err := oci.ParseSignal(sig)
			if err != nil {
				return err
			}
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			return c.Signal(s, all)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process of the container")
	return c
}

func rtDelete(o *runtimeOpts) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "delete [flags] <container-id>",
		Short: "delete a container's state and resources",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if force {
				// like runc: engines force-delete after a failed create
				return o.runtime().ForceDelete(args[0])
			}
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			return c.Delete(false)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is running")
	return c
}

func rtList(o *runtimeOpts) *cobra.Command {
	var format string
	var quiet bool
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "list containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := o.runtime().List()
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range cs {
					fmt.Println(c.State.ID)
				}
				return nil
			}
			var sts []oci.SpecState
			for _, c := range cs {
				sts = append(sts, c.SpecState())
			}
			switch format {
			case "json":
				if sts == nil {
					sts = []oci.SpecState{}
				}
				b, err := json.Marshal(sts)
				if err != nil {
					return err
				}
				fmt.Println(string(b))
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range sts {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				w.Flush()
			default:
				return fmt.Errorf("--format %q: want table or json", format)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the container ids")
	return c
}

func rtExec(o *runtimeOpts) *cobra.Command {
	var (
		procFile, cwd, user, pidFile, consoleSocket, apparmor, label string
		env, capsAdd                                                 []string
		gids                                                         []int
		tty, detach, nnp                                             bool
		preserve                                                     int
	)
	c := &cobra.Command{
		Use:   "exec [flags] <container-id> [command [args...]]",
		Short: "run a new process in a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			var p *specs.Process
			if procFile != "" {
				b, err := os.ReadFile(procFile)
				if err != nil {
					return fmt.Errorf("--process: %w", err)
				}
				p = new(specs.Process)
				if err := json.Unmarshal(b, p); err != nil {
					return fmt.Errorf("--process %s: malformed JSON: %w", procFile, err)
				}
			} else {
				if len(args) < 2 {
					return fmt.Errorf("exec: give a command or --process")
				}
				base := c.State.Spec.Process
				p = &specs.Process{Args: args[1:], Env: append([]string(nil), base.Env...), Cwd: base.Cwd,
					User: base.User, Capabilities: base.Capabilities, Rlimits: base.Rlimits,
					NoNewPrivileges: base.NoNewPrivileges, ApparmorProfile: base.ApparmorProfile,
					SelinuxLabel: base.SelinuxLabel, Terminal: tty}
			}
			if cmd.Flags().Changed("tty") {
				p.Terminal = tty
			}
			p.Env = append(p.Env, env...)
			if cwd != "" {
				p.Cwd = cwd
			}
			if user != "" {
				u, g, hasG := strings.Cut(user, ":")
				uid, err := strconv.ParseUint(u, 10, 32)
				if err != nil {
					return fmt.Errorf("--user %q: want uid[:gid]", user)
				}
				p.User.UID = uint32(uid)
				if hasG {
					gid, err := strconv.ParseUint(g, 10, 32)
					if err != nil {
						return fmt.Errorf("--user %q: want uid[:gid]", user)
					}
					p.User.GID = uint32(gid)
				}
			}
			for _, g := range gids {
				p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
			}
			if len(capsAdd) > 0 {
				if p.Capabilities == nil {
					p.Capabilities = &specs.LinuxCapabilities{}
				} else {
					cp := *p.Capabilities
					p.Capabilities = &cp
				}
				pc := p.Capabilities
				pc.Bounding = append(append([]string(nil), pc.Bounding...), capsAdd...)
				pc.Effective = append(append([]string(nil), pc.Effective...), capsAdd...)
				pc.Permitted = append(append([]string(nil), pc.Permitted...), capsAdd...)
			}
			if nnp {
				p.NoNewPrivileges = true
			}
			if apparmor != "" {
				p.ApparmorProfile = apparmor
			}
			if label != "" {
				p.SelinuxLabel = label
			}
			code, err := c.Exec(oci.ExecOpts{Process: p, PidFile: pidFile, ConsoleSocket: consoleSocket,
				Detach: detach, PreserveFDs: preserve})
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.SetInterspersed(false)
	fl.StringVarP(&procFile, "process", "p", "", "path to a process.json (runtime-spec Process)")
	fl.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "detach from the process")
	fl.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	fl.StringVar(&cwd, "cwd", "", "working directory in the container")
	fl.StringVarP(&user, "user", "u", "", "uid[:gid] to run as")
	fl.IntSliceVarP(&gids, "additional-gids", "g", nil, "additional gids")
	fl.StringArrayVarP(&capsAdd, "cap", "c", nil, "add a capability (e.g. CAP_NET_ADMIN)")
	fl.StringVar(&pidFile, "pid-file", "", "file to write the process pid to")
	fl.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fl.IntVar(&preserve, "preserve-fds", 0, "pass N extra fds to the process")
	fl.BoolVar(&nnp, "no-new-privs", false, "set no_new_privs")
	fl.StringVar(&apparmor, "apparmor", "", "AppArmor profile")
	fl.StringVar(&label, "process-label", "", "SELinux label")
	return c
}

func rtPs(o *runtimeOpts) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "ps [flags] <container-id> [ps options]",
		Short: "list the processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			pids, err := c.Pids()
			if err != nil {
				return err
			}
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				b, _ := json.Marshal(pids)
				fmt.Println(string(b))
				return nil
			}
			if format != "table" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			psArgs := []string{"-ef"}
			if len(args) > 1 {
				psArgs = args[1:]
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps %v: %w", psArgs, err)
			}
			return filterPs(os.Stdout, string(out), pids)
		},
	}
	c.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	c.Flags().SetInterspersed(false)
	return c
}

func filterPs(w io.Writer, out string, pids []int) error {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps output has no PID column")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Fprintln(w, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > col {
			if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
				fmt.Fprintln(w, l)
			}
		}
	}
	return nil
}

func rtPause(o *runtimeOpts) *cobra.Command {
	return &cobra.Command{
		Use: "pause <container-id>", Short: "freeze every process of a container", Args: exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			return c.Pause()
		},
	}
}

func rtResume(o *runtimeOpts) *cobra.Command {
	return &cobra.Command{
		Use: "resume <container-id>", Short: "thaw a paused container", Args: exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			return c.Resume()
		},
	}
}

func rtEvents(o *runtimeOpts) *cobra.Command {
	var stats bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "events [flags] <container-id>",
		Short: "print container events and resource usage as JSON lines",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive")
			}
			enc := json.NewEncoder(os.Stdout)
			for {
				if c.Status() == specs.StateStopped {
					if stats {
						return fmt.Errorf("container %q is not running", c.State.ID)
					}
					return nil
				}
				st, err := c.Stats()
				if err != nil {
					return err
				}
				if err := enc.Encode(map[string]any{"type": "stats", "id": c.State.ID, "data": st}); err != nil {
					return err
				}
				if stats {
					return nil
				}
				time.Sleep(interval)
			}
		},
	}
	c.Flags().BoolVar(&stats, "stats", false, "print one stats event and exit")
	c.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between stats events")
	return c
}

func rtUpdate(o *runtimeOpts) *cobra.Command {
	var resFile string
	var (
		memory, memRes, memSwap, kmem, cpuQuota, cpuRtRuntime, pidsLimit int64
		cpuShares, cpuPeriod, cpuRtPeriod                                uint64
		blkioWeight                                                      uint16
		cpus, mems                                                       string
	)
	c := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "update the resource limits of a container",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.load(args[0])
			if err != nil {
				return err
			}
			r := &specs.LinuxResources{}
			if resFile != "" {
				var in io.Reader = os.Stdin
				if resFile != "-" {
					f, err := os.Open(resFile)
					if err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer f.Close()
					in = f
				}
				if err := json.NewDecoder(in).Decode(r); err != nil {
					return fmt.Errorf("--resources %s: malformed JSON: %w", resFile, err)
				}
			}
			fl := cmd.Flags()
			mem := func() *specs.LinuxMemory {
				if r.Memory == nil {
					r.Memory = &specs.LinuxMemory{}
				}
				return r.Memory
			}
			cpu := func() *specs.LinuxCPU {
				if r.CPU == nil {
					r.CPU = &specs.LinuxCPU{}
				}
				return r.CPU
			}
			if fl.Changed("memory") {
				mem().Limit = &memory
			}
			if fl.Changed("memory-reservation") {
				mem().Reservation = &memRes
			}
			if fl.Changed("memory-swap") {
				mem().Swap = &memSwap
			}
			if fl.Changed("kernel-memory") {
				mem().Kernel = &kmem
			}
			if fl.Changed("cpu-shares") {
				cpu().Shares = &cpuShares
			}
			if fl.Changed("cpu-quota") {
				cpu().Quota = &cpuQuota
			}
			if fl.Changed("cpu-period") {
				cpu().Period = &cpuPeriod
			}
			if fl.Changed("cpu-rt-period") {
				cpu().RealtimePeriod = &cpuRtPeriod
			}
			if fl.Changed("cpu-rt-runtime") {
				cpu().RealtimeRuntime = &cpuRtRuntime
			}
			if fl.Changed("cpuset-cpus") {
				cpu().Cpus = cpus
			}
			if fl.Changed("cpuset-mems") {
				cpu().Mems = mems
			}
			if fl.Changed("pids-limit") {
				r.Pids = &specs.LinuxPids{Limit: pidsLimit}
			}
			if fl.Changed("blkio-weight") {
				r.BlockIO = &specs.LinuxBlockIO{Weight: &blkioWeight}
			}
			return c.Update(r)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&resFile, "resources", "r", "", "path to a JSON file of linux.resources ('-' for stdin)")
	fl.Int64Var(&memory, "memory", 0, "memory limit in bytes")
	fl.Int64Var(&memRes, "memory-reservation", 0, "memory soft limit in bytes")
	fl.Int64Var(&memSwap, "memory-swap", 0, "memory plus swap limit in bytes (-1: unlimited)")
	fl.Int64Var(&kmem, "kernel-memory", 0, "kernel memory limit (ignored on kernels without it)")
	fl.Uint64Var(&cpuShares, "cpu-shares", 0, "CPU shares (relative weight)")
	fl.Int64Var(&cpuQuota, "cpu-quota", 0, "CPU CFS quota in microseconds")
	fl.Uint64Var(&cpuPeriod, "cpu-period", 0, "CPU CFS period in microseconds")
	fl.Uint64Var(&cpuRtPeriod, "cpu-rt-period", 0, "CPU realtime period in microseconds")
	fl.Int64Var(&cpuRtRuntime, "cpu-rt-runtime", 0, "CPU realtime runtime in microseconds")
	fl.StringVar(&cpus, "cpuset-cpus", "", "CPUs to use (0-3, 0,1)")
	fl.StringVar(&mems, "cpuset-mems", "", "memory nodes to use")
	fl.Int64Var(&pidsLimit, "pids-limit", 0, "maximum number of pids (-1: unlimited)")
	fl.Uint16Var(&blkioWeight, "blkio-weight", 0, "block IO weight (10-1000)")
	return c
}

func rtFeatures(o *runtimeOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "print what this runtime supports, as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := json.MarshalIndent(oci.Features(), "", "    ")
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
}
