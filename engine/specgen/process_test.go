package specgen

import (
	"errors"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestArgsDockerRules(t *testing.T) {
	imgEP := []string{"/entry", "-x"}
	imgCmd := []string{"serve", "--port", "80"}
	for _, c := range []struct {
		name       string
		ep, cmd    []string
		entrypoint *[]string
		args       []string
		want       []string
	}{
		{"image only", imgEP, imgCmd, nil, nil, []string{"/entry", "-x", "serve", "--port", "80"}},
		{"args replace cmd", imgEP, imgCmd, nil, []string{"debug"}, []string{"/entry", "-x", "debug"}},
		{"entrypoint drops image cmd", imgEP, imgCmd, &[]string{"/bin/sh"}, nil, []string{"/bin/sh"}},
		{"entrypoint with args", imgEP, imgCmd, &[]string{"/bin/sh"}, []string{"-c", "id"}, []string{"/bin/sh", "-c", "id"}},
		{"entrypoint reset with args", imgEP, imgCmd, &[]string{""}, []string{"ls", "/"}, []string{"ls", "/"}},
		{"entrypoint reset empty slice with args", imgEP, imgCmd, &[]string{}, []string{"ls"}, []string{"ls"}},
		{"cmd only image", nil, []string{"sh"}, nil, nil, []string{"sh"}},
		{"image entrypoint [\"\"] is no entrypoint", []string{""}, []string{"sh"}, nil, nil, []string{"sh"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Args(c.ep, c.cmd, c.entrypoint, c.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("args %q, want %q", got, c.want)
			}
		})
	}
	// --entrypoint "" and no args, on an image with a Cmd: Docker has
	// nothing to run (the image's Cmd was dropped).
	if _, err := Args(imgEP, imgCmd, &[]string{""}, nil); !errors.Is(err, ErrNoCommand) {
		t.Fatalf("reset entrypoint without args: err %v, want ErrNoCommand", err)
	}
	if _, err := Args(nil, nil, nil, nil); !errors.Is(err, ErrNoCommand) {
		t.Fatalf("nothing to run: err %v", err)
	}
	wantErr(t, &Options{Entrypoint: &[]string{""}, Image: ocispec.ImageConfig{Cmd: []string{"sh"}}, Cmd: nil}, "no command specified")
}

func TestEnvDockerOrder(t *testing.T) {
	root := testRootfs(t)
	s := generate(t, &Options{
		Rootfs:   root,
		Hostname: "c0ffee",
		Image:    ocispec.ImageConfig{Env: []string{"PATH=/opt/bin:/bin", "LANG=C.UTF-8", "FOO=image"}, Cmd: []string{"sh"}},
		Env:      []string{"FOO=user", "BAR=1", "LANG"},
	})
	// dockerd: PATH, HOSTNAME replaced in place; then the user's, then the
	// image's the user did not name (a bare LANG hides the image's LANG);
	// HOME from passwd last, as runc adds it.
	want := []string{"PATH=/opt/bin:/bin", "HOSTNAME=c0ffee", "FOO=user", "BAR=1", "HOME=/root"}
	if !slices.Equal(s.Process.Env, want) {
		t.Fatalf("env\n got %q\nwant %q", s.Process.Env, want)
	}

	s = generate(t, &Options{Rootfs: root, Hostname: "h", Tty: true, User: "alice", Env: []string{"HOME=/data"}})
	want = []string{"PATH=" + DefaultPath, "HOSTNAME=h", "TERM=xterm", "HOME=/data"}
	if !slices.Equal(s.Process.Env, want) {
		t.Fatalf("tty env\n got %q\nwant %q", s.Process.Env, want)
	}
	if !s.Process.Terminal {
		t.Fatal("tty not set")
	}
	s = generate(t, &Options{Rootfs: root, User: "4242"})
	if s.Process.Env[len(s.Process.Env)-1] != "HOME=/" {
		t.Fatalf("uid without passwd entry: env %q, want HOME=/", s.Process.Env)
	}
	s = generate(t, &Options{Rootfs: root, Env: []string{"TERM=dumb"}, Tty: true})
	if !slices.Contains(s.Process.Env, "TERM=dumb") || slices.Contains(s.Process.Env, "TERM=xterm") {
		t.Fatalf("-e TERM must replace the tty default: %q", s.Process.Env)
	}
}

func TestMergeLabels(t *testing.T) {
	got := MergeLabels(map[string]string{"a": "img", "b": "img"}, map[string]string{"b": "user"})
	if got["a"] != "img" || got["b"] != "user" || len(got) != 2 {
		t.Fatalf("labels %v", got)
	}
}

func TestStopSignal(t *testing.T) {
	for _, c := range []struct {
		image, flag string
		want        int
	}{
		{"", "", 15}, {"SIGQUIT", "", 3}, {"SIGQUIT", "kill", 9}, {"", "10", 10},
		{"", "SIGRTMIN+3", 37}, {"", "RTMAX-1", 63}, {"sigusr1", "", 10},
	} {
		got, err := StopSignal(c.image, c.flag)
		if err != nil || int(got) != c.want {
			t.Errorf("StopSignal(%q, %q) = %d, %v; want %d", c.image, c.flag, got, err, c.want)
		}
	}
	for _, bad := range []string{"SIGNOPE", "0", "99", "RTMIN+40"} {
		if _, err := StopSignal("", bad); err == nil {
			t.Errorf("StopSignal(%q) succeeded", bad)
		}
	}
	wantErr(t, &Options{StopSignal: "SIGBOGUS"}, "SIGBOGUS")
	wantErr(t, &Options{Image: ocispec.ImageConfig{StopSignal: "WHAT", Cmd: []string{"sh"}}}, "WHAT")
}

func TestImageVolumes(t *testing.T) {
	got := ImageVolumes(map[string]struct{}{"/data": {}, "/var/lib/db/": {}, "/logs": {}}, nil)
	if !slices.Equal(got, []string{"/data", "/logs", "/var/lib/db"}) {
		t.Fatalf("volumes %q", got)
	}
	got = ImageVolumes(map[string]struct{}{"/data": {}, "/logs": {}}, []specs.Mount{{Destination: "/data/"}})
	if !slices.Equal(got, []string{"/logs"}) {
		t.Fatalf("volumes with a mount %q", got)
	}
}

func BenchmarkGenerate(b *testing.B) {
	o := Options{Hostname: "bench", Cmd: []string{"true"}}
	for b.Loop() {
		if _, err := Generate(&o); err != nil {
			b.Fatal(err)
		}
	}
}
