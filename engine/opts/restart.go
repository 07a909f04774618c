package opts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Restart policy names.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
	RestartOnFailure     = "on-failure"
)

// RestartPolicy is a parsed --restart value.
type RestartPolicy struct {
	Name       string
	MaxRetries int // only with on-failure; 0 = unlimited
}

// ParseRestart parses "no|always|unless-stopped|on-failure[:N]". An empty
// value is "no".
func ParseRestart(spec string) (RestartPolicy, error) {
	p, err := parseRestart(spec)
	if err != nil {
		return RestartPolicy{}, flagErr(flagRestart, spec, err)
	}
	return p, nil
}

func parseRestart(policy string) (RestartPolicy, error) {
	if policy == "" {
		return RestartPolicy{Name: RestartNo}, nil
	}
	name, count, ok := strings.Cut(policy, ":")
	if ok && name == "" {
		return RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := RestartPolicy{Name: name}
	if count != "" {
		c, err := strconv.Atoi(count)
		if err != nil {
			return RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaxRetries = c
	}
	// The daemon's ValidateRestartPolicy.
	switch p.Name {
	case RestartAlways, RestartUnlessStopped, RestartNo:
		if p.MaxRetries != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaxRetries < 0 {
				msg += " and cannot be negative"
			}
			return RestartPolicy{}, errors.New(msg)
		}
	case RestartOnFailure:
		if p.MaxRetries < 0 {
			return RestartPolicy{}, errors.New("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return RestartPolicy{}, fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'",
			p.Name, RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped)
	}
	return p, nil
}
