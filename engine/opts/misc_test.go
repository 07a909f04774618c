package opts

import (
	"math"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseUlimit(t *testing.T) {
	good := map[string]specs.POSIXRlimit{
		"nofile=1024:2048": {Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		"nproc=100":        {Type: "RLIMIT_NPROC", Soft: 100, Hard: 100},
		"core=-1":          {Type: "RLIMIT_CORE", Soft: math.MaxUint64, Hard: math.MaxUint64},
		"memlock=64:-1":    {Type: "RLIMIT_MEMLOCK", Soft: 64, Hard: math.MaxUint64},
		"rttime=5:5":       {Type: "RLIMIT_RTTIME", Soft: 5, Hard: 5},
		"sigpending=1":     {Type: "RLIMIT_SIGPENDING", Soft: 1, Hard: 1},
	}
	for in, want := range good {
		got, err := ParseUlimit(in)
		if err != nil || got != want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"nofile":           "invalid ulimit argument: nofile",
		"as=1":             "invalid ulimit type: as",
		"nofile=x":         `parsing "x": invalid syntax`,
		"nofile=1:2:3":     "too many limit value arguments - 1:2:3",
		"nofile=2048:1024": "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024",
		"nofile=-1:1024":   "soft: -1 (unlimited), hard: 1024",
	}
	for in, want := range bad {
		_, err := ParseUlimit(in)
		if err == nil {
			t.Errorf("ParseUlimit(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagUlimit, in, want)
	}
}

func TestParseDevice(t *testing.T) {
	good := map[string]Device{
		"/dev/fuse":                 {"/dev/fuse", "/dev/fuse", "rwm"},
		"/dev/fuse:/dev/f":          {"/dev/fuse", "/dev/f", "rwm"},
		"/dev/fuse:r":               {"/dev/fuse", "/dev/fuse", "r"},
		"/dev/sda:/dev/xvda:rw":     {"/dev/sda", "/dev/xvda", "rw"},
		"/dev/sda:/dev/xvda/../x:m": {"/dev/sda", "/dev/x", "m"},
	}
	for in, want := range good {
		got, err := ParseDevice(in)
		if err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                    "bad format for path: ",
		":/dev/x":             "bad format for path: :/dev/x",
		"/a:/b:rw:x":          "bad format for path: /a:/b:rw:x",
		"/dev/sda:/dev/x:rwx": "bad mode specified: rwx",
		"/dev/sda:/dev/x:rr":  "bad mode specified: rr",
		"/dev/sda:xvda":       "xvda is not an absolute path",
	}
	for in, want := range bad {
		_, err := ParseDevice(in)
		if err == nil {
			t.Errorf("ParseDevice(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagDevice, in, want)
	}
}

func TestParseRestart(t *testing.T) {
	good := map[string]RestartPolicy{
		"":                {Name: "no"},
		"no":              {Name: "no"},
		"always":          {Name: "always"},
		"unless-stopped":  {Name: "unless-stopped"},
		"on-failure":      {Name: "on-failure"},
		"on-failure:5":    {Name: "on-failure", MaxRetries: 5},
		"always:0":        {Name: "always"},
		"on-failure:":     {Name: "on-failure"},
		"unless-stopped:": {Name: "unless-stopped"},
	}
	for in, want := range good {
		got, err := ParseRestart(in)
		if err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		":3":            "no policy provided before colon",
		"on-failure:x":  "maximum retry count must be an integer",
		"always:3":      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
		"no:-1":         "can only be used with 'on-failure' and cannot be negative",
		"on-failure:-2": "invalid restart policy: maximum retry count cannot be negative",
		"sometimes":     "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
	}
	for in, want := range bad {
		_, err := ParseRestart(in)
		if err == nil {
			t.Errorf("ParseRestart(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagRestart, in, want)
	}
}

func TestResources(t *testing.T) {
	mem := map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "1024": 1024, "1.5k": 1536, "2GB": 2 << 30}
	for in, want := range mem {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	_, err := ParseMemory("lots")
	checkFlagErr(t, err, flagMemory, "lots", "invalid size: 'lots'")
	if got, err := ParseMemorySwap("-1"); err != nil || got != -1 {
		t.Errorf("ParseMemorySwap(-1) = %d, %v", got, err)
	}
	_, err = ParseMemorySwap("-2")
	checkFlagErr(t, err, flagMemorySwap, "-2", "invalid size: '-2'")
	if got, err := ParseMemoryReservation("64m"); err != nil || got != 64<<20 {
		t.Errorf("ParseMemoryReservation = %d, %v", got, err)
	}
	if got, err := ParseShmSize("64m"); err != nil || got != 64<<20 {
		t.Errorf("ParseShmSize = %d, %v", got, err)
	}
	_, err = ParseShmSize("1x")
	checkFlagErr(t, err, flagShmSize, "1x", "invalid suffix: 'x'")

	cpus := map[string]int64{"1.5": 1500000000, "0.01": 10000000, "2": 2e9, "3/2": 1500000000, "0.000000001": 1}
	for in, want := range cpus {
		if got, err := ParseCPUs(in); err != nil || got != want {
			t.Errorf("ParseCPUs(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"abc":          "failed to parse abc as a rational number",
		"0.0000000001": "value is too precise",
		"-1":           "range of CPUs is from 0.01",
	} {
		_, err := ParseCPUs(in)
		checkFlagErr(t, err, flagCPUs, in, want)
	}
}

func TestParseAddHost(t *testing.T) {
	good := map[string]ExtraHost{
		"db:10.0.0.2":             {"db", "10.0.0.2"},
		"db=10.0.0.2":             {"db", "10.0.0.2"},
		"v6:::1":                  {"v6", "::1"},
		"v6=[2001:db8::1]":        {"v6", "2001:db8::1"},
		"v6:[::1]":                {"v6", "::1"},
		"gw:host-gateway":         {"gw", "host-gateway"},
		"my-host:0:0:0:0:0:0:0:1": {"my-host", "0:0:0:0:0:0:0:1"},
	}
	for in, want := range good {
		got, err := ParseAddHost(in)
		if err != nil || got != want {
			t.Errorf("ParseAddHost(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if s := (ExtraHost{"db", "::1"}).String(); s != "db:::1" {
		t.Errorf("String = %q", s)
	}
	bad := map[string]string{
		"noip":      `bad format for add-host: "noip"`,
		":1.2.3.4":  `bad format for add-host: ":1.2.3.4"`,
		"a:b=1.2.3": `bad format for add-host: "a:b=1.2.3"`,
		"db:999.1":  `invalid IP address in add-host: "999.1"`,
		"db:":       `invalid IP address in add-host: ""`,
	}
	for in, want := range bad {
		_, err := ParseAddHost(in)
		if err == nil {
			t.Errorf("ParseAddHost(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagAddHost, in, want)
	}
}

func TestParsePublish(t *testing.T) {
	good := map[string]PortMapping{
		"80":                                    {ContainerPort: 80, Protocol: "tcp", Range: 1},
		"8080:80":                               {HostPort: 8080, ContainerPort: 80, Protocol: "tcp", Range: 1},
		":80":                                   {ContainerPort: 80, Protocol: "tcp", Range: 1},
		"127.0.0.1::80/udp":                     {HostIP: "127.0.0.1", ContainerPort: 80, Protocol: "udp", Range: 1},
		"127.0.0.1:53:53/UDP":                   {HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Protocol: "udp", Range: 1},
		"[::1]:8080:80":                         {HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp", Range: 1},
		"::1:8080:80":                           {HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp", Range: 1},
		"8000-8010:80-90":                       {HostPort: 8000, ContainerPort: 80, Protocol: "tcp", Range: 11},
		"8000-8010:80":                          {HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80, Protocol: "tcp", Range: 1},
		"80-82/sctp":                            {ContainerPort: 80, Protocol: "sctp", Range: 3},
		"0:80":                                  {ContainerPort: 80, Protocol: "tcp", Range: 1},
		"published=8080,target=80":              {HostPort: 8080, ContainerPort: 80, Protocol: "tcp", Range: 1},
		"target=53,published=5353,protocol=udp": {HostPort: 5353, ContainerPort: 53, Protocol: "udp", Range: 1},
		"target=80":                             {ContainerPort: 80, Protocol: "tcp", Range: 1},
	}
	for in, want := range good {
		got, err := ParsePublish([]string{in})
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("ParsePublish(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                 "no port specified: <empty>",
		"8080:":            "no port specified: 8080:<empty>",
		"80/icmp":          "invalid proto: icmp",
		"1.2.3:80:80":      "invalid IP address: 1.2.3",
		"[::1:80:80":       "invalid IP address [::1",
		"8080:http":        "invalid containerPort: http",
		"8080:70000":       "invalid containerPort: 70000",
		"8080:0":           "invalid containerPort: 0",
		"x:80":             "invalid hostPort: x",
		"90-80:80":         "invalid hostPort: 90-80",
		"8000-8002:80-90":  "invalid ranges specified for container and host Ports: 80-90 and 8000-8002",
		"published=1,oops": "invalid publish opts format (should be name=value but got 'oops')",
	}
	for in, want := range bad {
		_, err := ParsePublish([]string{"80", in})
		if err == nil {
			t.Errorf("ParsePublish(%q): no error", in)
			continue
		}
		checkFlagErr(t, err, flagPublish, in, want)
	}
}

func TestExposedPorts(t *testing.T) {
	got, err := ExposedPorts(map[string]struct{}{"80/tcp": {}, "53/udp": {}, "443": {}, "8000-8002/tcp": {}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PortMapping{
		{ContainerPort: 80, Protocol: "tcp", Range: 1},
		{ContainerPort: 443, Protocol: "tcp", Range: 1},
		{ContainerPort: 8000, Protocol: "tcp", Range: 3},
		{ContainerPort: 53, Protocol: "udp", Range: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExposedPorts = %+v, want %+v", got, want)
	}
	for in, want := range map[string]string{"80/icmp": "invalid proto: icmp", "x/tcp": "invalid range format for --expose", "0": "invalid port 0"} {
		_, err := ExposedPorts(map[string]struct{}{in: {}})
		checkFlagErr(t, err, "ExposedPorts", in, want)
		_, err = ParseExpose([]string{in})
		checkFlagErr(t, err, flagExpose, in, want)
	}
}
