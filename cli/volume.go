package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/cli/format"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/volume"
)

var volumeCmd = &cobra.Command{Use: "volume", Short: "Manage volumes"}

func addVolumeCommands() {
	Root.AddCommand(volumeCmd)
	volumeCmd.AddCommand(newVolumeCreateCmd(), newVolumeLsCmd(), newVolumeInspectCmd(), newVolumeRmCmd(), newVolumePruneCmd())
}

func openVolumes() (*engine.Engine, *volume.Store, error) {
	e, err := openEngine()
	if err != nil {
		return nil, nil, err
	}
	vs, err := e.Volumes()
	if err != nil {
		return nil, nil, err
	}
	return e, vs, nil
}

func kvList(flag string, list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok && flag == "opt" {
			return nil, fmt.Errorf("invalid argument %q for \"--%s\" flag: want key=value", s, flag)
		}
		m[k] = v
	}
	return m, nil
}

func newVolumeCreateCmd() *cobra.Command {
	var driver string
	var opts, labels []string
	c := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Example: `  berth volume create data
  berth volume create --opt type=tmpfs --opt device=tmpfs --opt o=size=100m scratch`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return fmt.Errorf("volume driver %q: berth has only the local driver", driver)
			}
			e, vs, err := openVolumes()
			if err != nil {
				return err
			}
			o, err := kvList("opt", opts)
			if err != nil {
				return err
			}
			l, err := kvList("label", labels)
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v, err := vs.Create(name, volume.CreateOptions{Labels: l, DriverOpts: o})
			if err != nil {
				return err
			}
			e.Emit("volume", "create", v.Name, map[string]string{"driver": "local"})
			fmt.Fprintln(cmd.OutOrStdout(), v.Name)
			return nil
		},
	}
	c.Flags().StringVarP(&driver, "driver", "d", "local", "specify volume driver name")
	c.Flags().StringArrayVarP(&opts, "opt", "o", nil, "set driver specific options")
	c.Flags().StringArrayVar(&labels, "label", nil, "set metadata for a volume")
	return c
}

type volumeRow struct {
	Driver, Name, Mountpoint, Scope, Labels, Size, CreatedAt string
	Links                                                    int
}

func filterMap(fs []string) (volume.Filters, error) {
	out := volume.Filters{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

func newVolumeLsCmd() *cobra.Command {
	var quiet bool
	var filters []string
	var fmtFlag string
	c := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, vs, err := openVolumes()
			if err != nil {
				return err
			}
			users, err := e.VolumeUsers(ctx)
			if err != nil {
				return err
			}
			fm, err := filterMap(filters)
			if err != nil {
				return err
			}
			list, err := vs.List(fm, users)
			if err != nil {
				return err
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			if quiet && fmtFlag == "" {
				for _, v := range list {
					fmt.Fprintln(cmd.OutOrStdout(), v.Name)
				}
				return nil
			}
			f, err := format.Parse(fmtFlag, "table {{.Driver}}\t{{.Name}}")
			if err != nil {
				return err
			}
			rows := make([]any, 0, len(list))
			for _, v := range list {
				var ls []string
				for k, val := range v.Labels {
					ls = append(ls, k+"="+val)
				}
				sort.Strings(ls)
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope, Labels: strings.Join(ls, ","), Size: "N/A", CreatedAt: v.CreatedAt, Links: len(users[v.Name])})
			}
			return f.Execute(cmd.OutOrStdout(), rows, map[string]string{"Name": "VOLUME NAME"})
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "provide filter values (dangling=true, label=..., name=..., driver=...)")
	c.Flags().StringVar(&fmtFlag, "format", "", "format output using a Go template or json")
	return c
}

func newVolumeInspectCmd() *cobra.Command {
	var fmtFlag string
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1, "volume inspect"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, vs, err := openVolumes()
			if err != nil {
				return err
			}
			var items []any
			var errs []error
			for _, a := range args {
				v, err := vs.Get(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				items = append(items, v)
			}
			if err := printInspect(cmd.OutOrStdout(), items, fmtFlag); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().StringVarP(&fmtFlag, "format", "f", "", "format output using a Go template")
	return c
}

func newVolumeRmCmd() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1, "volume rm"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := bg(cmd.Context())
			e, vs, err := openVolumes()
			if err != nil {
				return err
			}
			users, err := e.VolumeUsers(ctx)
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := vs.Remove(a, force, users); err != nil {
					errs = append(errs, err)
					continue
				}
				e.Emit("volume", "destroy", a, nil)
				fmt.Fprintln(cmd.OutOrStdout(), a)
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not fail on volumes that do not exist")
	return c
}

func newVolumePruneCmd() *cobra.Command {
	var force, all bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused anonymous volumes (all unused with -a)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(cmd.InOrStdin(), cmd.OutOrStdout(), "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			if all {
				filters = append(filters, "all=true")
			}
			removed, reclaimed, err := pruneVolumes(bg(cmd.Context()), filters)
			if err != nil {
				return err
			}
			printDeleted(cmd.OutOrStdout(), "Deleted Volumes:", removed)
			fmt.Fprintf(cmd.OutOrStdout(), "Total reclaimed space: %s\n", humanSize(reclaimed))
			return nil
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	c.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (label=...)")
	return c
}

func pruneVolumes(ctx context.Context, filters []string) ([]string, int64, error) {
	e, vs, err := openVolumes()
	if err != nil {
		return nil, 0, err
	}
	users, err := e.VolumeUsers(ctx)
	if err != nil {
		return nil, 0, err
	}
	fm, err := filterMap(filters)
	if err != nil {
		return nil, 0, err
	}
	return vs.Prune(users, fm)
}

// volumeUsage is the Volumes row of `system df`.
func volumeUsage(ctx context.Context, e *engine.Engine, cs []*engine.Container) (dfRow, error) {
	vs, err := e.Volumes()
	if err != nil {
		return dfRow{}, err
	}
	list, err := vs.List(nil, nil)
	if err != nil {
		return dfRow{}, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				used[m.Name] = true
			}
		}
	}
	var total, reclaim int64
	active := 0
	for _, v := range list {
		sz, _ := vs.Size(v.Name)
		total += sz
		if used[v.Name] {
			active++
		} else {
			reclaim += sz
		}
	}
	return dfRow{"Local Volumes", fmt.Sprint(len(list)), fmt.Sprint(active), humanSize(total), reclaimPct(reclaim, total)}, nil
}
