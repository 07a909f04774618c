package rtcli

import "testing"

func TestTopCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bundle", "b", "id"}, "run"},
		{[]string{"--root", "/r", "--log", "l", "--log-format", "json", "create", "id"}, "create"},
		{[]string{"--root=/r", "--systemd-cgroup", "--debug", "delete", "-f", "id"}, "delete"},
		{[]string{"--rootless", "true", "state", "id"}, "state"},
		{[]string{"--help"}, ""},
		{[]string{"--root", "/r"}, ""},
	} {
		if got := topCommand(c.args); got != c.want {
			t.Errorf("topCommand(%q) = %q, want %q", c.args, got, c.want)
		}
	}
	// only the command asked for is built; anything else gets the whole tree
	if n := len(newRoot("runc", "run").Commands()); n != 1 {
		t.Errorf("run tree has %d commands", n)
	}
	if n := len(newRoot("runc", "nosuch").Commands()); n < 15 {
		t.Errorf("full tree has %d commands", n)
	}
}
