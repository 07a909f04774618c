package oci

import (
	"fmt"
	"os"
	"time"
)

var traceOn = os.Getenv("BERTH_TRACE") != ""
var traceT0 = time.Now()

func trace(what string) {
	if traceOn {
		fmt.Fprintf(os.Stderr, "[parent %s %6.2fms] %s\n", time.Now().Format("05.000000"), float64(time.Since(traceT0).Microseconds())/1000, what)
	}
}

// Trace is trace for the CLI layer.
func Trace(what string) { trace(what) }
