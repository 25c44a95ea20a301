package imagetar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A hostile archive and what must become of it. Modelled on the breakout
// tests of containerd (archive/tar_test.go), moby (pkg/archive) and umoci:
// every case unpacks next to a victim directory, and every case, refused or
// not, must leave the victim exactly as it was.
type breakout struct {
	name string
	// entries builds the archive; victim is the victim's absolute path and
	// "../victim" reaches it from the destination.
	entries func(victim string) []entry
	// refuse: the unpack must fail, naming this entry.
	refuse string
	// why: a word the refusal must contain.
	why string
	// then, for an accepted archive: what must be true inside the root.
	then func(t *testing.T, root, victim string)
	// devices: the case makes device nodes, so it runs only where they are allowed.
	devices bool
}

var breakouts = []breakout{
	{
		name:    "dotdot name",
		entries: func(string) []entry { return []entry{file("../victim/evil", "x")} },
		refuse:  "../victim/evil", why: "climbs out",
	},
	{
		name:    "dotdot deep in the name",
		entries: func(string) []entry { return []entry{dir("a/"), file("a/b/../../../victim/evil", "x")} },
		refuse:  "a/b/../../../victim/evil", why: "climbs out",
	},
	{
		name:    "dotdot directory",
		entries: func(string) []entry { return []entry{dir("../victim/newdir/")} },
		refuse:  "../victim/newdir/", why: "climbs out",
	},
	{
		name: "dotdot long name (PAX header)",
		entries: func(string) []entry {
			return []entry{file(strings.Repeat("a/", 60)+strings.Repeat("../", 61)+"victim/evil", "x")}
		},
		refuse: strings.Repeat("a/", 60) + strings.Repeat("../", 61) + "victim/evil", why: "climbs out",
	},
	{
		name:    "absolute name lands inside",
		entries: func(v string) []entry { return []entry{file(v+"/evil", "inside")} },
		then: func(t *testing.T, root, v string) {
			wantFile(t, filepath.Join(root, v, "evil"), "inside")
		},
	},
	{
		name: "symlink up and out, then a file through it",
		entries: func(string) []entry {
			return []entry{symlink("up", "../victim"), file("up/evil", "inside")}
		},
		then: func(t *testing.T, root, _ string) { wantFile(t, filepath.Join(root, "victim", "evil"), "inside") },
	},
	{
		name: "absolute symlink out, then a file through it",
		entries: func(v string) []entry {
			return []entry{symlink("abs", v), file("abs/evil", "inside")}
		},
		then: func(t *testing.T, root, v string) { wantFile(t, filepath.Join(root, v, "evil"), "inside") },
	},
	{
		name: "symlink chain of several hops, then a file through it",
		entries: func(string) []entry {
			return []entry{
				symlink("hop1", "hop2/x"), symlink("hop2", "hop3"), dir("deep/"),
				symlink("hop3", "deep/../../victim"), file("hop1/evil", "inside"),
			}
		},
		then: func(t *testing.T, root, _ string) { wantFile(t, filepath.Join(root, "victim", "x", "evil"), "inside") },
	},
	{
		name: "symlink to the parent, then directories through it",
		entries: func(string) []entry {
			return []entry{symlink("p", ".."), dir("p/victim/").withMode(0o777), dir("p/victim/newdir/")}
		},
		then: func(t *testing.T, root, _ string) { wantDir(t, filepath.Join(root, "victim", "newdir")) },
	},
	{
		name: "symlink planted, then a file of the same name",
		entries: func(v string) []entry {
			return []entry{symlink("f", v+"/file"), file("f", "replaced").withMode(0o4755)}
		},
		then: func(t *testing.T, root, _ string) { wantFile(t, filepath.Join(root, "f"), "replaced") },
	},
	{
		name: "relative symlink planted, then a file of the same name",
		entries: func(string) []entry {
			return []entry{symlink("f", "../victim/file"), file("f", "replaced")}
		},
		then: func(t *testing.T, root, _ string) { wantFile(t, filepath.Join(root, "f"), "replaced") },
	},
	{
		name: "symlink planted, then a directory of the same name with a new mode",
		entries: func(v string) []entry {
			return []entry{symlink("d", v+"/dir"), dir("d/").withMode(0o777).withTime(time.Unix(1, 0))}
		},
		then: func(t *testing.T, root, _ string) { wantDir(t, filepath.Join(root, "d")) },
	},
	{
		name: "empty directory replaced by a symlink, then a file through it",
		entries: func(string) []entry {
			return []entry{dir("d/"), symlink("d", "../victim"), file("d/evil", "inside")}
		},
		then: func(t *testing.T, root, _ string) { wantFile(t, filepath.Join(root, "victim", "evil"), "inside") },
	},
	{
		name: "non-empty directory replaced by a symlink",
		entries: func(v string) []entry {
			return []entry{dir("d/"), file("d/x", "x"), symlink("d", v), file("d/evil", "x")}
		},
		refuse: "d", why: "not empty",
	},
	{
		name:    "symlink named .",
		entries: func(v string) []entry { return []entry{symlink(".", v)} },
		refuse:  ".", why: "root",
	},
	{
		name:    "symlink named ./",
		entries: func(v string) []entry { return []entry{file("a", "a"), symlink("./", "../victim")} },
		refuse:  "./", why: "root",
	},
	{
		name:    "symlink named by an empty name",
		entries: func(v string) []entry { return []entry{symlink("", v)} },
		refuse:  "", why: "root",
	},
	{
		name:    "hardlink named .",
		entries: func(string) []entry { return []entry{file("x", "x"), hardlink(".", "x")} },
		refuse:  ".", why: "root",
	},
	{
		name:    "hardlink up and out",
		entries: func(string) []entry { return []entry{hardlink("evil", "../victim/file")} },
		refuse:  "evil", why: "outside",
	},
	{
		name:    "hardlink to an absolute host path",
		entries: func(v string) []entry { return []entry{hardlink("evil", v+"/file")} },
		refuse:  "evil", why: "not in the archive",
	},
	{
		name: "hardlink through a planted relative symlink",
		entries: func(string) []entry {
			return []entry{symlink("s", "../victim"), hardlink("evil", "s/file")}
		},
		refuse: "evil", why: "not in the archive",
	},
	{
		name: "hardlink through a planted absolute symlink",
		entries: func(v string) []entry {
			return []entry{symlink("s", v), hardlink("evil", "s/file")}
		},
		refuse: "evil", why: "not in the archive",
	},
	{
		name: "hardlink to a symlink that points out, then a mode change through it",
		entries: func(v string) []entry {
			return []entry{
				symlink("s", v+"/file"), hardlink("h", "s"),
				dir("h/").withMode(0o777), file("s", "replaced").withMode(0o777),
			}
		},
		then: func(t *testing.T, root, _ string) {
			wantDir(t, filepath.Join(root, "h"))
			wantFile(t, filepath.Join(root, "s"), "replaced")
		},
	},
	{
		name: "hardlink to a symlink that points out, kept as a link to the symlink",
		entries: func(v string) []entry {
			return []entry{symlink("s", v+"/file"), hardlink("h", "s")}
		},
		then: func(t *testing.T, root, v string) {
			if l, err := os.Readlink(filepath.Join(root, "h")); err != nil || l != v+"/file" {
				t.Errorf("h = %q, %v: want the symlink itself, hardlinked", l, err)
			}
		},
	},
	{
		name:    "hardlink to a directory",
		entries: func(string) []entry { return []entry{dir("d/"), hardlink("h", "d")} },
		refuse:  "h", why: "directory",
	},
	{
		name:    "hardlink to the root",
		entries: func(string) []entry { return []entry{hardlink("h", "./")} },
		refuse:  "h", why: "root",
	},
	{
		name:    "symlink loop, then a file through it",
		entries: func(string) []entry { return []entry{symlink("a", "b"), symlink("b", "a"), file("a/x", "x")} },
		refuse:  "a/x",
	},
	{
		name: "owner and times on a symlink that points out",
		entries: func(v string) []entry {
			return []entry{symlink("o", v+"/file").withOwner(1234, 1234).withTime(time.Unix(100, 0))}
		},
		then: func(t *testing.T, root, v string) {
			if l, _ := os.Readlink(filepath.Join(root, "o")); l != v+"/file" {
				t.Errorf("o -> %q, want the target as the archive stores it", l)
			}
		},
	},
	{
		name: "fifo through a planted symlink",
		entries: func(string) []entry {
			return []entry{symlink("p", "../victim"), fifo("p/fifo")}
		},
		then: func(t *testing.T, root, _ string) {
			if fi, err := os.Lstat(filepath.Join(root, "victim", "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the fifo is not at victim/fifo inside the root: %v", err)
			}
		},
	},
	{
		name:    "device node where devices are refused",
		entries: func(string) []entry { return []entry{chardev("null", 1, 3)} },
		refuse:  "null", why: "device",
	},
	{
		name: "device node through an absolute symlink",
		entries: func(v string) []entry {
			return []entry{symlink("dev", v), chardev("dev/null", 1, 3)}
		},
		devices: true,
		then: func(t *testing.T, root, v string) {
			fi, err := os.Lstat(filepath.Join(root, v, "null"))
			if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("the device is not at %s/null inside the root: %v", v, err)
			}
		},
	},
	{
		name: "benign: var/run -> /run, then var/run/x lands at run/x",
		entries: func(string) []entry {
			return []entry{dir("var/"), symlink("var/run", "/run"), file("var/run/x", "pid"), dir("run/").withMode(0o755)}
		},
		then: func(t *testing.T, root, _ string) {
			wantFile(t, filepath.Join(root, "run", "x"), "pid")
			if l, _ := os.Readlink(filepath.Join(root, "var", "run")); l != "/run" {
				t.Errorf("var/run -> %q, want /run kept as it is", l)
			}
		},
	},
	{
		name: "benign: hardlink to an absolute name that is in the archive",
		entries: func(string) []entry {
			return []entry{dir("etc/"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), hardlink("pw", "/etc/passwd")}
		},
		then: func(t *testing.T, root, _ string) {
			a, _ := os.Stat(filepath.Join(root, "etc", "passwd"))
			b, _ := os.Stat(filepath.Join(root, "pw"))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Errorf("pw is not a hardlink of etc/passwd")
			}
		},
	},
	{
		name: "benign: dotdot that stays inside",
		entries: func(string) []entry {
			return []entry{dir("a/"), file("a/../b", "b"), file("./././c//d", "d")}
		},
		then: func(t *testing.T, root, _ string) {
			wantFile(t, filepath.Join(root, "b"), "b")
			wantFile(t, filepath.Join(root, "c", "d"), "d")
		},
	},
}

func TestBreakouts(t *testing.T) {
	for _, bc := range breakouts {
		t.Run(bc.name, func(t *testing.T) {
			s := newScene(t)
			opts := UnpackOptions{}
			if !bc.devices {
				opts.RefuseDevices = "this unpack refuses device nodes"
			}
			if bc.devices && !DevicesAllowed() {
				// Here the same archive must be refused instead.
				bc.refuse, bc.why, bc.then = "dev/null", "device", nil
			}
			_, err := unpackBytes(s, buildTar(t, bc.entries(s.victim)...), opts)
			s.check(t, err)
			if bc.refuse != "" || bc.then == nil {
				var ee *EntryError
				if !errors.As(err, &ee) {
					t.Fatalf("Unpack = %v, want an *EntryError for %q", err, bc.refuse)
				}
				if ee.Name != bc.refuse || !strings.Contains(err.Error(), bc.why) {
					t.Errorf("Unpack = %q, want it to name entry %q and say %q", err, bc.refuse, bc.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unpack = %v, want the archive placed inside the root", err)
			}
			bc.then(t, s.dest, s.victim)
		})
	}
}

func wantFile(t *testing.T, p, body string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is not a regular file: %v", p, err)
		return
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("%s holds %q, want %q", p, b, body)
	}
}

func wantDir(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		t.Errorf("%s is not a directory: %v", p, err)
	}
}

// TestNoSyscallFollowsTheLastSymlink unpacks, as root, an archive that plants
// symlinks to the victim and then sets owners, modes and times on names
// that are those symlinks. The victim keeps its owner, mode and times.
func TestOwnersModesTimesStayInside(t *testing.T) {
	s := newScene(t)
	v := s.victim
	_, err := unpackBytes(s, buildTar(t,
		symlink("a", v+"/file").withOwner(4321, 4321).withTime(time.Unix(5, 0)),
		symlink("b", v+"/dir"),
		dir("b/").withMode(0o1777).withOwner(4321, 4321).withTime(time.Unix(5, 0)),
		symlink("c", "../victim/file"),
		file("c", "c").withMode(0o6777).withOwner(4321, 4321).withTime(time.Unix(5, 0)),
	), UnpackOptions{})
	s.check(t, err)
	if err != nil {
		t.Fatalf("Unpack = %v", err)
	}
	if os.Geteuid() == 0 {
		fi, _ := os.Lstat(filepath.Join(s.dest, "c"))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || fi.Mode()&os.ModeSetuid == 0 {
			t.Errorf("c: uid %d mode %v, want the archive's owner and setuid on the new file", st.Uid, fi.Mode())
		}
	}
}
