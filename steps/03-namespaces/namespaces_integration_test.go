package namespaces_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/ids"
	"github.com/workshop-dev/workshop/internal/testbin"
	namespaces "github.com/workshop-dev/workshop/steps/03-namespaces"
)

func TestCommandIsPID1(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := step3(t, root, "", "--", "/bin/sh", "-c", "echo $$")
	if r.Code != 0 || r.Stdout != "1\n" {
		t.Fatalf("step 3 -- sh -c 'echo $$' = %d, stdout %q, want 0 and \"1\"; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// The narration shows who made each call: the child as itself, pid 1.
	for _, want := range []string{"clone(flags=", "CLONE_NEWPID", `[pid 1] chroot("` + root + `") = 0`, `[pid 1] execve("/bin/sh", ["/bin/sh", "-c", "echo $$"], …) = 0`} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("narration lacks %q:\n%s", want, r.Stderr)
		}
	}
}

func TestHostname(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	r := step3(t, root, "", "--", "/bin/hostname")
	id := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !ids.Valid(id) {
		t.Fatalf("step 3 -- hostname = %d, %q; want 0 and a 12-hex-digit container id; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if want := fmt.Sprintf("[pid 1] sethostname(%q, 12) = 0", id); !strings.Contains(r.Stderr, want) {
		t.Errorf("narration lacks %q:\n%s", want, r.Stderr)
	}
	r = step3(t, root, "", "--hostname", "box", "--", "/bin/sh", "-c", "hostname; echo $HOSTNAME")
	if r.Code != 0 || r.Stdout != "box\nbox\n" {
		t.Errorf("step 3 --hostname box = %d, %q; want 0 and box twice (hostname, $HOSTNAME); stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if after, _ := os.Hostname(); after != host {
		t.Errorf("the host's hostname changed from %q to %q", host, after)
	}
}

// procNames maps --ns names to /proc/PID/ns names.
var procNames = map[string]string{"mount": "mnt", "uts": "uts", "ipc": "ipc", "net": "net", "pid": "pid", "user": "user", "cgroup": "cgroup"}

// tableMarks reads the namespace table of a narration: ns -> NEW or same.
func tableMarks(narration string) map[string]string {
	marks := map[string]string{}
	re := regexp.MustCompile(`^(\w+)\s+\w+:\[\d+\]\s+\w+:\[\d+\]\s+(NEW|same)$`)
	for _, l := range strings.Split(narration, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			marks[m[1]] = m[2]
		}
	}
	return marks
}

func TestEachNamespaceAlone(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, only := range namespaces.Names() {
		t.Run(only, func(t *testing.T) {
			r := start(t, step3Args(t, root, "--ns", only, "--", "/bin/sh", "-c", "echo ready; read x")...)
			r.Stdout.WaitFor(t, "ready")
			pid := strconv.Itoa(containerPid(r))
			for name, link := range procNames {
				host, ctr := nsLink(t, "self", link), nsLink(t, pid, link)
				if differs := host != ctr; differs != (name == only) {
					t.Errorf("--ns %s: the container's %s namespace is %s, the host's %s; want them to differ only for %s", only, name, ctr, host, only)
				}
			}
			r.Stdin.Write([]byte("\n"))
			if code := r.Wait().Code; code != 0 {
				t.Fatalf("--ns %s: exit %d; stderr:\n%s", only, code, r.Stderr)
			}
			marks := tableMarks(r.Stderr.String())
			for name, link := range procNames {
				want := "same"
				if name == only {
					want = "NEW"
				}
				if marks[link] != want {
					t.Errorf("--ns %s: the table marks %s %q, want %q:\n%s", only, link, marks[link], want, r.Stderr)
				}
			}
		})
	}
}

func TestNamespaceTable(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := step3(t, root, "", "--", "/bin/true")
	if r.Code != 0 {
		t.Fatalf("step 3 -- true = %d; stderr:\n%s", r.Code, r.Stderr)
	}
	marks := tableMarks(r.Stderr)
	for _, link := range procNames {
		if marks[link] != "NEW" {
			t.Errorf("the table marks %s %q, want NEW (all seven namespaces by default):\n%s", link, marks[link], r.Stderr)
		}
	}
	if marks["time"] != "same" {
		t.Errorf("the table marks time %q, want same (workshop does not make one)", marks["time"])
	}
	header := "namespace  workshop (pid "
	if !strings.Contains(r.Stderr, header) || !strings.Contains(r.Stderr, "container (pid 1)") {
		t.Errorf("the table has no header naming workshop and the container's pid 1:\n%s", r.Stderr)
	}
	// The table comes before the command starts.
	if strings.Index(r.Stderr, "namespace  workshop") > strings.Index(r.Stderr, `execve("/bin/true"`) {
		t.Errorf("the table is printed after the command's execve:\n%s", r.Stderr)
	}
}

func TestUserMaps(t *testing.T) {
	testbin.NeedRoot(t)
	for _, tc := range []struct {
		name    string
		flags   []string
		hostUID string
		uidMap  string
		owner   string // of /bin/busybox (host root's) as seen inside
	}{
		{"map-root-user", nil, "0", "0 0 1", "0"},
		// The default, said: as the lesson has it.
		{"map-users-root", []string{"--map-users", "root"}, "0", "0 0 1", "0"},
		{"host-range", []string{"--map-users", "100000:65536"}, "100000", "0 100000 65536", "65534"},
		// A range from host uid 0: here, what 'root' maps.
		{"host-range-from-0", []string{"--map-users", "0:1"}, "0", "0 0 1", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := busyboxRoot(t)
			args := append(tc.flags, "--", "/bin/sh", "-c", "id -u; stat -c %u /bin/busybox; echo ready; read x")
			r := start(t, step3Args(t, root, args...)...)
			r.Stdout.WaitFor(t, "ready")
			pid := containerPid(r)
			// The same process: root inside, and the mapped uid as the host's
			// ps sees it (ps reads this very Uid line).
			if got := strings.Fields(procStatus(t, pid, "Uid")); len(got) != 4 || got[1] != tc.hostUID {
				t.Errorf("host view: /proc/%d/status Uid = %q, want effective uid %s", pid, got, tc.hostUID)
			}
			m, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(strings.Fields(string(m)), " "); got != tc.uidMap {
				t.Errorf("/proc/%d/uid_map = %q, want %q", pid, got, tc.uidMap)
			}
			r.Stdin.Write([]byte("\n"))
			if code := r.Wait().Code; code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, r.Stderr)
			}
			if want := "0\n" + tc.owner + "\nready\n"; r.Stdout.String() != want {
				t.Errorf("inside: id -u, owner of /bin/busybox = %q, want %q", r.Stdout.String(), want)
			}
			if !strings.Contains(r.Stderr.String(), fmt.Sprintf("write(3, %q", tc.uidMap+"\n")) &&
				!strings.Contains(r.Stderr.String(), fmt.Sprintf("%q", tc.uidMap+"\n")) {
				t.Errorf("the narration does not show the uid_map write %q:\n%s", tc.uidMap, r.Stderr)
			}
		})
	}
}

func TestExitStatuses(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	if err := os.WriteFile(filepath.Join(root, "bin", "notexec"), []byte("#!/bin/sh\necho no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "badinterp"), []byte("#!/usr/bin/python9 -u\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A program linked with a loader the root lacks: the host's ls, its
	// PT_INTERP changed to name one nobody has (the last digit).
	loader, err := elfinterp.Of("/bin/ls")
	if err != nil || loader == "" {
		t.Fatalf("the host's /bin/ls names no loader: %q, %v", loader, err)
	}
	linked := loader[:len(loader)-1] + "9"
	b, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(loader+"\x00"), []byte(linked+"\x00"), 1)
	if err := os.WriteFile(filepath.Join(root, "bin", "hostls"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	// A script whose interpreter is there, and cannot start.
	if err := os.WriteFile(filepath.Join(root, "bin", "lsscript"), []byte("#!/bin/hostls\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"own status", []string{"--", "/bin/sh", "-c", "exit 42"}, 42, ""},
		{"own status through --init", []string{"--init", "--", "/bin/sh", "-c", "exit 5"}, 5, ""},
		{"missing path", []string{"--", "/bin/nonexistent"}, 127, `execve("/bin/nonexistent", ["/bin/nonexistent"], …) = -1 ENOENT`},
		{"missing name", []string{"--", "nosuchcommand"}, 127, "nosuchcommand: command not found in the container's root"},
		{"missing with --init", []string{"--init", "--", "/bin/nonexistent"}, 127, "not found in the container's root"},
		// A name with a newline and a terminal's escape: still one line,
		// the escape not sent to the terminal.
		{"missing, its name unprintable", []string{"--", "/bin/no\nsuch\x1b[31m"}, 127, "workshop: /bin/no\\nsuch\\x1b[31m: not found in the container's root"},
		{"missing with --init, its name unprintable", []string{"--init", "--", "/bin/no\nsuch\x1b[31m"}, 127, "workshop: /bin/no\\nsuch\\x1b[31m: not found in the container's root"},
		{"its interpreter missing", []string{"--", "/bin/badinterp"}, 127, "/bin/badinterp: cannot start: no such file or directory (/bin/badinterp is there, but the interpreter its #! line names, /usr/bin/python9, is not)"},
		{"not executable", []string{"--", "/bin/notexec"}, 126, `execve("/bin/notexec", ["/bin/notexec"], …) = -1 EACCES`},
		{"not executable with --init", []string{"--init", "--", "/bin/notexec"}, 126, "cannot be executed"},
		{"killed by a signal", []string{"--init", "--", "/bin/sh", "-c", "kill -USR1 $$"}, 128 + 10, "WTERMSIG(s) == SIGUSR1"},
		{"its loader missing", []string{"--", "/bin/hostls"}, 127, "/bin/hostls is there, but the loader it is linked with, " + linked + ", is not"},
		{"its interpreter's loader missing", []string{"--", "/bin/lsscript"}, 127, "/bin/lsscript is there, and so is the interpreter its #! line names, /bin/hostls, but the loader that one is linked with, " + linked + ", is not"},
	} {
		r := step3(t, root, "", tc.args...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.stderr) {
			t.Errorf("%s: step 3 %q = %d, want %d with %q on stderr; stderr:\n%s", tc.name, tc.args, r.Code, tc.code, tc.stderr, r.Stderr)
		}
		if strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("%s: a Go stack trace on stderr:\n%s", tc.name, r.Stderr)
		}
	}
}

func TestBadInput(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--root", root, "--ns", "uts,bogus", "--", "/bin/true"}, `"bogus" is not a namespace`},
		{[]string{"--root", root, "--ns", "", "--", "/bin/true"}, "no namespace named"},
		{[]string{"--root", root, "--map-users", "-1:5", "--", "/bin/true"}, `--map-users "-1:5"`},
		{[]string{"--root", root, "--map-users", "lots", "--", "/bin/true"}, `--map-users "lots"`},
		{[]string{"--root", root, "--map-users", "100000:0", "--", "/bin/true"}, `--map-users "100000:0"`},
		// A range past the last 32-bit id, which the kernel cut down to
		// host uid 1215752191 for 99999999999, or refused with EINVAL.
		{[]string{"--root", root, "--map-users", "99999999999", "--", "/bin/true"}, "host ids end at 4294967294"},
		{[]string{"--root", root, "--map-users", "4294967290:65536", "--", "/bin/true"}, "the range 4294967290:65536 goes past it"},
		// Maps without the user namespace: dropped, and root was the host's.
		{[]string{"--root", root, "--ns", "pid", "--map-users", "100000", "--", "/bin/true"}, "--map-users 100000 needs the user namespace"},
		{[]string{"--root", root, "--ns", "pid", "--hostname", "box", "--", "/bin/true"}, "--hostname needs the uts namespace"},
		{[]string{"--root", file, "--", "/bin/true"}, "is not a directory"},
		{[]string{"--root", root, "/bin/true"}, "put the command after --"},
	} {
		r := testbin.Run(t, "", append([]string{"--state-dir", state, "step", "3"}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("step 3 %q = %d, stderr %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

func TestNoMountLeftOnHost(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	base := filepath.Dir(root)
	before := testbin.MountinfoUnder(t, base)
	for _, args := range [][]string{
		{"--", "/bin/sh", "-c", "cat /proc/self/mountinfo > /dev/null"},
		{"--init", "--", "/bin/true"},
		{"--ns", "mount", "--", "/bin/sh", "-c", "test -c /dev/null && echo char"}, // real root: mknod
		{"--ns", "uts,pid", "--", "/bin/true"},                                     // no mount namespace: nothing mounted
		{"--", "/bin/nonexistent"},                                                 // a failed run
	} {
		r := step3(t, root, "", args...)
		if r.Code != 0 && r.Code != 127 {
			t.Errorf("step 3 %q = %d; stderr:\n%s", args, r.Code, r.Stderr)
		}
		if args[1] == "mount" {
			if r.Stdout != "char\n" || !strings.Contains(r.Stderr, "[pid ") || !strings.Contains(r.Stderr, `mknodat(AT_FDCWD, "`+root+`/dev/null", S_IFCHR|0666, makedev(0x1, 0x3)) = 0`) {
				t.Errorf("--ns mount: /dev/null should be a node made by mknod; stdout %q, stderr:\n%s", r.Stdout, r.Stderr)
			}
		}
		if args[1] == "uts,pid" && strings.Contains(r.Stderr, "mount(") {
			t.Errorf("--ns uts,pid mounted something, on the host:\n%s", r.Stderr)
		}
	}
	if after := testbin.MountinfoUnder(t, base); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("mounts under %s changed on the host:\nbefore %q\nafter  %q", base, before, after)
	}
	// /dev was a tmpfs in the container's mount namespace: nothing of it
	// reached the directory on the host.
	entries, err := os.ReadDir(filepath.Join(root, "dev"))
	if err != nil || len(entries) != 0 {
		t.Errorf("the root's dev on the host holds %v (%v), want it empty", entries, err)
	}
}

func TestInitReapsZombies(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	// An orphan: a cat started by a shell that exits at once, blocked on a
	// fifo until we write to it. It becomes the init's child; when it ends,
	// only the init's wait4 removes it from the process table.
	script := `mkfifo /tmp/f
p=$(sh -c 'cat /tmp/f > /dev/null & echo $!')
read -r _ _ _ ppid _ < /proc/$p/stat
echo orphan $p parent $ppid
echo > /tmp/f
i=0
while [ -e /proc/$p ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
if [ -e /proc/$p ]; then echo "zombie $p"; else echo "reaped $p"; fi`
	r := step3(t, root, "", "--init", "--", "/bin/sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.Code, r.Stderr)
	}
	m := regexp.MustCompile(`orphan (\d+) parent (\d+)\nreaped (\d+)\n`).FindStringSubmatch(r.Stdout)
	if m == nil || m[2] != "1" || m[1] != m[3] {
		t.Fatalf("stdout = %q, want the orphan's parent to be the init (1) and the orphan reaped", r.Stdout)
	}
	want := fmt.Sprintf("[pid 1] wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], WSTOPPED, NULL) = %s", m[1])
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("narration lacks the init's reaping %q:\n%s", want, r.Stderr)
	}
}

func TestStep2FillsTheRoot(t *testing.T) {
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "bash")
	state := t.TempDir()
	// The default root does not exist yet: step 2 makes it, with bash.
	r := testbin.Run(t, "", "--no-color", "--state-dir", state, "step", "3", "--", "/bin/bash", "-c", "echo $$ $HOSTNAME")
	id := strings.TrimPrefix(strings.TrimSpace(r.Stdout), "1 ")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "1 ") || !ids.Valid(id) {
		t.Fatalf("step 3 -- bash -c 'echo $$ $HOSTNAME' = %d, %q; want 0 and \"1 <container id>\"; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "lacks /bin/bash: step 2 copies it in") {
		t.Errorf("no word of step 2 filling the root:\n%s", r.Stderr)
	}
	// The second time the root has bash: nothing to fill. With no command,
	// bash reads its commands from stdin.
	r = testbin.Run(t, "echo $$\n", "--no-color", "--state-dir", state, "step", "3")
	if r.Code != 0 || r.Stdout != "1\n" || strings.Contains(r.Stderr, "step 2 copies") {
		t.Errorf("step 3 with 'echo $$' on stdin = %d, %q; want 0, \"1\" and no copying; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// A command of the host that the root lacks comes in too, with bash.
	root := filepath.Join(t.TempDir(), "other-root")
	r = testbin.Run(t, "", "--no-color", "--state-dir", state, "step", "3", "--root", root, "--", "ls", "/bin")
	if r.Code != 0 || !strings.Contains(r.Stdout, "bash") || !strings.Contains(r.Stdout, "ls") {
		t.Errorf("step 3 --root NEW -- ls /bin = %d, %q; want bash and ls listed; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// One on the host's PATH in a directory the container's PATH lacks
	// (~/go/bin…) runs by the path step 2 copied it to: it was copied in,
	// then not found by its name (127). The second run finds it copied.
	hostBin := filepath.Join(t.TempDir(), "tools")
	if err := os.MkdirAll(hostBin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(testbin.NeedTool(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostBin, "wstrue"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r = testbin.RunEnv(t, []string{"PATH=" + os.Getenv("PATH") + ":" + hostBin}, "", "--no-color", "--state-dir", state, "step", "3", "--", "wstrue")
		if r.Code != 0 || !strings.Contains(r.Stderr, `] execve("`+filepath.Join(hostBin, "wstrue")+`"`) {
			t.Errorf("step 3 -- wstrue (in %s, on the host's PATH only) = %d; want 0, run by its path; stderr:\n%s", hostBin, r.Code, r.Stderr)
		}
	}
	// One the host lacks as well is not found, in the container's words.
	r = testbin.Run(t, "", "--no-color", "--state-dir", state, "step", "3", "--", "no-such-program-anywhere")
	if r.Code != 127 || !strings.Contains(r.Stderr, "neither in") {
		t.Errorf("step 3 -- no-such-program-anywhere = %d; want 127 and a note; stderr:\n%s", r.Code, r.Stderr)
	}
}

// The init passes on every signal it can catch, as tini does, not only
// the stop signals: a SIGALRM sent to it reaches the command's trap.
func TestInitPassesOnAnySignal(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := start(t, step3Args(t, root, "--init", "--", "/bin/sh", "-c", `trap "exit 7" ALRM; echo ready; while :; do sleep 0.1; done`)...)
	r.Stdout.WaitFor(t, "ready")
	if err := syscall.Kill(containerPid(r), syscall.SIGALRM); err != nil {
		t.Fatal(err)
	}
	res := r.Wait()
	if res.Code != 7 || !strings.Contains(res.Stderr, ", SIGALRM) = 0") {
		t.Errorf("SIGALRM to the init = exit %d, want 7 (the trap's) and the init's kill narrated\n%s", res.Code, res.Stderr)
	}
}

// Descriptors the caller left open (a shell's exec 7</etc) never reach the
// command: through one, it could read the host's files from its root.
func TestInheritedDescriptorsDoNotReachTheCommand(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	etc, err := os.Open("/etc")
	if err != nil {
		t.Fatal(err)
	}
	defer etc.Close()
	cmd := exec.Command(testbin.Bin(t), step3Args(t, root, "--", "/bin/sh", "-c", "cd /proc/self/fd && echo *")...)
	cmd.ExtraFiles = []*os.File{etc, etc, etc, etc, etc} // fds 3 to 7 of workshop
	r := testbin.RunCmd(t, cmd, time.Minute)
	fds := strings.Fields(r.Stdout)
	if r.Code != 0 || len(fds) < 3 || len(fds) > 4 || !strings.Contains(r.Stderr, "close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC) = 0") {
		t.Errorf("the command's descriptors = %q (exit %d), want 0, 1, 2 and the one its own cd opened\n%s", r.Stdout, r.Code, r.Stderr)
	}
}

// The command inherits no capability through the inheritable set, which
// Go's runtime filled for workshop's own execve: it has what root of its
// user namespace has, the ordinary way.
func TestCommandInheritsNoCapabilities(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := step3(t, root, "", "--", "/bin/sh", "-c", "grep -E '^Cap(Inh|Amb)' /proc/self/status")
	if r.Code != 0 || !strings.Contains(r.Stdout, "CapInh:\t0000000000000000") || !strings.Contains(r.Stdout, "CapAmb:\t0000000000000000") {
		t.Errorf("the command's capability sets = %q (exit %d), want no inheritable and no ambient ones\n%s", r.Stdout, r.Code, r.Stderr)
	}
}

// inTerminal runs a shell command line under script(1), on a terminal of
// its own, and returns what the terminal showed.
func inTerminal(t *testing.T, line string) string {
	t.Helper()
	script := testbin.NeedTool(t, "script")
	// script runs line with $SHELL: dash (/bin/sh) here as in CI, where
	// SHELL is not set, and not the developer's bash, which takes more.
	cmd := exec.Command(script, "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "SHELL=/bin/sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script -c %q: %v\n%s", line, err, out)
	}
	return string(out)
}

// A command killed while it had the terminal raw (no echo, no line
// editing) leaves it so; workshop puts the settings back when it takes
// the terminal back, as a shell does for a job that died.
func TestTerminalSettingsPutBack(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	run := strings.Join(append([]string{testbin.Bin(t), "--quiet"}, step3Args(t, root, "--ns", "mount,uts,ipc,net,user", "--", "/bin/sh", "-c", "'stty -echo -icanon; kill -9 $$'")...), " ")
	out := inTerminal(t, run+"; stty -a")
	if !strings.Contains(out, " icanon") || strings.Contains(out, "-icanon") || strings.Contains(out, "-echo ") {
		t.Errorf("after the command died with the terminal raw, stty -a says:\n%s", out)
	}
}

// In a pipeline (step 3 -- ps | less) the container does not get the
// terminal: the pipeline's other programs, in workshop's process group,
// would be put in the background.
func TestNoTerminalForTheContainerInAPipeline(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	narration := filepath.Join(t.TempDir(), "narration")
	run := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, "--", "/bin/sh", "-c", "'echo hi'")...), " ")
	out := inTerminal(t, run+" 2>"+narration+" | cat")
	b, _ := os.ReadFile(narration)
	if !strings.Contains(out, "hi") || strings.Contains(string(b), "TIOCSPGRP") {
		t.Errorf("in a pipeline the container got the terminal, or did not run: %q\n%s", out, b)
	}
	// A command that reads its input, in a pipeline: it reads /dev/null and
	// ends, rather than read the terminal from the background (stopped, or
	// looping as a PID 1 that drops SIGTTIN).
	reads := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, "--", "/bin/sh", "-c", "'read x; echo got:$x:'")...), " ")
	out = inTerminal(t, "timeout --foreground 20 "+reads+" 2>"+narration+" | cat")
	b, _ = os.ReadFile(narration)
	if !strings.Contains(out, "got::") || !strings.Contains(string(b), "the command's input is /dev/null") {
		t.Errorf("a command reading its input in a pipeline: %q\n%s", out, b)
	}
	// workshop in the background (timeout makes a process group of its
	// own): the same, instead of a command reading from the background.
	out = inTerminal(t, "timeout 20 "+reads+" 2>"+narration)
	b, _ = os.ReadFile(narration)
	if !strings.Contains(out, "got::") || !strings.Contains(string(b), "the command's input is /dev/null") {
		t.Errorf("a command reading its input, workshop in the background: %q\n%s", out, b)
	}
	// Output to a file is no pipeline: the container gets the terminal,
	// and reads what is typed.
	file := filepath.Join(t.TempDir(), "out")
	script := testbin.NeedTool(t, "script")
	cmd := exec.Command(script, "-qec", "timeout --foreground 20 "+reads+" >"+file+" 2>"+narration, "/dev/null")
	cmd.Env = append(os.Environ(), "SHELL=/bin/sh")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	in.Write([]byte("typed\n"))
	cmd.Wait()
	in.Close()
	got, _ := os.ReadFile(file)
	if b, _ := os.ReadFile(narration); strings.TrimSpace(string(got)) != "got:typed:" {
		t.Errorf("a command writing to a file, reading the terminal: wrote %q\n%s", got, b)
	}
	// Its own terminal, not in a pipeline: it gets it, and gives it back.
	out = inTerminal(t, run+" 2>"+narration)
	b, _ = os.ReadFile(narration)
	if !strings.Contains(out, "hi") || strings.Count(string(b), "TIOCSPGRP") < 2 || !strings.Contains(string(b), "TCSETSW") {
		t.Errorf("on its terminal the container did not get it and give it back: %q\n%s", out, b)
	}
}

// /proc/sys is the whole kernel's: under sudo, the default map makes root
// inside uid 0 outside, which the files of /proc/sys check. It is
// read-only in the container. (The value written is the one read: if the
// write got through, nothing changed.)
func TestProcSysIsReadOnly(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := step3(t, root, "", "--", "/bin/sh", "-c", `v=$(cat /proc/sys/vm/swappiness) && echo "$v" > /proc/sys/vm/swappiness && echo WROTE`)
	if strings.Contains(r.Stdout, "WROTE") || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("a write to /proc/sys from the container = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// The container's /dev has a /dev/shm of its own, where POSIX shared memory
// lives, and a devpts of its own behind /dev/ptmx: a pseudo-terminal opened
// there shows up in its /dev/pts, with none of the host's. In a user
// namespace (the default) and as real root (--ns without user).
func TestDevShmAndPts(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	const report = `exec 3<>/dev/ptmx && ls /dev/pts && echo shared > /dev/shm/f && cat /dev/shm/f && grep -c " /dev/shm tmpfs \| /dev/pts devpts " /proc/self/mounts`
	for _, ns := range [][]string{nil, {"--ns", "mount,pid"}} {
		r := step3(t, root, "", append(ns, "--", "/bin/sh", "-c", report)...)
		if r.Code != 0 || r.Stdout != "0\nptmx\nshared\n2\n" {
			t.Errorf("step 3 %v: /dev/pts and /dev/shm = exit %d, stdout %q; want a pty 0, the file and both mounts\n%s", ns, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// Without a PID namespace nothing kills the command when its init dies:
// it gets PR_SET_PDEATHSIG too, so a kill -9 of workshop (whose death
// kills the init) leaves no command running.
func TestInitWithoutPIDNamespaceTakesItsCommandAlong(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := start(t, step3Args(t, root, "--init", "--ns", "mount,uts", "--", "/bin/sleep", "600")...)
	pid := testbin.ExecedPid(t, r, "/bin/sleep", `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	r.Signal(syscall.SIGKILL)
	testbin.GoneWithin(t, pid, "sleep", 5*time.Second)
	r.Wait()
}

// A command the init runs, stopped by Ctrl-Z (SIGTSTP; here it sends it
// to itself), is resumed: nothing else would, and it would hold the
// terminal. A stop on purpose (SIGSTOP) is left, until a SIGCONT.
func TestInitResumesACommandStoppedByCtrlZ(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := step3(t, root, "", "--init", "--", "/bin/sh", "-c", "kill -TSTP $$; echo resumed")
	if r.Code != 0 || r.Stdout != "resumed\n" || !strings.Contains(r.Stderr, "the command was stopped by SIGTSTP (Ctrl-Z)") {
		t.Errorf("a command stopped by SIGTSTP under --init = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	// A program that catches Ctrl-Z's SIGTSTP and stops itself with
	// SIGSTOP (top, once it has put the terminal back) is resumed too: it
	// was left stopped, holding the terminal, said as a stop on purpose.
	r = step3(t, root, "", "--init", "--", "/bin/sh", "-c", `trap 'kill -STOP $$' TSTP; kill -TSTP $$; echo resumed`)
	if r.Code != 0 || r.Stdout != "resumed\n" || !strings.Contains(r.Stderr, "the command was stopped by SIGSTOP, and it catches SIGTSTP") {
		t.Errorf("a command that stops itself with SIGSTOP on SIGTSTP, under --init = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	run := start(t, step3Args(t, root, "--init", "--", "/bin/sh", "-c", "kill -STOP $$; echo resumed")...)
	run.Stderr.WaitFor(t, "WIFSTOPPED")
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(run.Stdout.String(), "resumed") || strings.Contains(run.Stderr.String(), "SIGCONT") {
		t.Errorf("a SIGSTOP on purpose was undone:\n%s", run.Stderr)
	}
	// A stopped process acts on no signal but SIGKILL: workshop's death
	// ends the init (PR_SET_PDEATHSIG), and the PID namespace with it.
	run.Signal(syscall.SIGKILL)
	run.Wait()
}

// Without a PID namespace (and without --init) the command on the terminal
// is not a PID 1: a Ctrl-Z stops it, and workshop resumes it, as nothing
// else would (it used to hold the terminal, stopped, until a kill).
func TestCtrlZWithoutAPIDNamespaceIsResumed(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	narration := filepath.Join(t.TempDir(), "narration")
	run := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, "--ns", "mount,uts,user", "--", "/bin/sh", "-c", `'kill -TSTP $$; echo resumed'`)...), " ")
	out := inTerminal(t, "timeout --foreground -s KILL 30 "+run+" 2>"+narration)
	b, _ := os.ReadFile(narration)
	if !strings.Contains(out, "resumed") || !strings.Contains(string(b), ", SIGCONT) = 0") || !strings.Contains(string(b), "WSTOPPED|WNOWAIT|WNOHANG) calls while it ran") {
		t.Errorf("a Ctrl-Z'd command without a PID namespace: %q\n%s", out, b)
	}
	// And one that stops itself with SIGSTOP on Ctrl-Z, as top does.
	run = strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, "--ns", "mount,uts,user", "--", "/bin/sh", "-c", `'trap "kill -STOP \$\$" TSTP; kill -TSTP $$; echo resumed'`)...), " ")
	out = inTerminal(t, "timeout --foreground -s KILL 30 "+run+" 2>"+narration)
	b, _ = os.ReadFile(narration)
	if !strings.Contains(out, "resumed") || !strings.Contains(string(b), "the command was stopped by SIGSTOP, and it catches SIGTSTP") {
		t.Errorf("a command that stops itself with SIGSTOP on Ctrl-Z, without a PID namespace: %q\n%s", out, b)
	}
}

// A command on the terminal stopped on purpose (bash's suspend, kill -STOP)
// is left stopped, but no longer in silence: it held the terminal, and
// nothing typed reached anyone. A note says the way out, each time it is
// stopped, with the command that resumes it, which is used here, from
// "another terminal", as the note says. With --init (no PID namespace),
// the init's pid.
func TestSIGSTOPOnTheTerminalIsSaid(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, init := range []bool{false, true} {
		narration := filepath.Join(t.TempDir(), "narration")
		args := []string{"--ns", "mount,uts,user"}
		if init {
			args = append(args, "--init")
		}
		run := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, append(args, "--", "/bin/sh", "-c", `'kill -STOP $$; echo one; sleep 0.5; kill -STOP $$; echo two'`)...)...), " ")
		// Each stop said, the resume its note names is run.
		other := fmt.Sprintf(`(for n in 1 2; do for i in $(seq 100); do [ "$(grep -c 'was stopped by SIGSTOP' %[1]s)" -ge $n ] && break; sleep 0.1; done; eval "$(sed -n 's/.*another terminal, \(kill -CONT [-0-9 ]*\).* resumes it.*/\1/p' %[1]s | tail -1)"; done) &`, narration)
		out := inTerminal(t, other+" timeout --foreground -s KILL 30 "+run+" 2>"+narration)
		b, _ := os.ReadFile(narration)
		if !strings.Contains(out, "one") || !strings.Contains(out, "two") || strings.Count(string(b), "==> the command was stopped by SIGSTOP (bash's suspend, kill -STOP) while it has the terminal: nothing typed here reaches it") != 2 {
			t.Errorf("init %v: a command stopped twice by SIGSTOP on the terminal: %q\n%s", init, out, b)
		}
		if strings.Contains(string(b), "resumes it now") {
			t.Errorf("init %v: workshop resumed a SIGSTOP on purpose:\n%s", init, b)
		}
	}
}

// SIGUSR1 sent to workshop is passed on to the container, as a stop signal
// is: uncaught, it ended workshop and left what it made behind.
func TestSIGUSR1ToWorkshopIsPassedOn(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	r := start(t, step3Args(t, root, "--", "/bin/sh", "-c", `trap "exit 4" USR1; echo ready; while :; do sleep 0.1; done`)...)
	r.Stdout.WaitFor(t, "ready")
	r.Signal(syscall.SIGUSR1)
	res := r.Wait()
	if res.Code != 4 || !strings.Contains(res.Stderr, "workshop got SIGUSR1: passing it on to the container") {
		t.Errorf("SIGUSR1 to workshop = exit %d, want 4 (the trap's)\n%s", res.Code, res.Stderr)
	}
}

// Under --map-users 100000:65536 the container's root is host uid 100000,
// which must reach the root to mount its /proc. A state dir made by the
// image store or full run (README's first command) was 0700, as its
// images and containers are: step 3's lesson command then failed with
// "mount …/proc: permission denied". The state dir is now 0755, however it
// is made; one that is not (made by an older workshop) is named in one
// sentence before anything is made.
func TestMapUsersInAStateDirMadeByFullRun(t *testing.T) {
	testbin.NeedRoot(t)
	base := t.TempDir()
	testbin.Chmod(t, 0o755, filepath.Dir(base), base)
	state := filepath.Join(base, "state")
	if r := testbin.Run(t, "", "-q", "--state-dir", state, "full", "run", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("full run = exit %d\n%s", r.Code, r.Stderr)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the state dir full run made: %v, %v; want mode 0755", fi.Mode(), err)
	}
	step3 := []string{"-q", "--state-dir", state, "step", "3", "--map-users", "100000:65536", "--", "/bin/bash", "-c", "echo $UID"}
	if r := testbin.Run(t, "", step3...); r.Code != 0 || r.Stdout != "0\n" {
		t.Fatalf("step 3 --map-users 100000:65536 = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if err := os.Chmod(state, 0o700); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", step3...)
	want := fmt.Sprintf("host uid 100000, the container's root, may not enter %s (mode 0700, owner uid 0), on the way to the root %s/my-new-root: let others enter it (sudo chmod o+x %[1]s)", state, state)
	if r.Code != 125 || !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "clone(") {
		t.Errorf("step 3 --map-users with a 0700 state dir = exit %d\n%s\nwant 125, before any clone, and %q", r.Code, r.Stderr, want)
	}
}

// A terminal that hangs up (its window closed, its ssh session dropped)
// while the container has it: the kernel's SIGHUP goes to the terminal's
// foreground group, the container's, where a PID 1 without a handler
// drops it (and a command may ignore it), and not to workshop, in the
// background. The container outlived the terminal, for ever. workshop
// sees the hang-up, passes a SIGHUP on, and 3 s later kills what is left:
// the PID namespace, or without one the command's process group (and the
// init's, with --init). A command the kernel's SIGHUP ends is seen to
// have lost its terminal too, which is not taken back.
func TestTerminalHangupEndsTheContainer(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	const (
		ignored   = `trap "" HUP; sleep 1000; echo never`
		killedBy  = "after its terminal hung up, and nobody can reach it any more: workshop kills "
		statement = "workshop: the container had not ended 3s after its terminal hung up: workshop killed it"
		killed    = 128 + int(syscall.SIGKILL)
	)
	for _, c := range []struct {
		args    []string
		command string
		status  int
		want    []string
		// hupFirst: someone sends workshop a SIGHUP well before the
		// hang-up, which the container ignores: that one is not taken
		// for the hang-up's.
		hupFirst bool
	}{
		{[]string{"--ns", "mount,uts,ipc,net,pid,user"}, "exec sleep 1000", killed, []string{"kill(%[1]d, SIGHUP) = 0\n==> workshop got SIGHUP: passing it on to the container\nkill(%[2]d, SIGHUP) = 0", killedBy + "its PID 1, and with it its PID namespace", statement}, false},
		{[]string{"--ns", "mount,uts,ipc,net,pid,user"}, ignored, killed, []string{"workshop sends itself the SIGHUP a shell sends its jobs\nkill(%[1]d, SIGHUP) = 0\n==> workshop got SIGHUP: passing it on to the container", killedBy + "its PID 1, and with it its PID namespace", statement}, true},
		{[]string{"--ns", "mount,uts,user"}, ignored, killed, []string{killedBy + "its process group", statement}, false},
		// The init (a subreaper) adopts an orphan that leads no group.
		{[]string{"--ns", "mount,uts,user", "--init"}, `(trap "" HUP; sleep 1000 &); ` + ignored, killed, []string{killedBy + "the process groups of its init and of the command", statement}, false},
		{[]string{"--ns", "mount,uts,ipc,net,pid,user", "--init"}, ignored, killed, []string{killedBy + "its PID 1, and with it its PID namespace", statement}, false},
		// Ended by the kernel's SIGHUP, maybe before workshop's next look.
		{[]string{"--ns", "mount,uts,user"}, "exec sleep 1000", 128 + int(syscall.SIGHUP), nil, false},
	} {
		dir := t.TempDir()
		narration, status := filepath.Join(dir, "narration"), filepath.Join(dir, "status")
		run := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, append(c.args, "--", "/bin/sh", "-c", "'"+c.command+"'")...)...), " ")
		// The shell stays, as the terminal's session leader, and dies of
		// the hang-up; the subshell, in the background then, outlives it
		// and keeps workshop's status.
		term := testbin.StartOnTerminal(t, "/bin/sh", "-c", "("+run+" 2>"+narration+"; echo $? >"+status+"); true")
		workshop := testbin.DescendantNamed(t, term.Cmd.Process.Pid, "workshop", 30*time.Second)
		sleep := testbin.DescendantNamed(t, workshop, "sleep", 30*time.Second)
		t.Cleanup(func() {
			if t.Failed() {
				b, _ := os.ReadFile(narration)
				t.Logf("%s, the narration:\n%s", c.args, b)
			}
		})
		time.Sleep(500 * time.Millisecond) // a few looks at the terminal
		if c.hupFirst {
			syscall.Kill(workshop, syscall.SIGHUP)
			// Workshop's window for a SIGHUP that comes with a hang-up
			// (1 s) counts from its passing it on: from the kill after
			// the note, which a slow machine may make late.
			testbin.FileHolds(t, narration, "==> workshop got SIGHUP: passing it on to the container\nkill(", time.Minute)
			time.Sleep(3 * time.Second / 2)
		}
		term.Master.Close() // the window closes
		testbin.GoneWithin(t, workshop, "workshop", 15*time.Second)
		testbin.GoneWithin(t, sleep, "sleep", time.Second)
		b, _ := os.ReadFile(narration)
		for _, want := range append(c.want, "==> the terminal hung up: there is no terminal to take back") {
			if strings.Contains(want, "%") {
				want = fmt.Sprintf(want, workshop, sleep)
			}
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: the narration does not say %q:\n%s", c.args, want, b)
			}
		}
		// POLLHUP alone while the terminal's other side is closed, and
		// POLLERR too once the kernel has hung the terminal up.
		if !regexp.MustCompile(`ppoll\(\[\{fd=0, events=0\}\], 1, \{tv_sec=0, tv_nsec=0\}, NULL, 0\) = 1 \(\[\{fd=0, revents=(POLLERR\|)?POLLHUP\}\], left \{tv_sec=0, tv_nsec=0\}\)\n==> the terminal hung up`).Match(b) {
			t.Errorf("%s: the ppoll that found the hang-up is not shown:\n%s", c.args, b)
		}
		if !regexp.MustCompile(`==> … \d+ ppoll\(\[\{fd=0, events=0\}\], 1, \{tv_sec=0, tv_nsec=0\}, NULL, 0\) calls? before the one that found the terminal hung up`).Match(b) {
			t.Errorf("%s: the looks before the hang-up are not counted:\n%s", c.args, b)
		}
		// sh passes no SIGHUP on at the hang-up.
		if strings.Contains(string(b), "got a SIGHUP just before") {
			t.Errorf("%s: the note says a SIGHUP came with the hang-up, and none did:\n%s", c.args, b)
		}
		if strings.Contains(string(b), "SIGKILL) = -1") {
			t.Errorf("%s: workshop's kill aimed at a process or group that was not there:\n%s", c.args, b)
		}
		if regexp.MustCompile(`(?m)^ioctl\(0, (TIOCSPGRP|TCSETSW)`).Match(b) {
			t.Errorf("%s: workshop took back a terminal that hung up:\n%s", c.args, b)
		}
		if got := strings.TrimSpace(string(testbin.FileHolds(t, status, "\n", 5*time.Second))); got != strconv.Itoa(c.status) {
			t.Errorf("%s: workshop's status %s, want %d", c.args, got, c.status)
		}
	}
}

// A container on the terminal finds the terminal's name: tty said "not a
// tty", the host's /dev/pts/N being in no devpts the container sees. It
// is bound on /dev/console, as runc binds a console, also with --init
// and under a map to unprivileged host ids. Without the terminal there
// is no /dev/console.
func TestTheTerminalHasANameInTheContainer(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	for _, args := range [][]string{nil, {"--init"}, {"--map-users", "100000:65536"}} {
		narration := filepath.Join(t.TempDir(), "narration")
		run := strings.Join(append([]string{testbin.Bin(t)}, step3Args(t, root, append(args, "--", "/bin/sh", "-c", "'tty; echo status $?'")...)...), " ")
		out := inTerminal(t, run+" 2>"+narration)
		b, _ := os.ReadFile(narration)
		if !strings.Contains(out, "/dev/console\r\nstatus 0") || !regexp.MustCompile(`\[pid 1\] mount\("/dev/pts/\d+", "[^"]+/dev/console", "", MS_BIND, NULL\) = 0`).Match(b) {
			t.Errorf("%q: tty on the terminal says %q:\n%s", args, out, b)
		}
	}
	r := step3(t, root, "", "--", "/bin/sh", "-c", "tty; ls /dev/console")
	if !strings.Contains(r.Stdout, "not a tty") || !strings.Contains(r.Stderr, "/dev/console: No such file or directory") {
		t.Errorf("without the terminal: %q\n%s", r.Stdout, r.Stderr)
	}
}

// Without a PID namespace, what the command started in the background
// does not end with it: chrooted in the root, holding the mount namespace,
// it outlived the step, and clean leaves a root in use. The step kills
// what is left in the command's process group (sh -c 'sleep 100 &'), and in
// its mount namespace what left the group (setsid, an interactive shell's
// job), as the end of a PID namespace's first process would have.
func TestNoPIDNamespaceLeavesNoProcess(t *testing.T) {
	testbin.NeedRoot(t)
	root := busyboxRoot(t)
	// Each sleep's duration is its mark: this /proc is the host's.
	for _, tc := range []struct{ script, duration, said, kill string }{
		{"sleep 121 &", "121", `in its process group \d+`, `kill\(-\d+, SIGKILL\) = 0`},
		{"setsid sleep 123 & sleep 0.2", "123", `in its mount namespace`, `kill\(\d+, SIGKILL\) = 0`},
	} {
		r := step3(t, root, "", "--ns", "mount,uts", "--", "/bin/sh", "-c", tc.script)
		if r.Code != 0 {
			t.Fatalf("step 3 --ns mount,uts -- sh -c %q = %d\n%s", tc.script, r.Code, r.Stderr)
		}
		if !regexp.MustCompile(`(?m)^==> 1 process the command started outlived it, ` + tc.said + `: killing it, .*\n` + tc.kill + `$`).MatchString(r.Stderr) {
			t.Errorf("%q: the narration does not show the process left killed:\n%s", tc.script, r.Stderr)
		}
		// Killed, and gone before the step ended.
		if pids := testbin.Living("sleep\x00" + tc.duration + "\x00"); len(pids) > 0 {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("%q: the background sleep (pids %v) outlived the step", tc.script, pids)
		}
	}
	// A command that leaves nothing: no note, no kill.
	r := step3(t, root, "", "--ns", "mount,uts", "--", "/bin/true")
	if r.Code != 0 || strings.Contains(r.Stderr, "outlived it") || regexp.MustCompile(`(?m)^kill\(`).MatchString(r.Stderr) {
		t.Errorf("step 3 --ns mount,uts -- true = %d:\n%s", r.Code, r.Stderr)
	}
	// Without a mount namespace either, what leaves the group is out of
	// reach: said before the command runs.
	r = step3(t, root, "", "--ns", "uts", "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "==> no PID namespace and no mount namespace: what the command leaves running is found and killed when it ends only while it stays in its process group") {
		t.Errorf("step 3 --ns uts -- true = %d, without the word on what may outlive it:\n%s", r.Code, r.Stderr)
	}
}

// A cgroup namespace alone guards nothing, and the step says so, but not
// as "no namespace at all": it makes one, and narrates it.
func TestCgroupNamespaceAloneIsSaidAsMade(t *testing.T) {
	testbin.NeedRoot(t)
	r := step3(t, busyboxRoot(t), "", "--ns", "cgroup", "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "unshare(CLONE_NEWCGROUP) = 0") || !strings.Contains(r.Stderr, "==> no namespace but the cgroup one, which changes only how the command reads its cgroup's path: in effect a plain chroot") || strings.Contains(r.Stderr, "no namespace at all") {
		t.Errorf("step 3 --ns cgroup = exit %d; want the cgroup namespace made and said\n%s", r.Code, r.Stderr)
	}
}
