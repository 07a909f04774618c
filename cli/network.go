package cli

// `berth network ...`: create, ls, inspect, rm, prune, connect and
// disconnect over the network package. Networks live under --root
// (networks/*.conflist), attachments under --runroot.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/network"
)

// networkCmd is `berth network`, the group of network subcommands.
var networkCmd = &cobra.Command{
	Use:   "network",
	Short: "Manage networks",
	Args:  cobra.NoArgs,
	RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
}

func addNetworkCommands() {
	Root.AddCommand(networkCmd)
	networkCmd.AddCommand(netCreateCmd(), netListCmd(), netInspectCmd(), netRemoveCmd(),
		netPruneCmd(), netConnectCmd(), netDisconnectCmd())
}

// openNetworks opens the network manager on the global roots.
func openNetworks() (*network.Manager, error) {
	m, err := network.New(globals.root, globals.runroot)
	if err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	return m, nil
}

func cmdCtx(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// netKV parses repeated KEY=VALUE flags (-o, --label); a bare KEY has an
// empty value, like Docker's labels.
func netKV(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, v)
		}
		out[k] = val
	}
	return out, nil
}

func netCreateCmd() *cobra.Command {
	var o network.CreateOptions
	var opts, labels []string
	var ipv6 bool
	c := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Long: `Create a network: a CNI configuration list kept by berth.

Drivers: bridge (default: a bridge with NAT; -o bridge=NAME, -o mtu=N),
macvlan and ipvlan (-o parent=IF, -o mode=MODE), or any installed CNI
plugin that takes an "ipam" section. Without --subnet, the next free /24
from 10.99.0.0 is used. --internal networks have no default route and no
masquerade.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ipv6 {
				return errors.New("--ipv6: IPv6 networks are not supported yet")
			}
			o.Name = args[0]
			var err error
			if o.Options, err = netKV("-o", opts); err != nil {
				return err
			}
			if o.Labels, err = netKV("--label", labels); err != nil {
				return err
			}
			m, err := openNetworks()
			if err != nil {
				return err
			}
			n, err := m.Create(cmdCtx(cmd), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "bridge", "driver: bridge, macvlan, ipvlan or an installed CNI plugin")
	f.StringVar(&o.Subnet, "subnet", "", "subnet in CIDR format")
	f.StringVar(&o.Gateway, "gateway", "", "IPv4 gateway of the subnet")
	f.StringVar(&o.IPRange, "ip-range", "", "allocate container addresses from this sub-range (CIDR)")
	f.BoolVar(&o.Internal, "internal", false, "restrict external access to the network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "driver specific options (KEY=VALUE)")
	f.StringArrayVar(&labels, "label", nil, "set metadata on a network (KEY=VALUE)")
	f.BoolVar(&ipv6, "ipv6", false, "enable IPv6 (not supported)")
	f.Bool("attachable", true, "accepted for compatibility (every network is attachable)")
	f.MarkHidden("attachable")
	return c
}

// netRow is one line of `network ls`; its fields are the --format fields.
type netRow struct {
	n         *network.Network
	noTrunc   bool
	ID        string
	Name      string
	Driver    string
	Scope     string
	IPv6      bool
	Internal  bool
	CreatedAt string
	Labels    string
}

// Label is {{.Label "key"}}.
func (r netRow) Label(k string) string { return r.n.Labels[k] }

var netHeaders = map[string]string{"ID": "NETWORK ID", "CreatedAt": "CREATED AT"}

func netListCmd() *cobra.Command {
	var quiet, noTrunc bool
	var formatStr string
	var filters []string
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Long: `List networks.

Filters (--filter, repeatable): name=SUBSTRING, id=PREFIX, driver=NAME,
label=KEY or label=KEY=VALUE, type=builtin|custom.

--format takes a Go template over .ID .Name .Driver .Scope .IPv6 .Internal
.CreatedAt .Labels and {{.Label "KEY"}}, "table TEMPLATE", or "json".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			nets, err := m.List(cmdCtx(cmd))
			if err != nil {
				return err
			}
			keep, err := netFilter(filters)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var rows []any
			for _, n := range nets {
				if !keep(n) {
					continue
				}
				id := n.ShortID()
				if noTrunc {
					id = n.ID
				}
				if quiet {
					fmt.Fprintln(out, id)
					continue
				}
				var labels []string
				for k, v := range n.Labels {
					labels = append(labels, k+"="+v)
				}
				sort.Strings(labels)
				rows = append(rows, netRow{n: n, ID: id, Name: n.Name, Driver: n.Driver, Scope: "local",
					Internal: n.Internal, CreatedAt: n.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
					Labels: strings.Join(labels, ",")})
			}
			if quiet {
				return nil
			}
			f, err := format.Parse(formatStr, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}")
			if err != nil {
				return err
			}
			return f.Execute(out, rows, netHeaders)
		},
	}
	f := c.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.StringVar(&formatStr, "format", "", "format output using a Go template, \"table\" or \"json\"")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided")
	return c
}

// netFilter turns --filter values into a predicate.
func netFilter(filters []string) (func(*network.Network) bool, error) {
	var preds []func(*network.Network) bool
	for _, fl := range filters {
		k, v, ok := strings.Cut(fl, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %q: want KEY=VALUE", fl)
		}
		switch k {
		case "name":
			preds = append(preds, func(n *network.Network) bool { return strings.Contains(n.Name, v) })
		case "id":
			preds = append(preds, func(n *network.Network) bool { return strings.HasPrefix(n.ID, v) })
		case "driver":
			preds = append(preds, func(n *network.Network) bool { return n.Driver == v })
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(n *network.Network) bool {
				got, ok := n.Labels[lk]
				return ok && (!hasV || got == lv)
			})
		case "type":
			if v != "builtin" && v != "custom" {
				return nil, fmt.Errorf("invalid --filter type=%s: want builtin or custom", v)
			}
			preds = append(preds, func(n *network.Network) bool { return n.IsDefault() == (v == "builtin") })
		case "until":
			t, err := netUntil(v)
			if err != nil {
				return nil, err
			}
			preds = append(preds, func(n *network.Network) bool { return n.Created.Before(t) })
		default:
			return nil, fmt.Errorf("invalid --filter %q: unknown key %s", fl, k)
		}
	}
	return func(n *network.Network) bool {
		for _, p := range preds {
			if !p(n) {
				return false
			}
		}
		return true
	}, nil
}

// netUntil parses until=DURATION|TIMESTAMP.
func netUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid --filter until=%s: want a duration or a timestamp", v)
}

func netInspectCmd() *cobra.Command {
	var formatStr string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			var all []*network.Inspect
			var errs []error
			for _, a := range args {
				in, err := m.Inspect(cmdCtx(cmd), a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				all = append(all, in)
			}
			out := cmd.OutOrStdout()
			if formatStr != "" {
				tmpl, err := template.New("format").Funcs(format.Funcs).Parse(formatStr)
				if err != nil {
					return fmt.Errorf("--format: %w", err)
				}
				for _, in := range all {
					var v any
					b, _ := json.Marshal(in)
					json.Unmarshal(b, &v)
					if err := tmpl.Execute(out, v); err != nil {
						return fmt.Errorf("--format: %w", err)
					}
					fmt.Fprintln(out)
				}
			} else {
				if all == nil {
					all = []*network.Inspect{}
				}
				b, err := json.MarshalIndent(all, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVarP(&formatStr, "format", "f", "", "format the output using a Go template")
	return c
}

func netRemoveCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				err := m.Remove(cmdCtx(cmd), a)
				if err != nil && !(force && errors.Is(err, network.ErrNotFound)) {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), a)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not error if the network does not exist")
	return c
}

func netPruneCmd() *cobra.Command {
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Long: `Remove all networks no container is attached to (never the default one).

Filters (--filter): until=DURATION|TIMESTAMP, label=KEY[=VALUE], and the
other filters of ls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := netFilter(filters)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !force && !confirm(cmd.InOrStdin(), out, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			m, err := openNetworks()
			if err != nil {
				return err
			}
			removed, err := m.Prune(cmdCtx(cmd), func(n *network.Network) bool { return !match(n) })
			printDeleted(out, "Deleted Networks:", removed)
			return err
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (e.g. until=24h)")
	return c
}

// connect and disconnect go through the engine: a running container joins
// or leaves at once, and its record keeps the change for later starts.
func netConnectCmd() *cobra.Command {
	var req engine.NetworkRequest
	c := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine()
			if err != nil {
				return err
			}
			req.Name = args[0]
			return e.Connect(cmdCtx(cmd), args[1], req)
		},
	}
	f := c.Flags()
	f.StringVar(&req.IP, "ip", "", "IPv4 address")
	f.StringArrayVar(&req.Aliases, "alias", nil, "add a network-scoped alias for the container")
	return c
}

func netDisconnectCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine()
			if err != nil {
				return err
			}
			return e.Disconnect(cmdCtx(cmd), args[1], args[0])
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "accepted for compatibility")
	return c
}
