package specgen

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// StopSignal returns the signal that stops the container: --stop-signal,
// else the image's STOPSIGNAL, else SIGTERM. Names ("SIGKILL", "kill",
// "RTMIN+3") and numbers are accepted, as Docker's ParseSignal does.
func StopSignal(image, flag string) (syscall.Signal, error) {
	v := flag
	if v == "" {
		v = image
	}
	if v == "" {
		return syscall.SIGTERM, nil
	}
	return ParseSignal(v)
}

// ParseSignal parses a signal name or number.
func ParseSignal(v string) (syscall.Signal, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		if n == 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", v)
		}
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(v), "SIG")
	if s := unix.SignalNum("SIG" + name); s != 0 {
		return s, nil
	}
	// Real-time signals, as Docker names them: RTMIN, RTMIN+n, RTMAX-n.
	const rtmin, rtmax = 34, 64
	switch {
	case name == "RTMIN":
		return rtmin, nil
	case name == "RTMAX":
		return rtmax, nil
	case strings.HasPrefix(name, "RTMIN+"):
		if n, err := strconv.Atoi(name[6:]); err == nil && n > 0 && rtmin+n <= rtmax {
			return syscall.Signal(rtmin + n), nil
		}
	case strings.HasPrefix(name, "RTMAX-"):
		if n, err := strconv.Atoi(name[6:]); err == nil && n > 0 && rtmax-n >= rtmin {
			return syscall.Signal(rtmax - n), nil
		}
	}
	return 0, fmt.Errorf("invalid signal: %s", v)
}
