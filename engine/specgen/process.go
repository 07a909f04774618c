package specgen

import (
	"errors"
	"strings"
)

// ErrNoCommand is returned when neither the options nor the image give a
// command to run.
var ErrNoCommand = errors.New("no command specified: the image has no Entrypoint or Cmd and none was given")

// Args returns the container's argv from the image's Entrypoint and Cmd and
// the user's --entrypoint and arguments, by Docker's rules:
//   - no --entrypoint: the image's Entrypoint stays; arguments replace its
//     Cmd, which applies only when there are none;
//   - --entrypoint X: replaces the image's Entrypoint and drops its Cmd;
//     only the arguments given follow X;
//   - --entrypoint "": no entrypoint at all; the arguments are the command.
//
// An empty non-nil Entrypoint counts as --entrypoint "" (what the CLI sends).
func Args(imageEntrypoint, imageCmd []string, entrypoint *[]string, cmd []string) ([]string, error) {
	var ep, c []string
	if entrypoint == nil {
		ep = imageEntrypoint
		c = cmd
		if len(c) == 0 {
			c = imageCmd
		}
	} else {
		ep = *entrypoint
		c = cmd
	}
	// Docker resets [""] to no entrypoint after the merge.
	if len(ep) == 1 && ep[0] == "" {
		ep = nil
	}
	args := append(append([]string{}, ep...), c...)
	if len(args) == 0 {
		return nil, ErrNoCommand
	}
	return args, nil
}

// MergeEnv merges the user's environment over the image's the way dockerd
// does: the user's variables first, then the image's that the user did not
// set (by key); a bare KEY from the user hides the image's KEY.
func MergeEnv(image, user []string) []string {
	if len(user) == 0 {
		return append([]string{}, image...)
	}
	out := append([]string{}, user...)
	for _, ie := range image {
		ik, _, _ := strings.Cut(ie, "=")
		found := false
		for _, ue := range user {
			if uk, _, _ := strings.Cut(ue, "="); uk == ik {
				found = true
				break
			}
		}
		if !found {
			out = append(out, ie)
		}
	}
	return out
}

// containerEnv is Docker's CreateDaemonEnvironment: PATH, HOSTNAME and
// (with a tty) TERM, each replaced in place by the merged config's value,
// then the rest of the config's variables; a config entry without '='
// removes the default of that name. HOME is appended from passwd when
// unset, as runc's init does.
func containerEnv(merged []string, hostname string, tty bool, home string) []string {
	env := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if tty {
		env = append(env, "TERM=xterm")
	}
	env = replaceOrAppendEnv(env, merged)
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return env
		}
	}
	if home == "" {
		home = "/"
	}
	return append(env, "HOME="+home)
}

// replaceOrAppendEnv is moby's ReplaceOrAppendEnvValues.
func replaceOrAppendEnv(defaults, overrides []string) []string {
	cache := make(map[string]int, len(defaults))
	for i, e := range defaults {
		k, _, _ := strings.Cut(e, "=")
		cache[k] = i
	}
	removed := map[int]bool{}
	for _, v := range overrides {
		k, _, hasValue := strings.Cut(v, "=")
		if !hasValue {
			if i, ok := cache[k]; ok {
				removed[i] = true
			}
			continue
		}
		if i, ok := cache[k]; ok {
			defaults[i] = v
			delete(removed, i)
		} else {
			defaults = append(defaults, v)
		}
	}
	out := defaults[:0]
	for i, e := range defaults {
		if !removed[i] {
			out = append(out, e)
		}
	}
	return out
}

// MergeLabels returns the container's labels: the image's, overridden by
// the user's (dockerd's merge). Labels are not part of the runtime spec.
func MergeLabels(image, user map[string]string) map[string]string {
	out := make(map[string]string, len(image)+len(user))
	for k, v := range image {
		out[k] = v
	}
	for k, v := range user {
		out[k] = v
	}
	return out
}
