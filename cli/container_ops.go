package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/oci/cgroups"
)

func addContainerOpsCommands() {
	for _, mk := range []func() *cobra.Command{newTopCmd, newStatsCmd, newPortCmd, newUpdateCmd} {
		Root.AddCommand(mk())
		containerCmd.AddCommand(mk())
	}
	containerCmd.AddCommand(newContainerPruneCmd())
}

func newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  minArgs(1, "top"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine()
			if err != nil {
				return err
			}
			titles, rows, err := e.Top(bg(cmd.Context()), args[0], args[1:])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(titles, "\t"))
			for _, r := range rows {
				fmt.Fprintln(tw, strings.Join(r, "\t"))
			}
			return tw.Flush()
		},
	}
}

// statsRow is one `stats` line (Docker's template fields).
type statsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

var statsHeaders = map[string]string{"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O"}

type sample struct {
	at  time.Time
	cpu uint64
	s   cgroups.Stats
	net [2]uint64
}

func newStatsCmd() *cobra.Command {
	var all, noStream, noTrunc bool
	var fmtFlag string
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Long:  "CPU, memory, block I/O and pids from the container's cgroups; network I/O from its network namespace.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, err := openEngine()
			if err != nil {
				return err
			}
			f, err := format.Parse(fmtFlag, "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
			if err != nil {
				return err
			}
			pick := func() ([]*engine.Container, error) {
				if len(args) > 0 {
					var cs []*engine.Container
					for _, a := range args {
						c, err := e.Get(ctx, a)
						if err != nil {
							return nil, err
						}
						cs = append(cs, c)
					}
					return cs, nil
				}
				cs, err := e.List(ctx)
				if err != nil {
					return nil, err
				}
				var out []*engine.Container
				for _, c := range cs {
					if all || c.State.Running() {
						out = append(out, c)
					}
				}
				sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
				return out, nil
			}
			prev := map[string]*sample{}
			for first := true; ; first = false {
				cs, err := pick()
				if err != nil {
					return err
				}
				cur := map[string]*sample{}
				for _, c := range cs {
					if s := takeSample(ctx, e, c); s != nil {
						cur[c.ID] = s
					}
				}
				if first && noStream {
					// CPU % needs two samples, as Docker's --no-stream.
					time.Sleep(500 * time.Millisecond)
					prev = cur
					cur = map[string]*sample{}
					for _, c := range cs {
						if s := takeSample(ctx, e, c); s != nil {
							cur[c.ID] = s
						}
					}
				}
				rows := make([]any, 0, len(cs))
				for _, c := range cs {
					rows = append(rows, statsLine(c, cur[c.ID], prev[c.ID], noTrunc))
				}
				if !noStream && f.IsTable() {
					fmt.Fprint(cmd.OutOrStdout(), "\033[2J\033[H")
				}
				if err := f.Execute(cmd.OutOrStdout(), rows, statsHeaders); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				prev = cur
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	c.Flags().BoolVar(&noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	c.Flags().StringVar(&fmtFlag, "format", "", "format output using a Go template or json")
	return c
}

func takeSample(ctx context.Context, e *engine.Engine, c *engine.Container) *sample {
	if !c.State.Running() {
		return nil
	}
	raw, err := e.RawStats(ctx, c)
	if err != nil {
		return nil
	}
	s := &sample{at: time.Now()}
	if json.Unmarshal(raw, &s.s) != nil {
		return nil
	}
	s.cpu = s.s.CPU.Usage.Total
	s.net = netIO(c.State.Pid)
	return s
}

// netIO sums rx/tx bytes of the container's interfaces but lo.
func netIO(pid int) [2]uint64 {
	var out [2]uint64
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) >= 9 {
			rx, _ := strconv.ParseUint(fs[0], 10, 64)
			tx, _ := strconv.ParseUint(fs[8], 10, 64)
			out[0] += rx
			out[1] += tx
		}
	}
	return out
}

func statsLine(c *engine.Container, cur, prev *sample, noTrunc bool) statsRow {
	r := statsRow{Container: shortCID(c.ID, noTrunc), ID: shortCID(c.ID, noTrunc), Name: c.Name, CPUPerc: "--", MemUsage: "-- / --", MemPerc: "--", NetIO: "--", BlockIO: "--", PIDs: "--"}
	if cur == nil {
		return r
	}
	if prev != nil && cur.at.After(prev.at) && cur.cpu >= prev.cpu {
		pct := float64(cur.cpu-prev.cpu) / float64(cur.at.Sub(prev.at).Nanoseconds()) * 100
		r.CPUPerc = fmt.Sprintf("%.2f%%", pct)
	} else {
		r.CPUPerc = "0.00%"
	}
	m := cur.s.Memory
	usage := m.Usage.Usage
	if inactive, ok := m.Raw["total_inactive_file"]; ok && inactive < usage {
		usage -= inactive
	} else if inactive, ok := m.Raw["inactive_file"]; ok && inactive < usage {
		usage -= inactive
	}
	limit := m.Usage.Limit
	if host := hostMemory(); limit == 0 || limit > host {
		limit = host
	}
	r.MemUsage = fmt.Sprintf("%s / %s", binSize(usage), binSize(limit))
	if limit > 0 {
		r.MemPerc = fmt.Sprintf("%.2f%%", float64(usage)/float64(limit)*100)
	}
	r.NetIO = fmt.Sprintf("%s / %s", decSize(cur.net[0]), decSize(cur.net[1]))
	var rd, wr uint64
	for _, b := range cur.s.Blkio.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			rd += b.Value
		case "write":
			wr += b.Value
		}
	}
	r.BlockIO = fmt.Sprintf("%s / %s", decSize(rd), decSize(wr))
	r.PIDs = fmt.Sprint(cur.s.Pids.Current)
	return r
}

func hostMemory() uint64 {
	var si struct{}
	_ = si
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseUint(f[1], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

func binSize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func decSize(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

func newPortCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := openContainer(bg(cmd.Context()), args[0])
			if err != nil {
				return err
			}
			if c.Network == nil || !c.State.Running() {
				if len(args) == 2 {
					return fmt.Errorf("no public port '%s' published for %s", args[1], c.ID[:12])
				}
				return nil
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
			}
			found := false
			for _, p := range c.Network.Ports {
				k := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
				ip := p.HostIP
				if ip == "" {
					ip = "0.0.0.0"
				}
				if want == "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s:%d\n", k, ip, p.HostPort)
				} else if k == want {
					fmt.Fprintf(cmd.OutOrStdout(), "%s:%d\n", ip, p.HostPort)
					found = true
				}
			}
			if want != "" && !found {
				return fmt.Errorf("no public port '%s' published for %s", args[1], c.ID[:12])
			}
			return nil
		},
	}
}

func newUpdateCmd() *cobra.Command {
	var memory, memRes, memSwap, cpus, cpusetCpus, restart string
	var cpuShares, pidsLimit int64
	c := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1, "update"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			fl := cmd.Flags()
			var rtArgs []string
			var setters []func(*engine.HostConfig)
			if fl.Changed("memory") {
				n, err := sizeFlag("memory", memory)
				if err != nil {
					return err
				}
				rtArgs = append(rtArgs, "--memory", fmt.Sprint(n))
				setters = append(setters, func(h *engine.HostConfig) { h.Memory = n })
			}
			if fl.Changed("memory-reservation") {
				n, err := sizeFlag("memory-reservation", memRes)
				if err != nil {
					return err
				}
				rtArgs = append(rtArgs, "--memory-reservation", fmt.Sprint(n))
				setters = append(setters, func(h *engine.HostConfig) { h.MemoryReservation = n })
			}
			if fl.Changed("memory-swap") {
				var n int64 = -1
				if memSwap != "-1" {
					var err error
					if n, err = sizeFlag("memory-swap", memSwap); err != nil {
						return err
					}
				}
				rtArgs = append(rtArgs, "--memory-swap", fmt.Sprint(n))
				setters = append(setters, func(h *engine.HostConfig) { h.MemorySwap = n })
			}
			if fl.Changed("cpus") {
				f, err := strconv.ParseFloat(cpus, 64)
				if err != nil || f < 0 || f > float64(runtime.NumCPU()) {
					return fmt.Errorf("invalid value %q for --cpus: want a number between 0 and %d", cpus, runtime.NumCPU())
				}
				quota := int64(f * 100000)
				rtArgs = append(rtArgs, "--cpu-period", "100000", "--cpu-quota", fmt.Sprint(quota))
				setters = append(setters, func(h *engine.HostConfig) { h.NanoCpus = int64(f * 1e9) })
			}
			if fl.Changed("cpu-shares") {
				rtArgs = append(rtArgs, "--cpu-share", fmt.Sprint(cpuShares))
				setters = append(setters, func(h *engine.HostConfig) { h.CpuShares = cpuShares })
			}
			if fl.Changed("cpuset-cpus") {
				rtArgs = append(rtArgs, "--cpuset-cpus", cpusetCpus)
				setters = append(setters, func(h *engine.HostConfig) { h.CpusetCpus = cpusetCpus })
			}
			if fl.Changed("pids-limit") {
				rtArgs = append(rtArgs, "--pids-limit", fmt.Sprint(pidsLimit))
				setters = append(setters, func(h *engine.HostConfig) { p := pidsLimit; h.PidsLimit = &p })
			}
			if fl.Changed("restart") {
				rp, err := parseRestartFlag(restart)
				if err != nil {
					return err
				}
				setters = append(setters, func(h *engine.HostConfig) { h.RestartPolicy = rp })
			}
			if len(setters) == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			return eachContainer(args, func(e *engine.Engine, ref string) error {
				return e.Update(ctx, ref, func(h *engine.HostConfig) {
					for _, s := range setters {
						s(h)
					}
				}, rtArgs)
			})
		},
	}
	fl := c.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "memory limit")
	fl.StringVar(&memRes, "memory-reservation", "", "memory soft limit")
	fl.StringVar(&memSwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fl.StringVar(&cpus, "cpus", "", "number of CPUs")
	fl.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Int64Var(&pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&restart, "restart", "", "restart policy to apply when a container exits")
	return c
}

func newContainerPruneCmd() *cobra.Command {
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			if !force && !confirm(cmd.InOrStdin(), cmd.OutOrStdout(), "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			removed, reclaimed, err := pruneContainers(ctx, filters)
			if err != nil {
				return err
			}
			printDeleted(cmd.OutOrStdout(), "Deleted Containers:", removed)
			fmt.Fprintf(cmd.OutOrStdout(), "Total reclaimed space: %s\n", humanSize(reclaimed))
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (until=<timestamp>, label=<key>[=<value>])")
	return c
}

// pruneContainers removes the stopped containers that match filters.
func pruneContainers(ctx context.Context, filters []string) ([]string, int64, error) {
	e, err := openEngine()
	if err != nil {
		return nil, 0, err
	}
	var until time.Time
	var labelFilters []string
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "until":
			if until, err = parseTimeFlag("until", v); err != nil {
				return nil, 0, err
			}
		case "label":
			labelFilters = append(labelFilters, f)
		default:
			return nil, 0, fmt.Errorf("invalid filter %q (until, label)", k)
		}
	}
	all, err := e.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	pred, err := containerFilter(e, all, labelFilters)
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var reclaimed int64
	for _, c := range all {
		if c.State.Running() || !pred(c) || (!until.IsZero() && !c.Created.Before(until)) {
			continue
		}
		if c.State.Status != engine.StatusExited && c.State.Status != engine.StatusCreated && c.State.Status != engine.StatusDead {
			continue
		}
		size, _ := e.RWSize(ctx, c)
		if err := e.Remove(ctx, c.ID, engine.RemoveOptions{}); err != nil {
			continue
		}
		removed = append(removed, c.ID)
		reclaimed += size
	}
	return removed, reclaimed, nil
}

func parseRestartFlag(s string) (engine.RestartPolicy, error) {
	name, n, _ := strings.Cut(s, ":")
	rp := engine.RestartPolicy{Name: name}
	switch name {
	case "no", "always", "unless-stopped":
		if n != "" {
			return rp, fmt.Errorf("invalid restart policy %q: maximum retry count only with on-failure", s)
		}
	case "on-failure":
		if n != "" {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return rp, fmt.Errorf("invalid restart policy %q: bad retry count", s)
			}
			rp.MaximumRetryCount = v
		}
	default:
		return rp, fmt.Errorf("invalid restart policy %q", s)
	}
	return rp, nil
}

// confirm asks a yes/no question on in.
func confirm(in io.Reader, out io.Writer, q string) bool {
	fmt.Fprint(out, q)
	line, _ := bufio.NewReader(in).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}
