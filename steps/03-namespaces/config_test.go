package namespaces

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestParseNamespaces(t *testing.T) {
	allFlags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWCGROUP)
	for _, tc := range []struct {
		in   []string
		want uintptr
	}{
		{nil, allFlags},
		{[]string{}, 0},
		{[]string{"uts"}, unix.CLONE_NEWUTS},
		{[]string{"mnt", "PID"}, unix.CLONE_NEWNS | unix.CLONE_NEWPID},
		{[]string{"mount", "uts", "ipc", "net", "pid", "user", "cgroup"}, allFlags},
	} {
		got, err := ParseNamespaces(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseNamespaces(%q) = %#x, %v; want %#x", tc.in, got, err, tc.want)
		}
	}
	_, err := ParseNamespaces([]string{"uts", "time"})
	if err == nil || !strings.Contains(err.Error(), `"time" is not a namespace`) || !strings.Contains(err.Error(), "mount,uts,ipc,net,pid,user,cgroup") {
		t.Errorf(`ParseNamespaces(["uts" "time"]) error = %v, want one naming "time" and the choices`, err)
	}
}

func TestFlagNamesFollowsUnshareOrder(t *testing.T) {
	got := strings.Join(flagNames(unix.CLONE_NEWCGROUP|unix.CLONE_NEWNS|unix.CLONE_NEWPID), ",")
	if got != "mount,pid,cgroup" {
		t.Errorf("flagNames = %q, want mount,pid,cgroup", got)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Config{Root: dir, Args: []string{"sh"}}
	for _, tc := range []struct {
		name  string
		cfg   Config
		flags uintptr
		want  string // "" for no error
	}{
		{"fine", ok, unix.CLONE_NEWNS | unix.CLONE_NEWUTS, ""},
		{"missing root", Config{Root: filepath.Join(dir, "nope"), Args: []string{"sh"}}, 0, "no such file"},
		{"root is a file", Config{Root: file, Args: []string{"sh"}}, 0, "is not a directory"},
		{"no command", Config{Root: dir}, 0, "no command"},
		{"pivot without mount ns", Config{Root: dir, Args: []string{"sh"}, PivotRoot: true}, unix.CLONE_NEWUTS, "pivot_root needs the mount namespace"},
		{"hostname without uts", Config{Root: dir, Args: []string{"sh"}, Hostname: "box"}, unix.CLONE_NEWNS, "would rename the host"},
		{"long hostname", Config{Root: dir, Args: []string{"sh"}, Hostname: strings.Repeat("h", 65)}, unix.CLONE_NEWUTS, "64 characters"},
		{"hostname with a slash", Config{Root: dir, Args: []string{"sh"}, Hostname: "a/b"}, unix.CLONE_NEWUTS, "is not a hostname"},
		{"hostname with a space", Config{Root: dir, Args: []string{"sh"}, Hostname: "a b"}, unix.CLONE_NEWUTS, "is not a hostname"},
		{"hostname like a flag", Config{Root: dir, Args: []string{"sh"}, Hostname: "-x"}, unix.CLONE_NEWUTS, "is not a hostname"},
		{"hostname not ASCII", Config{Root: dir, Args: []string{"sh"}, Hostname: "héllo"}, unix.CLONE_NEWUTS, "is not a hostname"},
		{"hostname with an empty part", Config{Root: dir, Args: []string{"sh"}, Hostname: "a..b"}, unix.CLONE_NEWUTS, "is not a hostname"},
		{"bad map", Config{Root: dir, Args: []string{"sh"}, UIDMap: []IDMap{{0, 100000, 0}}}, unix.CLONE_NEWUSER, "not valid"},
		// t.TempDir's parent is 0700: host uid 100000 may not enter it.
		{"root out of the mapped root's reach", Config{Root: dir, Args: []string{"sh"}, UIDMap: HostRange(100000, 65536), GIDMap: HostRange(100000, 65536)}, unix.CLONE_NEWUSER,
			fmt.Sprintf("host uid 100000, the container's root, may not enter %s (mode 0700", filepath.Dir(dir))},
		{"the same without a user namespace", Config{Root: dir, Args: []string{"sh"}, UIDMap: HostRange(100000, 65536)}, unix.CLONE_NEWNS, ""},
		{"the default map", Config{Root: dir, Args: []string{"sh"}}, unix.CLONE_NEWUSER, ""},
	} {
		err := tc.cfg.check(sys.Discard(), tc.flags)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: check() = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: check() = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestIDMaps(t *testing.T) {
	if got := string(formatIDMap(RootMap(1000))); got != "0 1000 1\n" {
		t.Errorf("formatIDMap(RootMap(1000)) = %q, want %q", got, "0 1000 1\n")
	}
	if got := string(formatIDMap(HostRange(100000, 65536))); got != "0 100000 65536\n" {
		t.Errorf("formatIDMap(HostRange(100000, 65536)) = %q", got)
	}
}

func TestDefaultEnv(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("SECRET", "host only")
	env := strings.Join(defaultEnv("box"), " ")
	for _, want := range []string{"PATH=" + defaultPath, "HOME=/root", "HOSTNAME=box", "TERM=xterm"} {
		if !strings.Contains(env, want) {
			t.Errorf("defaultEnv = %q, want it to hold %q", env, want)
		}
	}
	if strings.Contains(env, "SECRET") {
		t.Errorf("defaultEnv = %q leaks workshop's environment", env)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin, sbin := filepath.Join(dir, "bin"), filepath.Join(dir, "sbin")
	for _, d := range []string{bin, sbin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "tool"), 0o755)
	write(filepath.Join(bin, "data"), 0o644)
	write(filepath.Join(sbin, "tool"), 0o755)
	write(filepath.Join(sbin, "data"), 0o755)
	path := bin + ":" + sbin
	for _, tc := range []struct{ name, want string }{
		{"tool", filepath.Join(bin, "tool")},  // first on the PATH
		{"data", filepath.Join(sbin, "data")}, // the first executable one wins
		{"/abs/thing", "/abs/thing"},          // a path is not looked up
		{"./rel", "./rel"},                    // neither is a relative one
	} {
		got, err := lookPath(tc.name, path)
		if err != nil || got != tc.want {
			t.Errorf("lookPath(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if got, err := lookPath("data", bin); err != nil || got != filepath.Join(bin, "data") {
		t.Errorf("lookPath(data) with only a non-executable file = %q, %v; want it (execve says EACCES: 126)", got, err)
	}
	if _, err := lookPath("missing", path); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("lookPath(missing) error = %v, want not found", err)
	}
}

func TestPathOf(t *testing.T) {
	if got := pathOf([]string{"HOME=/", "PATH=/a:/b"}); got != "/a:/b" {
		t.Errorf("pathOf = %q, want /a:/b", got)
	}
	if got := pathOf(nil); got != defaultPath {
		t.Errorf("pathOf(nil) = %q, want the default", got)
	}
}

func TestPrintTableMarksWhatDiffers(t *testing.T) {
	var b strings.Builder
	host := map[string]string{"uts": "uts:[1]", "pid": "pid:[2]"}
	ctr := map[string]string{"uts": "uts:[9]", "pid": "pid:[2]"}
	printTable(&b, 42, host, 1, ctr)
	out := b.String()
	for _, want := range []string{"workshop (pid 42)", "container (pid 1)", "uts:[1]", "uts:[9]"} {
		if !strings.Contains(out, want) {
			t.Errorf("table:\n%s\nwant %q in it", out, want)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "uts" && f[3] != "NEW" || len(f) == 4 && f[0] == "pid" && f[3] != "same" {
			t.Errorf("table line %q is marked wrong", line)
		}
		if strings.HasSuffix(line, " ") {
			t.Errorf("table line %q ends in spaces", line)
		}
	}
}

func TestValidHostname(t *testing.T) {
	for _, ok := range []string{"box", "web-1.lab", "a3b697acdcc6", "A", strings.Repeat("h", 63)} {
		if !validHostname(ok) {
			t.Errorf("validHostname(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"", ".", "box.", "-x", "x-", "a_b", "a b", strings.Repeat("h", 64)} {
		if validHostname(bad) {
			t.Errorf("validHostname(%q) = true, want false", bad)
		}
	}
}

// A refused hostname says which rule it breaks, not only what is allowed.
func TestCheckHostnameSaysWhichRule(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"héllo", `it holds 'é', which a hostname may not`},
		{"a b", `it holds ' ', which a hostname may not`},
		{"x_y", `it holds '_', which a hostname may not`},
		{"a\xffb", "it holds the byte 0xff, which a hostname may not"},
		{"a\ufffdb", "it holds '\ufffd', which a hostname may not"},
		{"-x", `"-x" starts or ends with a hyphen`},
		{"web.lab-", `"lab-" starts or ends with a hyphen`},
		{"a..b", "a part between dots is empty"},
		{".box", "a part between dots is empty"},
		{strings.Repeat("h", 64), "each part between dots has at most 63 characters (RFC 1123), and \"hhhhhhhhhhhh…\" has 64"},
	} {
		if err := CheckHostname(tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckHostname(%q) = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// A root the mapped root may reach: every directory on the way lets
// others (or its group, or its owner, where that is the mapped id) search
// it.
func TestRootReachable(t *testing.T) {
	testbin.NeedRoot(t) // chown
	dir := t.TempDir()
	root := filepath.Join(dir, "a", "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), root, 100000, 100000); err == nil || !strings.Contains(err.Error(), "may not enter "+filepath.Dir(dir)+" ") {
		t.Errorf("rootReachable behind a 0700 directory = %v", err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), root, 100000, 100000); err != nil {
		t.Errorf("rootReachable through 0711 directories = %v", err)
	}
	a := filepath.Join(dir, "a")
	if err := os.Chmod(a, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), root, 100000, 100000); err == nil || !strings.Contains(err.Error(), "may not enter "+a+" (mode 0750") {
		t.Errorf("rootReachable through a 0750 directory of another group = %v", err)
	}
	if err := os.Chown(a, 0, 100000); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), root, 100000, 100000); err != nil {
		t.Errorf("rootReachable through a 0750 directory of its group = %v", err)
	}
	if err := os.Chmod(a, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(a, 100000, 0); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), root, 100000, 100000); err != nil {
		t.Errorf("rootReachable through a 0700 directory it owns = %v", err)
	}
	if err := rootReachable(sys.Discard(), root, 0, 0); err != nil {
		t.Errorf("rootReachable for host root = %v", err)
	}
	// A symlink out of a closed directory: the kernel enters the closed
	// one to read the link, whatever the link's target allows.
	closed, open := filepath.Join(dir, "closed"), filepath.Join(dir, "open", "root")
	if err := os.MkdirAll(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../open", filepath.Join(closed, "link")); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), open, 100000, 100000); err != nil {
		t.Errorf("rootReachable of the open root = %v", err)
	}
	if err := rootReachable(sys.Discard(), filepath.Join(closed, "link", "root"), 100000, 100000); err == nil || !strings.Contains(err.Error(), "may not enter "+closed+" (mode 0700") {
		t.Errorf("rootReachable through a closed directory's symlink = %v", err)
	}
	// And a link from an open directory into a closed one.
	if err := os.Symlink("../closed", filepath.Join(dir, "open", "in")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(closed, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rootReachable(sys.Discard(), filepath.Join(dir, "open", "in", "root"), 100000, 100000); err == nil || !strings.Contains(err.Error(), "may not enter "+closed+" (mode 0700") {
		t.Errorf("rootReachable through a symlink into a closed directory = %v", err)
	}
	// Lookups no walk of paths sees (a review's): a chain of symlinks
	// through the closed directory, and a target that climbs through it.
	if err := os.Symlink("../open", filepath.Join(closed, "l2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../closed/l2", filepath.Join(dir, "open", "l1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../closed/../open", filepath.Join(dir, "open", "l3")); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"l1", "l3"} {
		if err := rootReachable(sys.Discard(), filepath.Join(dir, "open", via, "root"), 100000, 100000); err == nil || !strings.Contains(err.Error(), "host uid 100000, the container's root, may not") {
			t.Errorf("rootReachable through open/%s = %v, want a refusal", via, err)
		}
	}
}

// When the root is out of reach, the directory blamed is the one that
// closes the way, judged by the bits that apply to the mapped ids: a 0750
// directory of the mapped gid's group lets it in (its group's x), and the
// 0700 root-owned directory below it does not. Judged by the others' bits
// instead, the group's directory would be blamed, and its chmod o+x hint
// would change nothing: the student would run it and meet the same error.
func TestRootReachableBlamesTheDirectoryThatCloses(t *testing.T) {
	testbin.NeedRoot(t) // chown
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	group, closed := filepath.Join(dir, "group"), filepath.Join(dir, "group", "closed")
	root := filepath.Join(closed, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(group, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(group, 0, 100000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	err := rootReachable(sys.Discard(), root, 100000, 100000)
	if err == nil || !strings.Contains(err.Error(), "may not enter "+closed+" (mode 0700, owner uid 0)") {
		t.Errorf("rootReachable through a 0750 directory of its group, then a 0700 one of root's = %v\nwant %s blamed", err, closed)
	}
}
