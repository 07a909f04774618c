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

var etraceOn = os.Getenv("BERTH_ETRACE") != ""

// ETrace traces the engine's steps when BERTH_ETRACE is set; unlike
// BERTH_TRACE it is not seen by the runtime processes' own tracing.
func ETrace(what string) {
	if etraceOn {
		fmt.Fprintf(os.Stderr, "[engine %s %6.2fms] %s\n", time.Now().Format("05.000000"), float64(time.Since(traceT0).Microseconds())/1000, what)
	}
}
