package shim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config describes one container's monitor.
type Config struct {
	ID          string   // container id, passed to the runtime
	Runtime     string   // runtime binary (berth-runc, runc, crun...)
	RuntimeArgs []string // global runtime flags, before the verb (e.g. --root R)
	Bundle      string   // bundle dir (config.json)
	Dir         string   // the monitor's dir: short, the attach socket lives there
	Terminal    bool     // process.terminal: a pty via --console-socket
	Stdin       bool     // keep stdin open (a pipe fed by attach clients)
	StdinOnce   bool     // close container stdin when an attach client sends EOF
	Start       bool     // run `RUNTIME start` after create (else the engine does)
	LogDriver   string   // json-file (default), k8s-file, none
	LogPath     string   // log file; required unless LogDriver is none
	LogMaxSize  int64    // rotate when the file would exceed this many bytes (0: never)
	LogMaxFiles int      // files kept with rotation: path, path.1 ... path.N-1
	ExitCommand []string // run (detached) after the final exit
	Restart     RestartPolicy
	// MemoryCgroup is the container's memory cgroup dir (v1 memory
	// controller dir or v2 cgroup dir), for oom_killed; "" skips it.
	MemoryCgroup string
	Health       *Health
	Exe          string // binary linking this package; default os.Executable()
}

// RestartPolicy is Docker's: Name is no, on-failure, always or
// unless-stopped; MaxRetries limits on-failure (0: no limit).
type RestartPolicy struct {
	Name       string
	MaxRetries int
}

// ParseRestartPolicy parses "no", "on-failure[:N]", "always", "unless-stopped".
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("restart policy %q: bad retry count %q", s, n)
			}
			p.MaxRetries = v
		}
		return p, nil
	default:
		return p, fmt.Errorf("restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasN {
		return p, fmt.Errorf("restart policy %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

// String is the policy in the form ParseRestartPolicy reads.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaxRetries > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaxRetries)
	}
	if p.Name == "" {
		return "no"
	}
	return p.Name
}

// Health is a health check run inside the container by `RUNTIME exec`.
type Health struct {
	Cmd         []string      // argv
	Interval    time.Duration // default 30s
	Timeout     time.Duration // default 30s
	StartPeriod time.Duration // failures in it do not count
	Retries     int           // failures in a row before unhealthy; default 3
}

func (c *Config) validate() error {
	for _, f := range []struct{ name, v string }{{"ID", c.ID}, {"Runtime", c.Runtime}, {"Bundle", c.Bundle}, {"Dir", c.Dir}} {
		if f.v == "" {
			return fmt.Errorf("shim config: %s is empty", f.name)
		}
	}
	switch c.LogDriver {
	case "", "json-file", "k8s-file":
		if c.LogPath == "" {
			return fmt.Errorf("shim config: LogPath is empty (log driver %q)", c.LogDriver)
		}
	case "none":
	default:
		return fmt.Errorf("shim config: LogDriver %q: want json-file, k8s-file or none", c.LogDriver)
	}
	if _, err := ParseRestartPolicy(c.Restart.String()); err != nil {
		return fmt.Errorf("shim config: Restart: %w", err)
	}
	if c.Health != nil && len(c.Health.Cmd) == 0 {
		return fmt.Errorf("shim config: Health.Cmd is empty")
	}
	all := append([]string{c.ID, c.Runtime, c.Bundle, c.Dir, c.LogPath, c.MemoryCgroup}, c.RuntimeArgs...)
	all = append(all, c.ExitCommand...)
	if c.Health != nil {
		all = append(all, c.Health.Cmd...)
	}
	for _, s := range all {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("shim config: %q contains a NUL byte", s)
		}
	}
	return nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// args is the monitor's argv: key=value, repeated keys for lists, read
// by parse_args in shim.c.
func (c *Config) args() []string {
	a := []string{"berth-shim", "id=" + c.ID, "runtime=" + c.Runtime, "bundle=" + c.Bundle, "dir=" + c.Dir,
		"terminal=" + b01(c.Terminal), "stdin=" + b01(c.Stdin), "stdin-once=" + b01(c.StdinOnce), "start=" + b01(c.Start)}
	for _, r := range c.RuntimeArgs {
		a = append(a, "rarg="+r)
	}
	driver := c.LogDriver
	if driver == "" {
		driver = "json-file"
	}
	a = append(a, "log-driver="+driver, "log-path="+c.LogPath,
		"log-max-size="+strconv.FormatInt(c.LogMaxSize, 10), "log-max-files="+strconv.Itoa(c.LogMaxFiles))
	for _, e := range c.ExitCommand {
		a = append(a, "exit-cmd="+e)
	}
	p, _ := ParseRestartPolicy(c.Restart.String())
	a = append(a, "restart="+p.Name, "restart-max="+strconv.Itoa(p.MaxRetries))
	if c.MemoryCgroup != "" {
		a = append(a, "memcg="+c.MemoryCgroup)
	}
	if h := c.Health; h != nil {
		for _, s := range h.Cmd {
			a = append(a, "health-cmd="+s)
		}
		a = append(a, "health-interval="+strconv.FormatInt(h.Interval.Milliseconds(), 10),
			"health-timeout="+strconv.FormatInt(h.Timeout.Milliseconds(), 10),
			"health-start-period="+strconv.FormatInt(h.StartPeriod.Milliseconds(), 10),
			"health-retries="+strconv.Itoa(h.Retries))
	}
	return a
}
