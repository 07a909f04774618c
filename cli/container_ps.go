package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/engine"
)

func addContainerPsCommands() {
	Root.AddCommand(newPsCmd())
	ls := newPsCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
	containerCmd.AddCommand(ls)
}

type psOpts struct {
	all, quiet, noTrunc, size, latest bool
	last                              int
	filters                           []string
	format                            string
}

func newPsCmd() *cobra.Command {
	var o psOpts
	c := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Example: `  berth ps -a
  berth ps --filter status=exited --format '{{.ID}} {{.Status}}'
  berth ps -q --filter label=app=web`,
		Args: exactArgs(0, "ps"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listContainers(bg(cmd.Context()), cmd.OutOrStdout(), &o)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&o.all, "all", "a", false, "show all containers (default shows just running)")
	fl.BoolVarP(&o.quiet, "quiet", "q", false, "only display container IDs")
	fl.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	fl.BoolVarP(&o.size, "size", "s", false, "display total file sizes")
	fl.BoolVarP(&o.latest, "latest", "l", false, "show the latest created container")
	fl.IntVarP(&o.last, "last", "n", -1, "show n last created containers")
	fl.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output based on conditions provided (id, name, label, status, exited, ancestor, before, since, health)")
	fl.StringVar(&o.format, "format", "", "format output using a Go template, 'table', 'table TEMPLATE' or 'json'")
	return c
}

// psRow is a `ps` line; its fields are what --format templates see
// (Docker's names).
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts, Networks string
	c                                                                                                      *engine.Container
}

// Label returns one label's value ({{.Label "k"}}).
func (r psRow) Label(k string) string { return r.c.Config.Labels[k] }

var psHeaders = map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}

func listContainers(ctx context.Context, out io.Writer, o *psOpts) error {
	e, err := openEngine()
	if err != nil {
		return err
	}
	all, err := e.List(ctx)
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	pred, err := containerFilter(e, all, o.filters)
	if err != nil {
		return err
	}
	showAll := o.all || o.latest || o.last > 0 || hasStatusFilter(o.filters)
	var shown []*engine.Container
	for _, c := range all {
		if !showAll && !c.State.Running() {
			continue
		}
		if pred(c) {
			shown = append(shown, c)
		}
	}
	if o.latest && len(shown) > 1 {
		shown = shown[:1]
	}
	if o.last > 0 && len(shown) > o.last {
		shown = shown[:o.last]
	}
	if o.quiet && o.format == "" {
		for _, c := range shown {
			fmt.Fprintln(out, shortCID(c.ID, o.noTrunc))
		}
		return nil
	}
	def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	if o.size {
		def += "\t{{.Size}}"
	}
	f, err := format.Parse(o.format, def)
	if err != nil {
		return err
	}
	rows := make([]any, 0, len(shown))
	for _, c := range shown {
		rows = append(rows, makePsRow(ctx, e, c, o.noTrunc, o.size))
	}
	return f.Execute(out, rows, psHeaders)
}

func makePsRow(ctx context.Context, e *engine.Engine, c *engine.Container, noTrunc, size bool) psRow {
	cmd := strings.Join(append(append([]string{}, entrypointOf(c)...), cmdOf(c)...), " ")
	if !noTrunc {
		cmd = truncate(cmd, 20)
	}
	cmd = strconv.Quote(cmd)
	r := psRow{
		ID:         shortCID(c.ID, noTrunc),
		Image:      c.Image,
		Command:    cmd,
		CreatedAt:  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: since(c.Created),
		Ports:      portsString(c),
		State:      c.State.Status,
		Status:     statusString(e, c),
		Names:      c.Name,
		c:          c,
	}
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	for _, m := range c.Mounts {
		n := m.Name
		if n == "" {
			n = m.Source
		}
		mounts = append(mounts, truncate(n, 15))
	}
	r.Mounts = strings.Join(mounts, ",")
	r.Networks = c.HostConfig.NetworkMode
	if size {
		if u, err := e.RWSize(ctx, c); err == nil {
			r.Size = humanSize(u)
		} else {
			r.Size = "N/A"
		}
	}
	return r
}

func entrypointOf(c *engine.Container) []string {
	if c.Config.Entrypoint != nil {
		return c.Config.Entrypoint
	}
	return c.ImageConfig.Entrypoint
}

func cmdOf(c *engine.Container) []string {
	if len(c.Config.Cmd) > 0 {
		return c.Config.Cmd
	}
	if c.Config.Entrypoint != nil {
		return nil
	}
	return c.ImageConfig.Cmd
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func shortCID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return id[:12]
}

// statusString is Docker's STATUS column.
func statusString(e *engine.Engine, c *engine.Container) string {
	s := c.State
	switch s.Status {
	case engine.StatusRunning, engine.StatusPaused:
		out := "Up " + humanDuration(time.Since(s.StartedAt))
		if s.Status == engine.StatusPaused {
			out += " (Paused)"
		}
		if h := healthStatus(e, c); h != "" {
			out += " (" + h + ")"
		}
		return out
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
	case engine.StatusExited:
		if s.StartedAt.IsZero() {
			return "Created"
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
	case engine.StatusCreated:
		return "Created"
	case engine.StatusRemoving:
		return "Removal In Progress"
	}
	return strings.Title(s.Status) //nolint:staticcheck
}

// healthStatus is the container's health ("healthy", ...) or "".
func healthStatus(e *engine.Engine, c *engine.Container) string {
	h, err := e.Health(c)
	if err != nil || h == nil {
		return ""
	}
	if h.Status == "starting" {
		return "health: starting"
	}
	return h.Status
}

// portsString is Docker's PORTS column.
func portsString(c *engine.Container) string {
	var out []string
	ports := c.HostConfig.PortBindings
	if c.Network != nil && len(c.Network.Ports) > 0 {
		ports = c.Network.Ports
	}
	for _, p := range ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		if c.State.Running() && p.HostPort != 0 {
			out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, p.HostPort, p.ContainerPort, p.Protocol))
		} else {
			out = append(out, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		}
	}
	for p := range c.Config.ExposedPorts {
		covered := false
		for _, b := range ports {
			if fmt.Sprintf("%d/%s", b.ContainerPort, b.Protocol) == p {
				covered = true
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func hasStatusFilter(fs []string) bool {
	for _, f := range fs {
		if strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "exited=") {
			return true
		}
	}
	return false
}

// containerFilter compiles ps --filter values (several values of one key
// are ORed, different keys ANDed, as in Docker).
func containerFilter(e *engine.Engine, all []*engine.Container, filters []string) (func(*engine.Container) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		byKey[k] = append(byKey[k], v)
	}
	find := func(ref string) *engine.Container {
		for _, c := range all {
			if c.ID == ref || c.Name == ref || strings.HasPrefix(c.ID, ref) {
				return c
			}
		}
		return nil
	}
	var preds []func(*engine.Container) bool
	for k, vs := range byKey {
		vs := vs
		var p func(c *engine.Container, v string) bool
		switch k {
		case "id":
			p = func(c *engine.Container, v string) bool { return strings.HasPrefix(c.ID, v) }
		case "name":
			p = func(c *engine.Container, v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }
		case "label":
			p = func(c *engine.Container, v string) bool {
				lk, lv, hasVal := strings.Cut(v, "=")
				got, ok := c.Config.Labels[lk]
				return ok && (!hasVal || got == lv)
			}
		case "status":
			for _, v := range vs {
				switch v {
				case "created", "restarting", "running", "removing", "paused", "exited", "dead":
				default:
					return nil, fmt.Errorf("invalid filter 'status=%s'", v)
				}
			}
			p = func(c *engine.Container, v string) bool {
				st := c.State.Status
				if st == engine.StatusExited && c.State.StartedAt.IsZero() {
					st = engine.StatusCreated
				}
				return st == v
			}
		case "exited":
			p = func(c *engine.Container, v string) bool {
				n, err := strconv.Atoi(v)
				return err == nil && c.State.Status == engine.StatusExited && !c.State.StartedAt.IsZero() && c.State.ExitCode == n
			}
		case "ancestor":
			p = func(c *engine.Container, v string) bool {
				return c.Image == v || strings.TrimSuffix(c.Image, ":latest") == strings.TrimSuffix(v, ":latest") || strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), strings.TrimPrefix(v, "sha256:"))
			}
		case "before", "since":
			for _, v := range vs {
				if find(v) == nil {
					return nil, fmt.Errorf("filter %s=%s: %w: %s", k, v, engine.ErrNotFound, v)
				}
			}
			before := k == "before"
			p = func(c *engine.Container, v string) bool {
				ref := find(v)
				if before {
					return c.Created.Before(ref.Created)
				}
				return c.Created.After(ref.Created)
			}
		case "health":
			p = func(c *engine.Container, v string) bool {
				h := healthStatus(e, c)
				if h == "" {
					h = "none"
				}
				return strings.TrimPrefix(h, "health: ") == v
			}
		case "volume":
			p = func(c *engine.Container, v string) bool {
				for _, m := range c.Mounts {
					if m.Name == v || m.Source == v || m.Destination == v {
						return true
					}
				}
				return false
			}
		case "network":
			p = func(c *engine.Container, v string) bool { return c.HostConfig.NetworkMode == v }
		default:
			return nil, fmt.Errorf("invalid filter %q", k)
		}
		preds = append(preds, func(c *engine.Container) bool {
			for _, v := range vs {
				if p(c, v) {
					return true
				}
			}
			return false
		})
	}
	return func(c *engine.Container) bool {
		for _, p := range preds {
			if !p(c) {
				return false
			}
		}
		return true
	}, nil
}
