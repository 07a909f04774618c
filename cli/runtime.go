package cli

import (
	"errors"

	"github.com/berth-dev/berth/cli/rtcli"
)

func init() {
	Root.AddCommand(rtcli.New("runtime"))
}

// RuntimeMain runs the runc-compatible command line (berth invoked as runc).
func RuntimeMain(args []string) int { return rtcli.Main(args) }

// asExit maps the runtime CLI's exit errors to ours.
func asExit(err error) (*ExitError, bool) {
	var re *rtcli.ExitError
	if errors.As(err, &re) {
		return &ExitError{Code: re.Code, Err: re.Err}, true
	}
	return nil, false
}
