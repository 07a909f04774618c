package cli

import (
	"testing"
	"time"
)

// The size and age columns must read like docker's (go-units).
func TestHumanUnits(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 999: "999B", 1000: "1kB", 1090000: "1.09MB", 624_000_000: "624MB", 1_234_567_890: "1.23GB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "Less than a second", 30 * time.Second: "30 seconds", 90 * time.Second: "About a minute",
		10 * time.Minute: "10 minutes", 3 * time.Hour: "3 hours", 72 * time.Hour: "3 days",
		21 * 24 * time.Hour: "3 weeks", 100 * 24 * time.Hour: "3 months", 3 * 365 * 24 * time.Hour: "3 years",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestIDPrefixAndServerHost(t *testing.T) {
	for s, ok := range map[string]bool{"c984215aa757": true, "sha256:c98": true, "busybox": false, "": false, "C98": false} {
		if _, got := idPrefix(s); got != ok {
			t.Errorf("idPrefix(%q) = %v, want %v", s, got, ok)
		}
	}
	for in, want := range map[string]string{
		"https://index.docker.io/v1/": "docker.io", "localhost:5000": "localhost:5000", "http://10.0.0.5:5000/": "10.0.0.5:5000",
	} {
		if got := serverHost(in); got != want {
			t.Errorf("serverHost(%q) = %q, want %q", in, got, want)
		}
	}
}
