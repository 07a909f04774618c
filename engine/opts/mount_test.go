package opts

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defaults := []string{"noexec", "nosuid", "nodev", "rprivate"}
	tests := []struct {
		in   string
		want MountSpec
	}{
		{"type=bind,source=" + dir + ",target=/ctr", MountSpec{Type: TypeBind, Source: dir, Target: "/ctr"}},
		{"type=bind,src=" + dir + ",dst=/ctr,readonly,bind-propagation=rshared", MountSpec{Type: TypeBind, Source: dir, Target: "/ctr", ReadOnly: true, Propagation: "rshared"}},
		{`type=bind,"source=` + dir + `",destination=/ctr,ro=false`, MountSpec{Type: TypeBind, Source: dir, Target: "/ctr"}},
		{"type=bind,src=/does/not/exist/x,dst=/c,bind-create-src", MountSpec{Type: TypeBind, Source: "/does/not/exist/x", Target: "/c", BindCreateSource: true}},
		{"type=bind,src=.,dst=/c", MountSpec{Type: TypeBind, Source: wd, Target: "/c"}},
		{"type=bind,src=" + dir + ",dst=/c,ro=1,bind-recursive=readonly,bind-propagation=rprivate", MountSpec{Type: TypeBind, Source: dir, Target: "/c", ReadOnly: true, BindRecursive: "readonly", Propagation: "rprivate"}},
		{"target=/data", MountSpec{Type: TypeVolume, Target: "/data"}},
		{"type=volume,src=myvol,dst=/data,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b", MountSpec{
			Type: TypeVolume, Source: "myvol", Target: "/data", NoCopy: true,
			VolumeDriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}, VolumeLabels: map[string]string{"a": "b"}}},
		{"type=volume,src=myvol,dst=/data,volume-subpath=sub/dir,volume-driver=local", MountSpec{Type: TypeVolume, Source: "myvol", Target: "/data", VolumeSubpath: "sub/dir", VolumeDriver: "local"}},
		{"type=tmpfs,dst=/run", MountSpec{Type: TypeTmpfs, Target: "/run", Options: defaults}},
		{"TYPE=TMPFS,dst=/run,tmpfs-size=64m,tmpfs-mode=1770", MountSpec{Type: TypeTmpfs, Target: "/run", TmpfsSize: 64 << 20, TmpfsMode: 01770,
			Options: append(append([]string{}, defaults...), "mode=1770", "size=64m")}},
		{"type=tmpfs,dst=/run,ro,tmpfs-size=1000", MountSpec{Type: TypeTmpfs, Target: "/run", ReadOnly: true, TmpfsSize: 1000,
			Options: []string{"noexec", "nosuid", "nodev", "rprivate", "ro", "size=1000"}}},
	}
	for _, tc := range tests {
		got, err := ParseMount(tc.in)
		if err != nil {
			t.Errorf("ParseMount(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMount(%q) =\n %+v, want\n %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseMountErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct{ in, want string }{
		{"", "value is empty"},
		{"type=bind,src=" + dir, `invalid mount config for type "bind": field Target must not be empty`},
		{"type=bind,dst=/c", "field Source must not be empty"},
		{"type=bind,src=" + missing + ",dst=/c", "bind source path does not exist: " + missing},
		{"type=bind,src=rel,dst=/c", "invalid mount path: 'rel' mount path must be absolute"},
		{"type=bind,src=" + dir + ",dst=/c,bind-propagation=weird", "invalid propagation mode: weird"},
		{"type=bind,src=" + dir + ",dst=/", "destination can't be '/'"},
		{"type=bind,src=" + dir + ",dst=/c,volume-nocopy", "cannot mix 'volume-*' options with mount type 'bind'"},
		{"type=volume,dst=/c,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'volume'"},
		{"type=volume,dst=/c,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"},
		{"type=tmpfs,dst=/c,src=foo", `invalid mount config for type "tmpfs": field Source must not be specified`},
		{"type=tmpfs,dst=/c,tmpfs-size=lots", "invalid value for tmpfs-size: lots"},
		{"type=tmpfs,dst=/c,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"},
		{"type=volume,dst=/c,readonly", "must not set ReadOnly mode when using anonymous volumes"},
		{"type=volume,src=v1,dst=/c,volume-subpath=../x", "subpath must be a relative path within the volume"},
		{"type=volume,src=bad/name,dst=/c", "includes invalid characters for a local volume name"},
		{"type=weird,dst=/c", `invalid mount config for type "weird": mount type unknown`},
		{"type=image,src=alpine,dst=/c", `mount type "image" is not supported`},
		{"type=bind,src=" + dir + ",dst=/c,ro=yes", `invalid value for 'ro': invalid boolean value ("yes")`},
		{"type=bind,src=" + dir + ",dst=/c,foo=bar", "unknown option 'foo' in 'foo=bar'"},
		{"type=bind,src=" + dir + ",dst=/c,source", "invalid field 'source' must be a key=value pair"},
		{"type=bind, src=" + dir, "invalid option 'src' in ' src=" + dir + "': option should not have whitespace"},
		{"type=bind,src= /x", "invalid value for 'src' in 'src= /x': value should not have whitespace"},
		{"type=bind,src=", "invalid value for 'src': value is empty"},
		{"type=bind,bind-nonrecursive", "bind-nonrecursive is deprecated"},
		{"type=bind,src=" + dir + ",dst=/c,bind-recursive=maybe", `invalid value for bind-recursive: maybe (must be "enabled", "disabled", "writable", or "readonly")`},
		{"type=bind,src=" + dir + ",dst=/c,bind-recursive=writable", "option 'bind-recursive=writable' requires 'readonly'"},
		{"type=bind,src=" + dir + ",dst=/c,ro,bind-recursive=readonly", "requires 'bind-propagation=rprivate'"},
		{`type=bind,src="/a"b,dst=/c`, `bare " in non-quoted-field`},
		{"type=", "invalid value for 'type': value is empty"},
	}
	for _, tc := range tests {
		_, err := ParseMount(tc.in)
		if err == nil {
			t.Errorf("ParseMount(%q): no error, want %q", tc.in, tc.want)
			continue
		}
		checkFlagErr(t, err, flagMount, tc.in, tc.want)
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want MountSpec
	}{
		{"/run", MountSpec{Type: TypeTmpfs, Target: "/run", Options: []string{"noexec", "nosuid", "nodev", "rprivate"}}},
		{"/run:size=64m,mode=1777", MountSpec{Type: TypeTmpfs, Target: "/run", TmpfsSize: 64 << 20, TmpfsMode: 01777,
			Options: []string{"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=1777"}}},
		{"/run:exec,ro,size=1m,size=2m", MountSpec{Type: TypeTmpfs, Target: "/run", ReadOnly: true, TmpfsSize: 2 << 20,
			Options: []string{"nosuid", "nodev", "rprivate", "exec", "ro", "size=2m"}}},
		{"/run:shared,uid=1000,gid=1000,size=50%", MountSpec{Type: TypeTmpfs, Target: "/run",
			Options: []string{"noexec", "nosuid", "nodev", "shared", "uid=1000", "gid=1000", "size=50%"}}},
	}
	for _, tc := range tests {
		got, err := ParseTmpfs(tc.in)
		if err != nil {
			t.Errorf("ParseTmpfs(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTmpfs(%q) =\n %+v, want\n %+v", tc.in, got, tc.want)
		}
	}
	bad := []struct{ in, want string }{
		{"run", "invalid mount path: 'run' mount path must be absolute"},
		{"/", "destination can't be '/'"},
		{"/run:foo", `Invalid tmpfs option ["foo"]`},
		{"/run:bar=1", `Invalid tmpfs option ["bar" "1"]`},
		{"/run:size=huge", `invalid tmpfs size "huge"`},
		{"/run:mode=9", `invalid tmpfs mode "9"`},
	}
	for _, tc := range bad {
		_, err := ParseTmpfs(tc.in)
		if err == nil {
			t.Errorf("ParseTmpfs(%q): no error", tc.in)
			continue
		}
		checkFlagErr(t, err, flagTmpfs, tc.in, tc.want)
	}
}
