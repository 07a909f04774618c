package initproc

import (
	"fmt"
	"os"
	"time"
)

var traceOn = os.Getenv("BERTH_TRACE") != ""

// trace prints a phase timestamp (wall clock, to line up with the parent's)
// when BERTH_TRACE is set.
func trace(what string) {
	if traceOn {
		fmt.Fprintf(os.Stderr, "[init   %s] %s\n", time.Now().Format("05.000000"), what)
	}
}
