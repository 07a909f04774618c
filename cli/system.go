package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/version"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/engine"
)

// Version is berth's version (internal/version, set at build time with -ldflags -X).
var Version = version.Version

// APIVersion is the Docker Engine API version berth speaks.
const APIVersion = "1.43"

var systemCmd = &cobra.Command{Use: "system", Short: "Manage berth"}

func addSystemCommands() {
	Root.AddCommand(systemCmd, newVersionCmd(), newInfoCmd(), newEventsCmd())
	systemCmd.AddCommand(newInfoCmd(), newEventsCmd(), newDfCmd(), newSystemPruneCmd(), newSystemResetCmd())
}

func newVersionCmd() *cobra.Command {
	var fmtFlag string
	c := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]any{
				"Client": map[string]any{"Version": Version, "ApiVersion": APIVersion, "GoVersion": runtime.Version(), "Os": runtime.GOOS, "Arch": runtime.GOARCH, "GitCommit": vcsRevision()},
				"Server": map[string]any{"Version": Version, "ApiVersion": APIVersion, "MinAPIVersion": "1.24", "Os": runtime.GOOS, "Arch": runtime.GOARCH, "KernelVersion": kernelVersion()},
			}
			if fmtFlag != "" {
				f, err := format.Parse(fmtFlag, "")
				if err != nil {
					return err
				}
				return f.Execute(cmd.OutOrStdout(), []any{v}, nil)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "Client:\n Version:\t%s\n API version:\t%s\n Go version:\t%s\n Git commit:\t%s\n OS/Arch:\t%s/%s\n\n", Version, APIVersion, runtime.Version(), vcsRevision(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(tw, "Server: berth (daemonless)\n Engine:\n  Version:\t%s\n  API version:\t%s (minimum version 1.24)\n  OS/Arch:\t%s/%s\n  Kernel:\t%s\n", Version, APIVersion, runtime.GOOS, runtime.GOARCH, kernelVersion())
			return tw.Flush()
		},
	}
	c.Flags().StringVarP(&fmtFlag, "format", "f", "", "format the output using the given Go template")
	return c
}

func vcsRevision() string { return version.Revision() }

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func cgroupVersion() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "2"
	}
	return "1"
}

func newInfoCmd() *cobra.Command {
	var fmtFlag string
	c := &cobra.Command{
		Use:   "info",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, err := openEngine()
			if err != nil {
				return err
			}
			cs, err := e.List(ctx)
			if err != nil {
				return err
			}
			var running, paused, stopped int
			for _, c := range cs {
				switch c.State.Status {
				case engine.StatusRunning, engine.StatusRestarting:
					running++
				case engine.StatusPaused:
					paused++
				default:
					stopped++
				}
			}
			nimg := 0
			if s, err := openStore(); err == nil {
				if imgs, err := s.Images(ctx); err == nil {
					nimg = len(imgs)
				}
			}
			host, _ := os.Hostname()
			var si unix.Sysinfo_t
			unix.Sysinfo(&si)
			info := map[string]any{
				"ID": "", "Containers": len(cs), "ContainersRunning": running, "ContainersPaused": paused, "ContainersStopped": stopped,
				"Images": nimg, "Driver": globals.snapshotter, "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroupVersion(),
				"KernelVersion": kernelVersion(), "OperatingSystem": osName(), "OSType": "linux", "Architecture": runtime.GOARCH,
				"NCPU": runtime.NumCPU(), "MemTotal": uint64(si.Totalram) * uint64(si.Unit), "Name": host, "ServerVersion": Version,
				"DockerRootDir": globals.root, "DefaultRuntime": "berth", "Runtimes": map[string]any{"berth": map[string]string{"path": "berth-runc"}},
				"SecurityOptions": securityOptions(),
			}
			if fmtFlag != "" {
				f, err := format.Parse(fmtFlag, "")
				if err != nil {
					return err
				}
				b, _ := json.Marshal(info)
				var m map[string]any
				json.Unmarshal(b, &m)
				return f.Execute(cmd.OutOrStdout(), []any{m}, nil)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n Server Version: %s\n Storage Driver: %s\n Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: %s\n Runtimes: berth runc crun (by --runtime path)\n Default Runtime: berth\n Security Options: %s\n Kernel Version: %s\n Operating System: %s\n OSType: linux\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n Name: %s\n Berth Root Dir: %s\n Run Root Dir: %s\n",
				len(cs), running, paused, stopped, nimg, Version, globals.snapshotter, cgroupVersion(), strings.Join(securityOptions(), ", "), kernelVersion(), osName(), runtime.GOARCH, runtime.NumCPU(), binSize(uint64(si.Totalram)*uint64(si.Unit)), host, globals.root, globals.runroot)
			return nil
		},
	}
	c.Flags().StringVarP(&fmtFlag, "format", "f", "", "format the output using the given Go template")
	return c
}

func securityOptions() []string {
	out := []string{"name=seccomp,profile=builtin"}
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err == nil {
		out = append(out, "name=apparmor")
	}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		out = append(out, "name=selinux")
	}
	return out
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func newEventsCmd() *cobra.Command {
	var sinceS, untilS, fmtFlag string
	var filters []string
	c := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from berth",
		Long:  "Stream container events (create, start, die, stop, kill, destroy, pause, unpause, rename) as berth commands and container monitors record them.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, err := openEngine()
			if err != nil {
				return err
			}
			since, err := parseTimeFlag("since", sinceS)
			if err != nil {
				return err
			}
			until, err := parseTimeFlag("until", untilS)
			if err != nil {
				return err
			}
			if until.IsZero() && untilS == "" {
				until = time.Time{}
			}
			match, err := eventFilter(filters)
			if err != nil {
				return err
			}
			var f *format.Format
			if fmtFlag != "" {
				if f, err = format.Parse(fmtFlag, ""); err != nil {
					return err
				}
			}
			follow := untilS == ""
			return e.Events(ctx, since, until, follow, func(ev engine.Event) error {
				if !match(ev) {
					return nil
				}
				if f != nil {
					b, _ := json.Marshal(ev)
					var m map[string]any
					json.Unmarshal(b, &m)
					return f.Execute(cmd.OutOrStdout(), []any{m}, nil)
				}
				var attrs []string
				for k, v := range ev.Actor.Attributes {
					attrs = append(attrs, k+"="+v)
				}
				sortStrings(attrs)
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s %s (%s)\n", time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000-07:00"), ev.Type, ev.Action, ev.Actor.ID, strings.Join(attrs, ", "))
				return err
			})
		},
	}
	c.Flags().StringVar(&sinceS, "since", "", "show all events created since timestamp")
	c.Flags().StringVar(&untilS, "until", "", "stream events until this timestamp")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided (container, event, type, label, image)")
	c.Flags().StringVar(&fmtFlag, "format", "", "format the output using the given Go template")
	return c
}

func eventFilter(filters []string) (func(engine.Event) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		switch k {
		case "container", "event", "type", "label", "image":
		default:
			return nil, fmt.Errorf("invalid filter %q", k)
		}
		by[k] = append(by[k], v)
	}
	return func(ev engine.Event) bool {
		for k, vs := range by {
			ok := false
			for _, v := range vs {
				switch k {
				case "container":
					ok = ok || strings.HasPrefix(ev.Actor.ID, v) || ev.Actor.Attributes["name"] == v
				case "event":
					ok = ok || ev.Action == v
				case "type":
					ok = ok || ev.Type == v
				case "image":
					ok = ok || ev.Actor.Attributes["image"] == v
				case "label":
					lk, lv, has := strings.Cut(v, "=")
					got, exists := ev.Actor.Attributes[lk]
					ok = ok || exists && (!has || got == lv)
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func newDfCmd() *cobra.Command {
	var verbose bool
	var fmtFlag string
	c := &cobra.Command{
		Use:   "df",
		Short: "Show berth disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return diskUsage(bg(cmd.Context()), cmd, fmtFlag)
		},
	}
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	c.Flags().StringVar(&fmtFlag, "format", "", "format output using a Go template")
	return c
}

type dfRow struct{ Type, TotalCount, Active, Size, Reclaimable string }

func diskUsage(ctx context.Context, cmd *cobra.Command, fmtFlag string) error {
	e, err := openEngine()
	if err != nil {
		return err
	}
	cs, err := e.List(ctx)
	if err != nil {
		return err
	}
	var rows []any
	// Images.
	s, err := openStore()
	if err != nil {
		return err
	}
	imgs, err := allImages(ctx, s)
	if err != nil {
		return err
	}
	usedImg := map[string]bool{}
	for _, c := range cs {
		usedImg[c.ImageID] = true
	}
	var isize, ireclaim int64
	active := 0
	seen := map[string]bool{}
	for _, li := range imgs {
		id := li.ID().String()
		if seen[id] {
			continue
		}
		seen[id] = true
		sz := imageSize(li)
		isize += sz
		if usedImg[id] {
			active++
		} else {
			ireclaim += sz
		}
	}
	rows = append(rows, dfRow{"Images", fmt.Sprint(len(seen)), fmt.Sprint(active), humanSize(isize), reclaimPct(ireclaim, isize)})
	// Containers.
	var csize, creclaim int64
	cactive := 0
	for _, c := range cs {
		sz, _ := e.RWSize(ctx, c)
		csize += sz
		if c.State.Running() {
			cactive++
		} else {
			creclaim += sz
		}
	}
	rows = append(rows, dfRow{"Containers", fmt.Sprint(len(cs)), fmt.Sprint(cactive), humanSize(csize), reclaimPct(creclaim, csize)})
	// Volumes.
	vrow, err := volumeUsage(ctx, e, cs)
	if err != nil {
		return err
	}
	rows = append(rows, vrow)
	f, err := format.Parse(fmtFlag, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}")
	if err != nil {
		return err
	}
	return f.Execute(cmd.OutOrStdout(), rows, map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Reclaimable": "RECLAIMABLE"})
}

func reclaimPct(r, total int64) string {
	if total == 0 {
		return humanSize(r)
	}
	return fmt.Sprintf("%s (%d%%)", humanSize(r), r*100/total)
}

func newSystemPruneCmd() *cobra.Command {
	var all, force, volumes bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data: stopped containers, unused images (dangling; all with -a), and with --volumes unused anonymous volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			out := cmd.OutOrStdout()
			if !force && !confirm(cmd.InOrStdin(), out, "WARNING! This will remove:\n  - all stopped containers\n  - unused build cache and blobs\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			removed, reclaimed, err := pruneContainers(ctx, filters)
			if err != nil {
				return err
			}
			printDeleted(out, "Deleted Containers:", removed)
			if volumes {
				vr, vb, err := pruneVolumes(ctx, nil)
				if err != nil {
					return err
				}
				printDeleted(out, "Deleted Volumes:", vr)
				reclaimed += vb
			}
			fmt.Fprintf(out, "Containers and volumes: reclaimed %s\n", humanSize(reclaimed))
			return prune(ctx, out, all)
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images not just dangling ones")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	c.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (until=, label=)")
	return c
}

func newSystemResetCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "reset [OPTIONS]",
		Short: "Remove all containers, networks, volumes and images: berth's state under --root and --runroot, and its bridges and firewall chains on the host",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			if !force && !confirm(cmd.InOrStdin(), cmd.OutOrStdout(), fmt.Sprintf("WARNING! This removes every container, image, volume and network under %s and %s.\nAre you sure you want to continue? [y/N] ", globals.root, globals.runroot)) {
				return nil
			}
			return systemReset(ctx)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return c
}

// systemReset removes everything berth has under its roots, and what it
// put on the host for them (bridges, firewall chains, mounts).
func systemReset(ctx context.Context) error {
	var errs []error
	e, err := openEngine()
	if err != nil {
		return err
	}
	if cs, err := e.List(ctx); err == nil {
		for _, c := range cs {
			if err := e.Remove(ctx, c.ID, engine.RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, engine.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	if m, err := e.Networks(); err == nil {
		if err := m.Teardown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range []string{globals.runroot, globals.root} {
		unmountUnder(dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			ms = append(ms, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	for _, m := range ms {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}
