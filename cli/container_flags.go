package cli

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/opts"
)

// runFlags are the flags `run` and `create` share (Docker's names).
type runFlags struct {
	detach, interactive, tty, rm, readOnly, privileged, init, publishAll bool
	name, workdir, user, entrypoint, hostname, domainname                string
	env, envFile, volumes, mounts, tmpfs, labels, labelFiles             []string
	addHosts, dns, dnsSearch, ulimits, capAdd, capDrop, secOpts          []string
	devices, sysctls, groupAdd, publish, expose, attach                  []string
	memory, memoryReservation, memorySwap, cpus, shmSize                 string
	cpuShares                                                            int64
	cpusetCpus                                                           string
	pidsLimit                                                            int64
	userns, stopSignal, restart, logDriver, pull, platform               string
	runtime, detachKeys, ip, mac                                         string
	networks, aliases, dnsOpts                                           []string
	logOpts                                                              []string
	stopTimeout                                                          int
	healthCmd                                                            string
	healthInterval, healthTimeout, healthStart                           time.Duration
	healthRetries                                                        int
	noHealthcheck                                                        bool
	sigProxy                                                             bool

	fs *pflag.FlagSet
}

func (f *runFlags) register(fs *pflag.FlagSet, run bool) {
	f.fs = fs
	fs.Bool("help", false, "print usage") // -h is --hostname, as in Docker
	fs.SetInterspersed(false)             // flags after IMAGE belong to the command
	if run {
		fs.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
		fs.BoolVar(&f.sigProxy, "sig-proxy", true, "proxy received signals to the container")
		fs.StringVar(&f.detachKeys, "detach-keys", "", "key sequence for detaching the container (default ctrl-p,ctrl-q)")
	}
	fs.StringSliceVarP(&f.attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "automatically remove the container when it exits")
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (KEY=VALUE, or KEY to copy it from here)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from a file")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a volume (SRC:DST[:OPTS])")
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a filesystem mount to the container")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs directory (DST[:OPTS])")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata on a container")
	fs.StringArrayVar(&f.labelFiles, "label-file", nil, "read in a line delimited file of labels")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fs.StringVar(&f.domainname, "domainname", "", "container NIS domain name")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.dns, "dns", nil, "set custom DNS servers")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "set custom DNS search domains")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit")
	fs.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&f.cpus, "cpus", "", "number of CPUs")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit options (nofile=1024:2048)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
	fs.StringArrayVar(&f.secOpts, "security-opt", nil, "security options (seccomp=FILE|unconfined, no-new-privileges, label=..., apparmor=...)")
	fs.StringVar(&f.userns, "userns", "", "user namespace to use (host)")
	fs.StringArrayVar(&f.devices, "device", nil, "add a host device to the container")
	fs.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fs.StringArrayVar(&f.sysctls, "sysctl", nil, "sysctl options (name=value)")
	fs.StringArrayVar(&f.groupAdd, "group-add", nil, "add additional groups to join")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -1, "timeout (in seconds) to stop a container")
	fs.StringVar(&f.restart, "restart", "no", "restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "time between running the check (default 30s)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "maximum time to allow one check to run (default 30s)")
	fs.DurationVar(&f.healthStart, "health-start-period", 0, "start period for the container to initialize before counting retries")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3)")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	fs.StringVar(&f.logDriver, "log-driver", "json-file", "logging driver for the container (json-file, k8s-file, none)")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "log driver options (max-size=10m, max-file=3)")
	fs.StringVar(&f.pull, "pull", "missing", "pull image before running (always, missing, never)")
	fs.StringVar(&f.platform, "platform", "", "set platform if server is multi-platform capable")
	fs.StringVar(&f.runtime, "runtime", "", "OCI runtime to use for this container (path or name: berth, runc, crun, runsc)")
	fs.StringArrayVar(&f.networks, "network", nil, "connect a container to a network (bridge, NAME, none, host, container:ID; repeat for several)")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address on the (first) network (e.g., 172.30.100.104)")
	fs.StringVar(&f.mac, "mac-address", "", "container MAC address on the (first) network (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&f.aliases, "network-alias", nil, "add network-scoped alias for the container")
	fs.StringArrayVar(&f.dnsOpts, "dns-opt", nil, "set DNS options")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fs.StringArrayVar(&f.expose, "expose", nil, "expose a port or a range of ports")
}

// createOptions checks every flag and builds the engine's request. Nothing
// is created on error.
// The image is the caller's to fill in.
func (f *runFlags) createOptions(args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{Name: f.name}
	cfg := &o.Config
	hc := &o.HostConfig
	cfg.Cmd = args
	if f.fs.Changed("entrypoint") {
		cfg.Entrypoint = []string{}
		if f.entrypoint != "" {
			cfg.Entrypoint = []string{f.entrypoint}
		}
	}
	cfg.Tty, cfg.OpenStdin = f.tty, f.interactive
	cfg.StdinOnce = f.interactive && !f.detach
	cfg.AttachStdin = f.interactive && !f.detach
	cfg.AttachStdout, cfg.AttachStderr = !f.detach, !f.detach
	cfg.WorkingDir, cfg.User = f.workdir, f.user
	cfg.Hostname, cfg.Domainname = f.hostname, f.domainname
	cfg.StopSignal = f.stopSignal
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		cfg.StopTimeout = &t
	}
	var env []string
	for _, p := range f.envFile {
		l, err := opts.ParseEnvFile(p)
		if err != nil {
			return o, err
		}
		env = append(env, l...)
	}
	env = append(env, f.env...)
	cfg.Env = opts.ExpandEnv(env, os.LookupEnv)
	labels, err := opts.ParseLabelFiles(f.labelFiles, f.labels)
	if err != nil {
		return o, err
	}
	cfg.Labels = labels
	if f.healthCmd != "" && !f.noHealthcheck {
		cfg.Healthcheck = &engine.Healthcheck{Test: []string{"CMD-SHELL", f.healthCmd}, Interval: f.healthInterval, Timeout: f.healthTimeout, StartPeriod: f.healthStart, Retries: f.healthRetries}
	} else if f.noHealthcheck {
		cfg.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}}
	}

	hc.AutoRemove = f.rm
	hc.ReadonlyRootfs, hc.Privileged, hc.Init = f.readOnly, f.privileged, f.init
	hc.CapAdd, hc.CapDrop, hc.SecurityOpt = f.capAdd, f.capDrop, f.secOpts
	if _, err := opts.ParseSecurityOpt(f.secOpts); err != nil {
		return o, err
	}
	hc.Dns, hc.DnsSearch = f.dns, f.dnsSearch
	for _, h := range f.addHosts {
		if _, err := opts.ParseAddHost(h); err != nil {
			return o, err
		}
	}
	hc.ExtraHosts = f.addHosts
	hc.GroupAdd = f.groupAdd
	hc.Devices = f.devices
	for _, d := range f.devices {
		if _, err := opts.ParseDevice(d); err != nil {
			return o, err
		}
	}
	switch f.userns {
	case "", "host":
		hc.UsernsMode = f.userns
	default:
		return o, fmt.Errorf("--userns %q: berth supports only \"host\" (the default) for now", f.userns)
	}
	if len(f.sysctls) > 0 {
		hc.Sysctls = map[string]string{}
		for _, s := range f.sysctls {
			k, v, ok := strings.Cut(s, "=")
			if !ok {
				return o, fmt.Errorf("--sysctl %q: want name=value", s)
			}
			hc.Sysctls[k] = v
		}
	}
	for _, u := range f.ulimits {
		r, err := opts.ParseUlimit(u)
		if err != nil {
			return o, err
		}
		hc.Ulimits = append(hc.Ulimits, engine.Ulimit{Name: strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_")), Soft: int64(r.Soft), Hard: int64(r.Hard)})
	}
	if hc.Memory, err = sizeFlag("memory", f.memory); err != nil {
		return o, err
	}
	if hc.MemoryReservation, err = sizeFlag("memory-reservation", f.memoryReservation); err != nil {
		return o, err
	}
	if f.memorySwap == "-1" {
		hc.MemorySwap = -1
	} else if hc.MemorySwap, err = sizeFlag("memory-swap", f.memorySwap); err != nil {
		return o, err
	}
	if hc.MemorySwap > 0 && hc.Memory > 0 && hc.MemorySwap < hc.Memory {
		return o, fmt.Errorf("minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if hc.ShmSize, err = sizeFlag("shm-size", f.shmSize); err != nil {
		return o, err
	}
	if f.cpus != "" {
		if hc.NanoCpus, err = opts.ParseCPUs(f.cpus); err != nil {
			return o, err
		}
	}
	hc.CpuShares, hc.CpusetCpus = f.cpuShares, f.cpusetCpus
	if f.pidsLimit != 0 {
		p := f.pidsLimit
		hc.PidsLimit = &p
	}
	rp, err := opts.ParseRestart(f.restart)
	if err != nil {
		return o, err
	}
	hc.RestartPolicy = engine.RestartPolicy{Name: rp.Name, MaximumRetryCount: rp.MaxRetries}
	if f.rm && rp.Name != "" && rp.Name != "no" {
		return o, fmt.Errorf("conflicting options: cannot specify both --restart and --rm")
	}
	hc.LogConfig = engine.LogConfig{Type: f.logDriver, Config: map[string]string{}}
	for _, lo := range f.logOpts {
		k, v, ok := strings.Cut(lo, "=")
		if !ok {
			return o, fmt.Errorf("--log-opt %q: want key=value", lo)
		}
		hc.LogConfig.Config[k] = v
	}
	switch {
	case f.runtime == "", f.runtime == "berth":
	case strings.Contains(f.runtime, "/"):
		hc.Runtime = f.runtime
	default:
		p, err := lookPath(f.runtime)
		if err != nil {
			return o, fmt.Errorf("--runtime %q: %w", f.runtime, err)
		}
		hc.Runtime = p
	}
	if err := f.networkOptions(&o); err != nil {
		return o, err
	}
	hc.DnsOptions = f.dnsOpts
	for _, v := range f.volumes {
		m, err := opts.ParseVolume(v)
		if err != nil {
			return o, err
		}
		hc.Binds = append(hc.Binds, v)
		r := mountRequest(m)
		r.CreateSource = m.Type == "bind" // -v creates a missing host dir, --mount does not
		o.Mounts = append(o.Mounts, r)
	}
	for _, v := range f.mounts {
		m, err := opts.ParseMount(v)
		if err != nil {
			return o, err
		}
		o.Mounts = append(o.Mounts, mountRequest(m))
	}
	for _, v := range f.tmpfs {
		m, err := opts.ParseTmpfs(v)
		if err != nil {
			return o, err
		}
		o.Mounts = append(o.Mounts, mountRequest(m))
	}
	if err := f.ports(&o); err != nil {
		return o, err
	}
	return o, nil
}

func mountRequest(m opts.MountSpec) engine.MountRequest {
	return engine.MountRequest{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Propagation: m.Propagation, NoCopy: m.NoCopy, Options: m.Options, VolumeOpts: m.VolumeDriverOpts, CreateSource: m.Type == "bind" && m.BindCreateSource}
}

func sizeFlag(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := opts.ParseMemory(v)
	if err != nil {
		return 0, fmt.Errorf("invalid argument %q for \"--%s\" flag: %w", v, name, err)
	}
	return n, nil
}

// lookPath finds a runtime named on --runtime (runc, crun, runsc).
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("no runtime %q in $PATH", name)
	}
	return p, nil
}

// networkOptions reads --network (several), --ip, --mac-address and
// --network-alias. none, host and container:ID stand alone.
func (f *runFlags) networkOptions(o *engine.CreateOptions) error {
	hc := &o.HostConfig
	nets := f.networks
	if len(nets) == 0 {
		nets = []string{"bridge"}
	}
	for i, n := range nets {
		if n == "" || n == "default" {
			n = "bridge"
		}
		special := n == "none" || n == "host" || strings.HasPrefix(n, "container:")
		if special && len(nets) > 1 {
			return fmt.Errorf("conflicting options: --network %s cannot be combined with other networks", n)
		}
		if n == "container:" {
			return fmt.Errorf("--network container: needs a container name or ID")
		}
		if i == 0 {
			hc.NetworkMode = n
		}
		if special {
			if f.ip != "" || f.mac != "" || len(f.aliases) > 0 {
				return fmt.Errorf("conflicting options: --ip, --mac-address and --network-alias need a bridge or user network, not %q", n)
			}
			continue
		}
		r := engine.NetworkRequest{Name: n}
		if i == 0 {
			r.IP, r.MAC, r.Aliases = f.ip, f.mac, f.aliases
		}
		o.Networks = append(o.Networks, r)
	}
	return nil
}

// ports records -p, -P and --expose.
func (f *runFlags) ports(o *engine.CreateOptions) error {
	exp, err := opts.ParseExpose(f.expose)
	if err != nil {
		return err
	}
	for _, p := range exp {
		if o.Config.ExposedPorts == nil {
			o.Config.ExposedPorts = map[string]struct{}{}
		}
		for i := uint16(0); i < max(p.Range, 1); i++ {
			o.Config.ExposedPorts[fmt.Sprintf("%d/%s", p.ContainerPort+i, p.Protocol)] = struct{}{}
		}
	}
	ps, err := opts.ParsePublish(f.publish)
	if err != nil {
		return err
	}
	for _, p := range ps {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			hp := p.HostPort
			if hp != 0 {
				hp += i
			}
			o.HostConfig.PortBindings = append(o.HostConfig.PortBindings, engine.PortBinding{HostIP: p.HostIP, HostPort: hp, ContainerPort: p.ContainerPort + i, Protocol: p.Protocol})
		}
	}
	if (len(ps) > 0 || f.publishAll) && (o.HostConfig.NetworkMode == "none" || o.HostConfig.NetworkMode == "host" || strings.HasPrefix(o.HostConfig.NetworkMode, "container:")) {
		if len(ps) > 0 {
			return fmt.Errorf("conflicting options: port publishing and the container type network mode %q", o.HostConfig.NetworkMode)
		}
	}
	o.PublishAll = f.publishAll
	o.HostConfig.Publish = f.publish
	return nil
}
