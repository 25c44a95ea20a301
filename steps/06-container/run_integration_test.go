package container_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/procmask"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

// The command's output alone on stdout, the narration on stderr; the base
// image made on first use and reused after.
func TestFullRunEchoes(t *testing.T) {
	h := newHost(t)
	r := h.full("--", "/bin/sh", "-c", "echo hi")
	if r.Code != 0 || r.Stdout != "hi\n" {
		t.Fatalf("full run -- sh -c 'echo hi' = exit %d, stdout %q; want 0 and \"hi\\n\" alone\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"making it once", `mount("overlay", `, "pivot_root(", `[pid 1] umount2("/.oldroot", MNT_DETACH) = 0`, `[pid 1] execve("/bin/sh", ["/bin/sh", "-c", "echo hi"], …) = 0`} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the first run's narration lacks %q:\n%s", want, r.Stderr)
		}
	}
	c := startedOf(t, r.Stderr)
	if c.Image != "base:latest" {
		t.Errorf("the default image is %q, want base:latest", c.Image)
	}
	h.nothingLeft(c.ID)

	r = h.full("--", "/bin/sh", "-c", "echo again")
	if r.Code != 0 || r.Stdout != "again\n" {
		t.Fatalf("second run = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stderr, "making it once") || strings.Contains(r.Stderr, "copy_file_range(") {
		t.Errorf("the second run made the base image again:\n%s", r.Stderr)
	}
	if again := startedOf(t, r.Stderr); again.Rootfs != c.Rootfs || again.ID == c.ID {
		t.Errorf("second run: container %s on %s; want a new id on the same unpacked image %s", again.ID, again.Rootfs, c.Rootfs)
	}
	h.nothingLeft(startedOf(t, r.Stderr).ID)
}

// What the command sees inside: PID 1, the hostname, the image as its root
// and nothing of the host's, a working /proc and /dev/null.
func TestFullRunInside(t *testing.T) {
	h := newHost(t)
	cwd, _ := os.Getwd()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `echo "pid $$"; echo "hostname $(hostname)"
test -e /.oldroot && echo "oldroot still there"
test -e ` + h.state + ` && echo "state dir reachable"
test -e ` + self + ` && echo "test binary reachable"
test -e ` + cwd + ` && echo "test dir reachable"
echo x > /dev/null && echo "dev null ok"
grep -q '^NSpid:' /proc/self/status && echo "proc ok"
ls /
cut -d' ' -f5 /proc/self/mountinfo | sed 's/^/mount /'`
	r := h.full("--", "/bin/sh", "-c", script)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	c := startedOf(t, r.Stderr)
	out := r.Stdout
	for _, want := range []string{"pid 1\n", "hostname " + c.ID + "\n", "dev null ok\n", "proc ok\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("inside the container: want %q in\n%s", want, out)
		}
	}
	for _, bad := range []string{"oldroot still there", "state dir reachable", "test binary reachable"} {
		if strings.Contains(out, bad) {
			t.Errorf("inside the container: %s\n%s", bad, out)
		}
	}
	// The test's working directory (the package's directory under go test;
	// /tmp or / in the test VM) must not be reachable, unless the image has
	// a directory of that name of its own: then the container sees that one.
	if strings.Contains(out, "test dir reachable") {
		if err := inImage(c.Rootfs, cwd); err != nil {
			t.Errorf("inside the container: the test's directory %s is reachable, and the image has no %s (%v)\n%s", cwd, cwd, err, out)
		}
	}
	// The root is the image: its top directory, entry for entry.
	entries, err := os.ReadDir(c.Rootfs)
	if err != nil {
		t.Fatal(err)
	}
	var image []string
	for _, e := range entries {
		image = append(image, e.Name())
	}
	var listed, mounts []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if m, ok := strings.CutPrefix(l, "mount "); ok {
			mounts = append(mounts, m)
		} else if !strings.Contains(l, " ") {
			listed = append(listed, l)
		}
	}
	if strings.Join(listed, " ") != strings.Join(image, " ") {
		t.Errorf("ls / inside = %q, want the image's top directory %q", listed, image)
	}
	// Only the container's own mounts: nothing of the host's tree is left
	// in its mount namespace after the old root was detached.
	for _, m := range mounts {
		own := map[string]bool{"/": true, "/proc": true, "/proc/sys": true, "/proc/sysrq-trigger": true, "/proc/irq": true, "/proc/bus": true, "/proc/fs": true, "/dev": true,
			"/sys": true, "/sys/fs/cgroup": true}
		for _, masked := range procmask.Paths {
			own["/proc/"+masked] = true
		}
		for _, masked := range procmask.SysPaths {
			own["/sys/"+masked] = true
		}
		if !own[m] && !strings.HasPrefix(m, "/dev/") && !strings.HasPrefix(m, "/sys/fs/cgroup/") {
			t.Errorf("the container's mount table holds %s, not one of its own mounts (/, /proc, /proc/sys, /dev…)", m)
		}
	}
	if len(mounts) == 0 || mounts[0] != "/" {
		t.Errorf("the container's mounts %q do not start with its root", mounts)
	}
	h.nothingLeft(c.ID)

	r = h.full("--hostname", "box", "--", "/bin/hostname")
	if r.Code != 0 || r.Stdout != "box\n" {
		t.Errorf("--hostname box -- hostname = exit %d, %q; want box\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// The container's /sys, as Docker's: read-only, its network devices the
// container's own, /sys/firmware hidden, and its own cgroup under
// /sys/fs/cgroup, where the limits read as they were written and cannot
// be raised. It had no /sys at all: `cat /sys/fs/cgroup/memory.max`, a
// student's first look at the limits from inside, found nothing.
func TestFullRunSys(t *testing.T) {
	h := newHost(t)
	limit, pids := "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"
	if cgroupLayout(t) == "v1" {
		limit, pids = "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"
	}
	script := fmt.Sprintf(`cat %s %s; ls /sys/class/net; echo $(ls -A /sys/firmware | wc -l); echo 1 > %[2]s || echo refused; cat %[2]s; cat /sys/kernel/mm/transparent_hugepage/enabled >/dev/null && echo readable; echo x > /sys/kernel/mm/transparent_hugepage/enabled || echo refused too`, limit, pids)
	r := h.full("--memory", "80M", "--pids", "64", "--", "/bin/sh", "-c", script)
	if want := "83886080\n64\nlo\n0\nrefused\n64\nreadable\nrefused too\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("full run reading and writing its /sys = exit %d, stdout %q; want %q\n%s", r.Code, r.Stdout, want, r.Stderr)
	}
	if !strings.Contains(r.Stderr, `"sysfs", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0`) {
		t.Errorf("the narration does not show the read-only sysfs mount:\n%s", r.Stderr)
	}
	h.nothingLeft(startedOf(t, r.Stderr).ID)

	// An image whose sys is a symbolic link: the mount would land where
	// it points (in the container's mount namespace, but on the host's
	// path): refused, as for proc and dev.
	root := filepath.Join(t.TempDir(), "root")
	testbin.BusyboxRoot(t, root, nil, []string{"sh", "ls"})
	if err := os.Symlink("/tmp", filepath.Join(root, "sys")); err != nil {
		t.Fatal(err)
	}
	if r := h.run("image", "pack", root, "syslink:1"); r.Code != 0 {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
	r = h.full("--image", "syslink:1", "--", "/bin/ls", "/sys")
	oneSentence(t, "an image whose sys is a symbolic link", r, 125, "/sys is in the root but is not a directory: the container mounts a filesystem there")
	h.nothingLeft(startedOf(t, r.Stderr).ID)

	// Where the /sys workshop sees has parts covered (inside another
	// container, which masks some), a user namespace may mount no sysfs:
	// the run went no further (125); now it is said, and no /sys.
	unshare := testbin.NeedTool(t, "unshare")
	line := fmt.Sprintf(`mount -t tmpfs none /sys/kernel && exec %q --no-color --state-dir %q full run -- /bin/sh -c 'echo $(ls -A /sys | wc -l)'`, testbin.Bin(t), h.state)
	r = testbin.RunCmd(t, exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", line), time.Minute)
	if r.Code != 0 || r.Stdout != "0\n" || !strings.Contains(r.Stderr, "==> the kernel lets a user namespace mount a sysfs only where the /sys it sees hides nothing") {
		t.Errorf("full run where /sys/kernel is covered = exit %d, stdout %q; want an empty /sys, said why\n%s", r.Code, r.Stdout, r.Stderr)
	}
	h.nothingLeft(startedOf(t, r.Stderr).ID)

	// A user namespace without a network namespace may mount no sysfs:
	// said, and no /sys.
	r = h.full("--ns", "mount,uts,ipc,pid,user,cgroup", "--", "/bin/sh", "-c", "echo $(ls -A /sys | wc -l)")
	if r.Code != 0 || r.Stdout != "0\n" || !strings.Contains(r.Stderr, "==> no network namespace: a user namespace may mount a sysfs only for a network namespace it owns, so the container gets no /sys") {
		t.Errorf("full run with a user namespace and no network one = exit %d, stdout %q; want an empty /sys, said why\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A container writes to its own layer: the image stays as it was, and the
// next container starts from it again.
func TestFullRunWritesStayInTheContainer(t *testing.T) {
	h := newHost(t)
	r := h.full("--", "/bin/sh", "-c", "echo changed > /etc/hostname; echo new > /etc/written; rm /bin/true; cat /etc/hostname")
	if r.Code != 0 || r.Stdout != "changed\n" {
		t.Fatalf("exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	c := startedOf(t, r.Stderr)
	before, err := os.ReadFile(filepath.Join(c.Rootfs, "etc", "hostname"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(before, []byte("changed\n")) {
		t.Errorf("the container's write reached the image's /etc/hostname")
	}
	if _, err := os.Lstat(filepath.Join(c.Rootfs, "etc", "written")); err == nil {
		t.Errorf("a file the container made is in the image")
	}
	// /bin/true as the image resolves it: /usr/bin/true on a merged-/usr
	// Debian base, a busybox applet link in /bin in the test VM's.
	if err := inImage(c.Rootfs, "/bin/true"); err != nil {
		t.Errorf("the container's rm removed the image's /bin/true: %v", err)
	}
	h.nothingLeft(c.ID)

	r = h.full("--", "/bin/sh", "-c", "test -e /etc/written && echo leaked; /bin/true && echo true is back; cat /etc/hostname")
	if r.Code != 0 || r.Stdout != "true is back\n"+string(before) {
		t.Errorf("the next container = exit %d, stdout %q; want a fresh copy of the image\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// An image of the student's own, packed from a directory.
func TestFullRunPackedImage(t *testing.T) {
	h := newHost(t)
	root := busyboxRoot(t)
	if r := h.run("image", "pack", root, "demo:1"); r.Code != 0 {
		t.Fatalf("image pack = exit %d\n%s", r.Code, r.Stderr)
	}
	r := h.full("--image", "demo:1", "--memory", "80M", "--pids", "64", "--hostname", "box", "--", "/bin/sh", "-c", "echo hi; cat /etc/motd; hostname")
	if r.Code != 0 || r.Stdout != "hi\nfrom the demo image\nbox\n" {
		t.Errorf("--image demo:1 = exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if c := startedOf(t, r.Stderr); c.Image != "demo:1" {
		t.Errorf("the narration names image %q, want demo:1", c.Image)
	} else {
		h.nothingLeft(c.ID)
	}
	if strings.Contains(r.Stderr, "making it once") {
		t.Errorf("a run of demo:1 made the base image:\n%s", r.Stderr)
	}
}

// busyboxRoot is a root holding a static busybox with a few applets, and a
// file of its own.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	testbin.BusyboxRoot(t, root, []string{"etc"}, []string{"sh", "echo", "cat", "hostname", "sleep", "rm", "ls"})
	if err := os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("from the demo image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// Exit statuses as Docker users know them, each with one sentence where
// workshop has something to say, and nothing left behind.
func TestFullRunExitCodes(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		say  string // the last line of stderr, "" when the status passes silently
	}{
		{"own status", []string{"--", "/bin/sh", "-c", "exit 7"}, 7, ""},
		{"not found", []string{"--", "/no/such/program"}, 127, "/no/such/program: not found in the container's root"},
		{"not executable", []string{"--", "/etc/hostname"}, 126, "/etc/hostname: cannot be executed"},
		{"killed by a signal", []string{"--init", "--", "/bin/sh", "-c", "kill -TERM $$"}, 143, ""},
	} {
		r := h.full(tc.args...)
		if tc.say != "" {
			oneSentence(t, tc.name, r, tc.code, tc.say)
		} else if r.Code != tc.code {
			t.Errorf("%s: full run %q = exit %d, want %d\n%s", tc.name, tc.args, r.Code, tc.code, r.Stderr)
		}
		h.nothingLeft(startedOf(t, r.Stderr).ID)
	}
	// Killed by a signal, not by a limit: no PID namespace, so the shell is
	// not PID 1 and may kill itself.
	r := h.full("--memory", "80M", "--ns", "mount,uts,ipc,net,user,cgroup", "--", "/bin/sh", "-c", "kill -KILL $$")
	if r.Code != 137 || !strings.Contains(r.Stderr, "killed by signal 9 (SIGKILL), not by a limit") || strings.Contains(r.Stderr, "memory limit") {
		t.Errorf("a shell killing itself = exit %d; want 137, said to be a signal\n%s", r.Code, r.Stderr)
	}
	h.nothingLeft(startedOf(t, r.Stderr).ID)
}

// Mistakes on the command line are one sentence, 125, and make nothing.
func TestFullRunBadInput(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", "nope:1", "--", "/bin/true"}, "there is no image nope:1"},
		{[]string{"--memory", "80Q", "--", "/bin/true"}, `--memory 80Q: "80Q" is not a size`},
		{[]string{"--pids", "none", "--", "/bin/true"}, "--pids none"},
		{[]string{"--timeout", "soon", "--", "/bin/true"}, "--timeout soon"},
		{[]string{"--ns", "bogus", "--", "/bin/true"}, "--ns: "},
		{[]string{"--ns", "uts,pid", "--", "/bin/true"}, "mount"},
		{[]string{"--ns", "mount,pid", "--hostname", "box", "--", "/bin/true"}, "uts"},
		{[]string{"/bin/true"}, "put the command after --"},
	} {
		r := h.full(tc.args...)
		oneSentence(t, "full run "+strings.Join(tc.args, " "), r, 125, tc.want)
	}
	h.noContainers()
	// Refused before the base image was made.
	images, _ := os.ReadDir(filepath.Join(h.state, "images"))
	for _, e := range images {
		if e.Name() != "lock" {
			t.Errorf("a refused run made images/%s", e.Name())
		}
	}
}

// The limits are in the container's cgroup files while it runs, where
// /proc/PID/cgroup says its group is; a SIGTERM to workshop that the
// container ignores (sleep, PID 1, has no handler) ends in the cgroup
// killed after the grace period; nothing is left.
func TestFullRunLimitsWhileRunning(t *testing.T) {
	h := newHost(t)
	r := h.start("full", "run", "--memory", "80M", "--pids", "64", "--", "/bin/sleep", "600")
	rec := h.record(r)
	r.Stderr.WaitFor(t, `execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
	if got := readTrim(t, cgroupFile(t, rec.Pid, "memory", "memory.limit_in_bytes", "memory.max")); got != "83886080" {
		t.Errorf("the memory limit of pid %d's cgroup = %q, want 83886080 (80M)", rec.Pid, got)
	}
	if got := readTrim(t, cgroupFile(t, rec.Pid, "pids", "pids.max", "pids.max")); got != "64" {
		t.Errorf("pids.max of pid %d's cgroup = %q, want 64", rec.Pid, got)
	}
	r.Signal(syscall.SIGTERM)
	res := r.Wait()
	if res.Code != 137 || !strings.Contains(res.Stderr, "the container ignored SIGTERM") {
		t.Errorf("SIGTERM to workshop, ignored by sleep as PID 1 = exit %d; want 137 and why\n%s", res.Code, res.Stderr)
	}
	h.nothingLeft(rec.ID)
}

func TestFullRunMemoryHog(t *testing.T) {
	h := newHost(t)
	r := h.full("--memory", "32M", "--", "/bin/bash", "-c", "s=x; while :; do s=$s$s; done")
	oneSentence(t, "a memory hog under --memory 32M", r, 137, "the container was killed by its memory limit (--memory 32M)")
	h.nothingLeft(startedOf(t, r.Stderr).ID)
}

// However a run ends, what it made is gone: the overlay mount, the cgroup,
// containers/<id>; with --keep only the writable layer and its record stay.
func TestFullRunLeavesNothing(t *testing.T) {
	h := newHost(t)
	const trap = `trap 'echo caught; exit 3' INT TERM HUP QUIT ABRT; echo ready; while :; do sleep 1000 & wait $!; done`
	for _, tc := range []struct {
		name   string
		args   []string
		signal syscall.Signal // sent to workshop once the command runs
		code   int
		say    string
	}{
		{"success", []string{"--", "/bin/true"}, 0, 0, ""},
		{"failure", []string{"--", "/bin/sh", "-c", "exit 3"}, 0, 3, ""},
		{"not found", []string{"--", "/nope"}, 0, 127, "not found"},
		{"timeout", []string{"--timeout", "1s", "--", "/bin/sleep", "600"}, 0, 137, "--timeout 1s expired"},
		{"SIGINT, trapped", []string{"--", "/bin/sh", "-c", trap}, syscall.SIGINT, 3, ""},
		{"SIGTERM, trapped", []string{"--", "/bin/sh", "-c", trap}, syscall.SIGTERM, 3, ""},
		// A closed terminal (SIGHUP) or Ctrl-\ (SIGQUIT) is a stop signal
		// too: it used to kill workshop at once and leave the run behind.
		{"SIGHUP, trapped", []string{"--", "/bin/sh", "-c", trap}, syscall.SIGHUP, 3, ""},
		{"SIGQUIT, trapped", []string{"--", "/bin/sh", "-c", trap}, syscall.SIGQUIT, 3, ""},
		// A fault signal sent by kill(1) (kill -ABRT, kill -SEGV) made Go
		// dump every goroutine's stack and end workshop at once, its run
		// left behind.
		{"SIGABRT, trapped", []string{"--", "/bin/sh", "-c", trap}, syscall.SIGABRT, 3, ""},
		// sleep as PID 1 has no handler: it ignores both. (Not sh -c:
		// dash catches SIGINT when it runs a -c string, and exits 130.)
		{"SIGINT, ignored", []string{"--", "/bin/sleep", "600"}, syscall.SIGINT, 137, "the container ignored SIGINT"},
		{"SIGTERM, ignored", []string{"--", "/bin/sleep", "600"}, syscall.SIGTERM, 137, "the container ignored SIGTERM"},
		{"SIGHUP, ignored", []string{"--", "/bin/sleep", "600"}, syscall.SIGHUP, 137, "the container ignored SIGHUP"},
		{"SIGSEGV, ignored", []string{"--", "/bin/sleep", "600"}, syscall.SIGSEGV, 137, "the container ignored SIGSEGV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &host{t: t, state: h.state}
			r := h.start(append([]string{"full", "run"}, tc.args...)...)
			if tc.signal != 0 {
				if tc.args[1] == "/bin/sleep" {
					r.Stderr.WaitFor(t, `[pid 1] execve("/bin/sleep", ["/bin/sleep", "600"], …) = 0`)
				} else {
					r.Stdout.WaitFor(t, "ready")
				}
				r.Signal(tc.signal)
			}
			res := r.Wait()
			if tc.say != "" {
				oneSentence(t, tc.name, res, tc.code, tc.say)
			} else if res.Code != tc.code {
				t.Errorf("exit %d, want %d\n%s", res.Code, tc.code, res.Stderr)
			}
			if strings.Contains(tc.name, "trapped") && res.Stdout != "ready\ncaught\n" {
				t.Errorf("the shell's trap did not run: stdout %q", res.Stdout)
			}
			h.nothingLeft(startedOf(t, res.Stderr).ID)
		})
	}

	t.Run("keep", func(t *testing.T) {
		h := &host{t: t, state: h.state}
		r := h.full("--keep", "--", "/bin/sh", "-c", "echo kept > /etc/kept")
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		c := startedOf(t, r.Stderr)
		if m := testbin.MountsUnder(t, h.state); len(m) > 0 {
			t.Errorf("--keep left mounts: %q", m)
		}
		if dirs := cgroupDirsOf(c.ID); len(dirs) > 0 {
			t.Errorf("--keep left the cgroup: %q", dirs)
		}
		upper := filepath.Join(h.state, "containers", c.ID, "upper")
		if b, err := os.ReadFile(filepath.Join(upper, "etc", "kept")); err != nil || string(b) != "kept\n" {
			t.Errorf("--keep: the writable layer lacks /etc/kept: %q, %v", b, err)
		}
		if !strings.Contains(r.Stderr, "'sudo workshop --state-dir "+h.state+" diff "+c.ID+"'") {
			t.Errorf("--keep does not say how to look at the layer:\n%s", r.Stderr)
		}
		if ps := h.run("ps", "-a"); ps.Code != 0 || !regexp.MustCompile(`(?m)^`+c.ID+` .* ended, layer kept$`).MatchString(ps.Stdout) {
			t.Errorf("ps -a = exit %d, want %s listed as ended, its layer kept:\n%s", ps.Code, c.ID, ps.Stdout)
		}
		if err := os.RemoveAll(filepath.Join(h.state, "containers", c.ID)); err != nil {
			t.Fatal(err)
		}
	})
}

// Ctrl-C pressed again and again, from workshop's first instant to its last,
// never leaves anything behind: while it makes or removes the container,
// workshop does not die of SIGINT (that would leave its overlay mount, its
// record or its cgroup), it ends the container and removes what it made.
// (Before and after that it may: there is nothing to leave.) Each round
// starts the storm at another moment of the run, so that over the rounds
// the signals land in every phase: making the layer, starting the child,
// running, tearing down.
func TestFullRunCtrlCStormLeavesNothing(t *testing.T) {
	h := newHost(t)
	if r := h.full("--quiet", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("making the base image: exit %d\n%s", r.Code, r.Stderr)
	}
	for round := 0; round < 30; round++ {
		r := h.start("full", "run", "--memory", "80M", "--", "/bin/sh", "-c", "sleep 0.1")
		stop := testbin.SIGINTStorm(r.Cmd.Process, time.Duration(round)*time.Millisecond)
		res := r.Wait()
		stop()
		if m := containerLine.FindStringSubmatch(res.Stderr); m != nil {
			h.nothingLeft(m[1])
		}
		h.noContainers()
		if t.Failed() {
			t.Logf("round %d: exit %d (killed by %v), stderr:\n%s", round, res.Code, res.Signal, res.Stderr)
			break
		}
	}
}

// inImage checks that path exists in the image unpacked in rootfs, its
// symbolic links resolved inside rootfs as the container resolves them
// (openat2 with RESOLVE_IN_ROOT), never on the host; the last component is
// not followed (O_NOFOLLOW): a link is an entry of its own.
func inImage(rootfs, path string) error {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rootfs, err)
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return fmt.Errorf("openat2 %s in %s: %w", path, rootfs, err)
	}
	unix.Close(fd)
	return nil
}

// Step 6 makes the container's group only where the run uses it: on v1
// and hybrid in the memory, pids and freezer hierarchies, in cpu only for
// --cpus, in cpuacct only where it shares cpu's mount (step 4's table of
// CPU time is not printed);
// on v2 in its one directory. /proc/PID/cgroup says where the container
// stands in each hierarchy, as a student would look it up.
func TestFullRunCgroupOnlyWhereUsed(t *testing.T) {
	mode, err := cgroups.Detect()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags []string
		in    []string // v1 controllers the container's group is made in
	}{
		{[]string{"--memory", "80M"}, []string{"memory", "pids", "freezer"}},
		{[]string{"--cpus", "0.5"}, []string{"memory", "pids", "freezer", "cpu"}},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			h := newHost(t)
			r := h.start(append(append([]string{"full", "run"}, tc.flags...), "--", "/bin/sleep", "600")...)
			rec := h.record(r)
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", rec.Pid))
			if err != nil {
				t.Fatal(err)
			}
			group := "/" + cgroups.Parent + "/" + rec.ID
			seen := 0
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				fields := strings.SplitN(line, ":", 3)
				if len(fields) != 3 {
					t.Fatalf("/proc/%d/cgroup line %q", rec.Pid, line)
				}
				inGroup := fields[2] == group
				if mode == cgroups.V2 {
					if fields[0] == "0" && !inGroup {
						t.Errorf("on cgroup v2 the container stands in %s, want %s", fields[2], group)
					}
					seen++
					continue
				}
				// One line per hierarchy; co-mounted controllers share one
				// ("cpu,cpuacct" on many hosts): it is wanted if any of them is.
				ctrls := strings.Split(fields[1], ",")
				wanted := false
				for _, ctrl := range ctrls {
					if slices.Contains(tc.in, ctrl) {
						wanted = true
						seen++
					}
				}
				switch {
				case wanted && !inGroup:
					t.Errorf("%s: the container stands in %s of the %s hierarchy, want its group %s", tc.flags, fields[2], fields[1], group)
				case !wanted && inGroup && (slices.Contains(ctrls, "cpu") || slices.Contains(ctrls, "cpuacct")):
					t.Errorf("%s: a group was made in the %s hierarchy, which this run does not use", tc.flags, fields[1])
				}
			}
			if mode != cgroups.V2 && seen != len(tc.in) {
				t.Errorf("/proc/%d/cgroup names %d of the hierarchies %v:\n%s", rec.Pid, seen, tc.in, b)
			}
			if k := h.run("kill", "--signal", "KILL", rec.ID); k.Code != 0 {
				t.Fatalf("workshop kill = %d\n%s", k.Code, k.Stderr)
			}
			r.Wait()
			h.nothingLeft(rec.ID)
		})
	}
}

// Without a PID namespace a container's background process outlives its
// first one: workshop kills the whole cgroup, and only once the group is
// empty does it unmount the root and remove the writable layer; nothing is
// left, and the run succeeds with the first process's status.
func TestFullRunOutlivedProcessesKilledBeforeTheLayerGoes(t *testing.T) {
	h := newHost(t)
	r := h.full("--ns", "mount,uts,ipc,net,user", "--", "/bin/sh", "-c", "sleep 1234 & echo started")
	if r.Code != 0 || !strings.Contains(r.Stdout, "started") {
		t.Fatalf("exit %d, stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	killed := strings.Index(r.Stderr, "1 process outlived the container's first process: killing the whole cgroup")
	unmounted := strings.Index(r.Stderr, "\numount2(\""+h.state) // workshop's, not the init's of /.oldroot
	if killed < 0 || unmounted < killed {
		t.Errorf("want the outlived process killed (a note) before the root is unmounted:\n%s", r.Stderr)
	}
	if out, _ := exec.Command("pgrep", "-f", "sleep 1234").Output(); len(out) > 0 {
		t.Errorf("the background sleep outlived the run: pids %s", out)
	}
	h.nothingLeft(startedOf(t, r.Stderr).ID)
}

// full run is step 6: --explain prints its lesson first, as `step 6 --explain`
// does (it used to start straight with the container).
func TestFullRunExplain(t *testing.T) {
	h := newHost(t)
	for _, args := range [][]string{
		{"--explain", "full", "run", "--", "/bin/true"},
		{"--explain", "step", "6", "--", "/bin/true"},
	} {
		r := h.run(args...)
		lesson := strings.Index(r.Stderr, "\nStep 6: ")
		container := strings.Index(r.Stderr, "==> container ")
		if r.Code != 0 || lesson < 0 || container < lesson {
			t.Errorf("workshop %q = %d; want the lesson of step 6 before the container:\n%.1500s", args, r.Code, r.Stderr)
		}
	}
}

// `workshop full run … 2>&1 | head -N`: the narration's pipe closes while
// workshop (or the container's init) still writes to it. Neither may die of
// it: the command runs, its status is the run's, and the teardown happens,
// whichever line the pipe closed after.
func TestFullRunSurvivesAClosedNarrationPipe(t *testing.T) {
	h := newHost(t)
	for _, lines := range []int{1, 5, 15, 25} {
		ps := testbin.ClosedPipe(t, lines, h.args("full", "run", "--", "/bin/sh", "-c", "sleep 0.2; exit 3")...)
		if ws := ps.Sys().(syscall.WaitStatus); ws.Signaled() || ws.ExitStatus() != 3 {
			t.Errorf("the pipe closed after %d lines: workshop ended with %v, want the command's exit status 3", lines, ps)
		}
		h.noContainers()
	}
}

// A stop signal that comes as the container's command starts: workshop
// decides to stop the container before its command runs, and the command's
// execve happens before workshop's SIGKILL lands. The run still ends as an
// interrupted one (130, a sentence), never as a command "killed by signal 9,
// not by a limit". The signal is sent 2 to 12 ms after the start, around
// the end of the setup on this kind of machine; every outcome is checked.
func TestFullRunInterruptedAsTheCommandStarts(t *testing.T) {
	h := newHost(t)
	if r := h.full("--quiet", "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("the first run = exit %d\n%s", r.Code, r.Stderr)
	}
	for i := 0; i < 60; i++ {
		cmd := exec.Command(testbin.Bin(t), h.args("full", "run", "--", "/bin/sleep", "0.2")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(2+i%11) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		switch ws := cmd.ProcessState.Sys().(syscall.WaitStatus); {
		case ws.Signaled() && ws.Signal() == syscall.SIGINT: // before workshop caught it: nothing made yet
		case code == 0: // the signal reached sleep, as PID 1, which dropped it
		case code == 130 && strings.Contains(stderr.String(), "workshop: interrupted by SIGINT"):
		default:
			t.Errorf("SIGINT %d ms after the start: %v; want 0 (passed on) or 130 (interrupted)\n%s", 2+i%11, cmd.ProcessState, stderr.String())
		}
	}
	h.noContainers()
}

// A state dir whose path holds what overlayfs reads specially in its
// options (a comma ends an option, a colon separates lower layers, a
// backslash escapes): the paths are escaped, and the run works. It failed
// with "no such file or directory (is overlayfs available?)".
func TestFullRunInAStateDirWithCommasAndColons(t *testing.T) {
	testbin.NeedRoot(t)
	state := filepath.Join(t.TempDir(), `a,b:c\d`)
	r := testbin.Run(t, "", "--state-dir", state, "full", "run", "--keep", "--name", "odd", "--", "/bin/sh", "-c", "echo ok > /written")
	if r.Code != 0 {
		t.Fatalf("full run in %s = %d:\n%s", state, r.Code, r.Stderr)
	}
	if d := testbin.Run(t, "", "--state-dir", state, "diff", "odd"); d.Code != 0 || d.Stdout != "A /written\n" {
		t.Errorf("diff = %d, %q:\n%s", d.Code, d.Stdout, d.Stderr)
	}
	if c := testbin.Run(t, "", "--state-dir", state, "clean", "--images"); c.Code != 0 {
		t.Errorf("clean = %d:\n%s", c.Code, c.Stderr)
	}
	if m := testbin.MountsUnder(t, state); len(m) > 0 {
		t.Errorf("mounts left under %s: %q", state, m)
	}
}

// `workshop full run &` from an interactive shell: the default command, an
// interactive shell, needs the terminal, which a background job does not
// have. It is refused with a sentence. It used to start, and spin at full
// speed for ever: a PID 1 that sends itself SIGTTIN to wait for the
// terminal drops it.
func TestFullRunInTheBackgroundWithoutACommand(t *testing.T) {
	testbin.NeedRoot(t)
	bash := testbin.NeedTool(t, "bash")
	// bash -m: job control, so the & job gets a process group of its own,
	// not the terminal's foreground one.
	line := fmt.Sprintf(`%q --no-color --state-dir %q full run & wait $!; echo "status $?"`, testbin.Bin(t), t.TempDir())
	term := testbin.StartOnTerminal(t, bash, "-m", "-c", line)
	out := term.Out
	sessionEnds(t, term, "the background full run still runs")
	out.WaitFor(t, "status 125")
	if !strings.Contains(out.String(), "workshop runs in the background, and the interactive shell it would start needs the terminal") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
}

// `workshop full run | tee log` on a terminal: the container is not handed
// the terminal when workshop's output goes to a pipe (whose other programs
// share workshop's process group), and the default command, an
// interactive shell, spun at full speed for ever (dash's wait for the
// terminal, as above). It is refused with a sentence.
func TestFullRunIntoAPipeWithoutACommand(t *testing.T) {
	testbin.NeedRoot(t)
	bash := testbin.NeedTool(t, "bash")
	line := fmt.Sprintf(`%q --no-color --state-dir %q full run | cat; echo "status ${PIPESTATUS[0]}"`, testbin.Bin(t), t.TempDir())
	term := testbin.StartOnTerminal(t, bash, "-c", line)
	out := term.Out
	sessionEnds(t, term, "the piped full run still runs")
	out.WaitFor(t, "status 125")
	if !strings.Contains(out.String(), "workshop's output goes to a pipe, and the interactive shell it would start needs the terminal") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
}

// `workshop full run -- /bin/sh -i &`: the container, not handed the
// terminal, was a background process group of the terminal's session, and
// the shell sent itself SIGTTIN to wait for the terminal, which its PID 1
// dropped: it spun at full speed for ever. In a session of its own it runs
// without job control, reads its input (/dev/null) and ends.
func TestFullRunInTheBackgroundWithAnInteractiveShell(t *testing.T) {
	testbin.NeedRoot(t)
	bash := testbin.NeedTool(t, "bash")
	// The sleep: bash's last line, written as it exits and the terminal
	// closes, was once lost on its way to the test (CI).
	line := fmt.Sprintf(`%q --no-color --state-dir %q full run -- /bin/sh -i & wait $!; echo "status $?"; sleep 0.3`, testbin.Bin(t), t.TempDir())
	term := testbin.StartOnTerminal(t, bash, "-m", "-c", line)
	out := term.Out
	sessionEnds(t, term, "the background interactive shell still runs")
	out.WaitFor(t, "status 0")
	if !strings.Contains(out.String(), "job control turned off") {
		t.Errorf("the shell does not say it runs without job control:\n%s", out)
	}
}

// A terminal that hangs up (its window closed, its ssh session dropped)
// while a container has it: the kernel's SIGHUP goes to the terminal's
// foreground group, the container's, whose PID 1 without a handler (sleep)
// drops it, and not to workshop, in the background. Under sh, the run
// outlived the terminal, for ever, with its overlay and cgroup. workshop
// sees the hang-up, passes a SIGHUP on, kills the cgroup 3 s later, and
// leaves nothing. An interactive bash passes its own SIGHUP on to its
// jobs, workshop among them: then workshop sends itself none, and a second
// SIGHUP would not cut the grace short.
func TestTerminalHangupEndsTheRun(t *testing.T) {
	bash := testbin.NeedTool(t, "bash")
	for _, shell := range [][]string{{"/bin/sh", "-c"}, {bash, "-i", "-c"}} {
		h := newHost(t)
		narration := filepath.Join(t.TempDir(), "narration")
		// "; true": the shell stays, as the terminal's session leader,
		// instead of becoming workshop.
		line := fmt.Sprintf("%q --no-color --state-dir %q full run -- /bin/sleep 1000 2>%q; true", testbin.Bin(t), h.state, narration)
		term := testbin.StartOnTerminal(t, shell[0], append(shell[1:], line)...)
		id := startedOf(t, testbin.FileHolds(t, narration, `execve("/bin/sleep"`, time.Minute)).ID
		workshop := testbin.DescendantNamed(t, term.Cmd.Process.Pid, "workshop", time.Minute)
		sleep := testbin.DescendantNamed(t, workshop, "sleep", time.Minute)
		term.Master.Close() // the window closes
		testbin.GoneWithin(t, workshop, "workshop", 15*time.Second)
		testbin.GoneWithin(t, sleep, "sleep", time.Second)
		b, _ := os.ReadFile(narration)
		// POLLHUP alone while the terminal's other side is closed,
		// POLLERR|POLLHUP once the kernel has hung it up: both end so. The
		// note comes after the look, but not always next to it: the
		// SIGHUP's notes, said by another thread, may come between (CI's
		// arm64 VM saw them there).
		look := strings.Index(string(b), "POLLHUP}], left {tv_sec=0, tv_nsec=0})\n")
		if after := string(b)[max(look, 0):]; look < 0 || !strings.Contains(after, "\n==> the terminal hung up; workshop got a SIGHUP just before") &&
			!strings.Contains(after, "\n==> the terminal hung up: the kernel sends its SIGHUP") {
			t.Errorf("%s: the narration does not say the look saw the hang-up, and then that the terminal hung up:\n%s", shell[0], b)
		}
		want := []string{
			"==> workshop got SIGHUP: passing it on to the container; if it has not ended in 3s, its whole cgroup is killed (send SIGTERM to kill it now)\n",
			"==> the container ignored SIGHUP for 3s: killing every process in the container's cgroup",
			"==> the terminal hung up: there is no terminal to take back",
		}
		if shell[0] == "/bin/sh" {
			want = append(want, fmt.Sprintf("workshop sends itself the SIGHUP a shell sends its jobs\nkill(%d, SIGHUP) = 0\n==> workshop got SIGHUP", workshop))
		} else if !strings.Contains(string(b), "==> the terminal hung up; workshop got a SIGHUP just before") {
			// bash's comes at the hang-up, workshop's look up to a tenth
			// of a second later, nearly always after it, but not always:
			// then a second SIGHUP, which must not cut the grace short.
			t.Logf("bash's SIGHUP came after workshop's look:\n%s", b)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: the narration does not say %q:\n%s", shell[0], w, b)
			}
		}
		if strings.Contains(string(b), "came twice") || strings.Count(string(b), "workshop got SIGHUP") != 1 {
			t.Errorf("%s: workshop did not get one SIGHUP:\n%s", shell[0], b)
		}
		h.nothingLeft(id)
	}
}

// fullRunOnTerminalIgnoring starts workshop full run -- COMMAND (COMMAND
// as sh reads it) on a terminal with SIG ignored, as a script's background
// job or nohup starts it (sh's trap with an empty action), its narration and
// exit status written to the files it returns.
func (h *host) fullRunOnTerminalIgnoring(t *testing.T, sig, command string) (term *testbin.OnTerminal, narration, status string) {
	dir := t.TempDir()
	narration, status = filepath.Join(dir, "narration"), filepath.Join(dir, "status")
	line := fmt.Sprintf("trap '' %s; %q --no-color --state-dir %q full run -- %s 2>%q; echo $? >%q", sig, testbin.Bin(t), h.state, command, narration, status)
	return testbin.StartOnTerminal(t, "/bin/sh", "-c", line), narration, status
}

// Under nohup (workshop started with SIGHUP ignored) the terminal's
// hang-up does not end the run: the container goes on, and the run ends
// with its command, as nohup promises. workshop sent itself a SIGHUP that
// did nothing, and said it would end the container.
func TestTerminalHangupUnderNohupGoesOn(t *testing.T) {
	h := newHost(t)
	// The command waits for the test, not for a time a slow machine
	// could pass before the hang-up.
	term, narration, status := h.fullRunOnTerminalIgnoring(t, "HUP", "/bin/sh -c 'while [ ! -e /go-on ]; do sleep 0.1; done'")
	id := startedOf(t, testbin.FileHolds(t, narration, `execve("/bin/sh"`, time.Minute)).ID
	workshop := testbin.DescendantNamed(t, term.Cmd.Process.Pid, "workshop", time.Minute)
	term.Master.Close() // the window closes
	testbin.FileHolds(t, narration, "==> the terminal hung up; workshop was started with SIGHUP ignored (nohup), so the container goes on", 15*time.Second)
	// Written through the container's overlay mount on the host.
	if err := os.WriteFile(filepath.Join(h.state, "containers", id, "rootfs", "go-on"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testbin.GoneWithin(t, workshop, "workshop", time.Minute)
	if got := testbin.FileHolds(t, status, "\n", 5*time.Second); got != "0\n" {
		t.Errorf("the run under nohup after the hang-up = exit %q, want 0 (its command ran to its end)", got)
	}
	if b, _ := os.ReadFile(narration); strings.Contains(string(b), "SIGHUP) = 0") || strings.Contains(string(b), "killing every process") {
		t.Errorf("the run under nohup sent a SIGHUP or killed the container:\n%s", b)
	}
	h.nothingLeft(id)
}

// On a terminal, a run started with SIGINT ignored says that a Ctrl-C will
// do nothing to its command, and it does nothing: the run goes on to its
// end. The Ctrl-C was dead, in silence.
func TestTerminalRunStartedIgnoringSIGINTSaysCtrlCDoesNothing(t *testing.T) {
	h := newHost(t)
	term, narration, status := h.fullRunOnTerminalIgnoring(t, "INT", "/bin/sh -c 'echo ready; sleep 1; echo done'")
	term.Out.WaitFor(t, "ready")
	id := startedOf(t, testbin.FileHolds(t, narration, "a Ctrl-C on this terminal does nothing to it", time.Minute)).ID
	term.Master.Write([]byte{3}) // Ctrl-C
	term.Out.WaitFor(t, "done")
	if got := testbin.FileHolds(t, status, "\n", time.Minute); got != "0\n" {
		b, _ := os.ReadFile(narration)
		t.Errorf("a run started ignoring SIGINT, after a Ctrl-C = exit %q, want 0 (the command ran to its end):\n%s", got, b)
	}
	h.nothingLeft(id)

	// Started with the default, it says nothing of the kind.
	line := fmt.Sprintf("%q --no-color --state-dir %q full run -- /bin/true 2>%q", testbin.Bin(t), h.state, narration)
	term = testbin.StartOnTerminal(t, "/bin/sh", "-c", line)
	<-term.Done
	if b, _ := os.ReadFile(narration); !strings.Contains(string(b), `execve("/bin/true"`) || strings.Contains(string(b), "SIGINT ignored") {
		t.Errorf("a run on a terminal with SIGINT at its default: want its narration, and no word of SIGINT ignored:\n%s", b)
	}
}

// With no command, a run starts the image's bash (the base image has the
// host's): line editing and history, as step 3's default. It started sh,
// whose Up arrow ran "^[[A" as a command.
func TestFullRunWithoutACommandStartsTheImagesBash(t *testing.T) {
	h := newHost(t)
	bash := testbin.NeedTool(t, "bash")
	r := testbin.Run(t, "echo \"shell $0\"\n", h.args("-q", "full", "run")...)
	if r.Code != 0 || r.Stdout != "shell /bin/bash\n" {
		t.Errorf("full run, its commands on stdin, with %s on the host = %d, stdout %q:\n%s", bash, r.Code, r.Stdout, r.Stderr)
	}
	// On a terminal, interactive; told nothing about Ctrl-C, which a
	// shell handles.
	narration := filepath.Join(t.TempDir(), "narration")
	term := testbin.StartOnTerminal(t, "/bin/sh", "-c", fmt.Sprintf("%q --no-color --state-dir %q full run 2>%q", testbin.Bin(t), h.state, narration))
	testbin.FileHolds(t, narration, `execve("/bin/bash", ["/bin/bash", "-i"], …) = 0`, time.Minute)
	// The lesson: `tty` says /dev/console, the terminal bound there, and
	// ps shows ? in its TTY column (it looks for /dev/pts/N, the host's
	// name of it).
	term.Master.Write([]byte("tty; ps -o pid,tty,args; echo \"interactive $-\"; exit\n"))
	term.Out.WaitFor(t, "interactive ")
	<-term.Done
	if out := term.Out.String(); !regexp.MustCompile(`(?m)^/dev/console\r?$`).MatchString(out) {
		t.Errorf("tty in the container does not say /dev/console:\n%s", out)
	}
	if procps() {
		if out := term.Out.String(); !regexp.MustCompile(`(?m)^ +1 \? +/bin/bash -i\r?$`).MatchString(out) {
			t.Errorf("ps in the container does not show PID 1's TTY as ?:\n%s", out)
		}
	}
	if b, _ := os.ReadFile(narration); strings.Contains(string(b), "PID 1 of its PID namespace and have this terminal") {
		t.Errorf("the interactive shell's run warns of Ctrl-C:\n%s", b)
	}
	if out := term.Out.String(); !regexp.MustCompile(`interactive \S*i`).MatchString(out) {
		t.Errorf("the shell on the terminal is not interactive:\n%s", out)
	}
}

// A command given on a terminal is PID 1, where a Ctrl-C it has no
// handler for does nothing: a student's Ctrl-C on `full run -- sleep 1000`
// met silence. A note says so, and the way to stop it; not under --init,
// nor without a PID namespace, nor without the terminal.
func TestCommandAsPID1OnTheTerminalIsTold(t *testing.T) {
	h := newHost(t)
	const note = "==> your command will be PID 1 of its PID namespace and have this terminal: a Ctrl-C here goes to it"
	for _, c := range []struct {
		args []string
		told bool
	}{
		{nil, true},
		{[]string{"--init"}, false},
		{[]string{"--ns", "mount,uts,ipc,net,user,cgroup"}, false},
	} {
		narration := filepath.Join(t.TempDir(), "narration")
		line := strings.Join(append([]string{testbin.Bin(t)}, h.args(append(append([]string{"full", "run", "--name", "told"}, c.args...), "--", "/bin/true")...)...), " ")
		term := testbin.StartOnTerminal(t, "/bin/sh", "-c", line+" 2>"+narration)
		<-term.Done
		b, _ := os.ReadFile(narration)
		if told := strings.Contains(string(b), note); told != c.told {
			t.Errorf("%q: told %v, want %v:\n%s", c.args, told, c.told, b)
		}
		if c.told && !strings.Contains(string(b), "To stop such a command: 'sudo workshop --state-dir "+h.state+" kill told' from another terminal, or run it with --init") {
			t.Errorf("%q: the note does not say how to stop it:\n%s", c.args, b)
		}
	}
	if r := h.full("--", "/bin/true"); strings.Contains(r.Stderr, note) {
		t.Errorf("without the terminal, the note is said:\n%s", r.Stderr)
	}
}

// procps reports whether the host's ps, which the base image takes in, is
// procps's (busybox's, in the test VM, prints other columns).
func procps() bool {
	out, _ := exec.Command("ps", "--version").CombinedOutput()
	return strings.Contains(string(out), "procps")
}

// sessionEnds waits a minute at most for the program on term to end;
// past that, it kills its session (bash's: workshop, and its container
// with it) and fails the test, saying what still ran.
func sessionEnds(t *testing.T, term *testbin.OnTerminal, stillRuns string) {
	t.Helper()
	select {
	case <-term.Done:
	case <-time.After(time.Minute):
		killSession(term.Cmd.Process.Pid)
		t.Fatalf("a minute later, %s:\n%s", stillRuns, term.Out)
	}
}

// killSession sends SIGKILL to every process of session sid.
func killSession(sid int) {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if s, err := unix.Getsid(pid); err == nil && s == sid {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// A container's root keeps only Docker's default capabilities: it cannot
// unmount the read-only /proc/sys (under the default map the host's
// settings are writable under it), nor mount a /proc or a cgroup tree of
// its own; and with --init, it cannot reach the init's descriptors (one
// the caller left open, here fd 7 on a directory of the host) through
// /proc/1/fd; nor write the host's /proc/irq (its value back to it, here);
// nor unmask what runc masks (/proc/keys).
// A review did all of these, and wrote the host's kernel.core_pattern back
// to itself.
func TestContainerRootCannotReachTheHost(t *testing.T) {
	h := newHost(t)
	const script = `grep -E 'CapBnd|Seccomp' /proc/self/status; echo "userns $(cat /proc/sys/user/max_user_namespaces)"; umount /proc/sys && echo umount-worked; mkdir -p /tmp/p && mount -t proc proc /tmp/p && echo mount-worked; echo x > /proc/1/fd/7/reached-the-host && echo fd-worked; v=$(cat /proc/irq/default_smp_affinity) && echo "$v" > /proc/irq/default_smp_affinity && echo irq-worked; for f in /proc/keys /proc/timer_list; do [ -e $f ] && echo "$f $(wc -c < $f) bytes"; done; umount /proc/keys && echo unmask-worked; true`
	outside := t.TempDir()
	for _, init := range []bool{false, true} {
		args := h.args("-q", "full", "run")
		if init {
			args = append(args, "--init")
		}
		cmd := exec.Command("/bin/sh", "-c", `exec 7<"$0"; exec "$@"`, outside, testbin.Bin(t))
		cmd.Args = append(cmd.Args, append(args, "--", "/bin/sh", "-c", script)...)
		r := testbin.RunCmd(t, cmd, 5*time.Minute)
		if r.Code != 0 {
			t.Fatalf("full run (init %v) = %d:\n%s", init, r.Code, r.Stderr)
		}
		// Docker's fourteen: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID
		// SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
		// AUDIT_WRITE SETFCAP.
		if !strings.Contains(r.Stdout, "CapBnd:\t00000000a80425fb\n") {
			t.Errorf("init %v: the command's bounding set is not Docker's default one:\n%s", init, r.Stdout)
		}
		// Under the seccomp filter that refuses ioctl(TIOCSTI), with
		// which it could type into the student's terminal for the shell
		// that reads it after the container (internal/sys tests the
		// filter's work).
		if !strings.Contains(r.Stdout, "Seccomp:\t2\n") || !strings.Contains(r.Stdout, "Seccomp_filters:\t1\n") {
			t.Errorf("init %v: the command runs without the seccomp filter:\n%s", init, r.Stdout)
		}
		// A user namespace of its own would give it every capability
		// back, there: it may make none.
		if !strings.Contains(r.Stdout, "userns 0\n") {
			t.Errorf("init %v: the container may make user namespaces:\n%s", init, r.Stdout)
		}
		// What runc masks reads empty where the kernel has it: the
		// host's keys and timers (each had thousands of bytes to show).
		for _, f := range []string{"/proc/keys", "/proc/timer_list"} {
			if _, err := os.Stat(f); err == nil && !strings.Contains(r.Stdout, f+" 0 bytes\n") {
				t.Errorf("init %v: %s is not masked:\n%s", init, f, r.Stdout)
			}
		}
		for _, worked := range []string{"umount-worked", "mount-worked", "fd-worked", "irq-worked", "unmask-worked"} {
			if strings.Contains(r.Stdout, worked) {
				t.Errorf("init %v: %s:\n%s", init, worked, r.Stdout)
			}
		}
		if _, err := os.Stat(filepath.Join(outside, "reached-the-host")); err == nil {
			t.Errorf("init %v: the container wrote into the host's %s", init, outside)
		}
	}
}

// An image's device nodes open nothing in a container: the overlay is
// the host root's mount, where the kernel would let the container open
// them (a planted node for the host's disk would be the disk). Here a
// harmless one, 1:3, /dev/null's numbers, with and without a user
// namespace; the container's own /dev/null works. Nor may the container
// make a node in its /dev, a mount of its own: the kernel refuses in a
// user namespace, and without one CAP_MKNOD is gone.
func TestImageDeviceNodesOpenNothing(t *testing.T) {
	h := newHost(t)
	root := t.TempDir()
	testbin.BusyboxRoot(t, root, []string{"etc"}, []string{"sh", "echo", "ls", "mknod"})
	if err := unix.Mknod(filepath.Join(root, "etc", "planted"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if r := h.run("image", "pack", root, "nodes:1"); r.Code != 0 {
		t.Fatalf("image pack = exit %d\n%s", r.Code, r.Stderr)
	}
	const script = `ls -l /etc/planted; echo x > /etc/planted && echo opened-planted; echo x > /dev/null && echo opened-own; mknod /dev/made c 1 3 && echo made-node`
	for _, ns := range []string{"", "mount,uts,ipc,net,pid,cgroup"} {
		args := []string{"--image", "nodes:1"}
		if ns != "" {
			args = append(args, "--ns", ns)
		}
		r := h.full(append(args, "--", "/bin/sh", "-c", script)...)
		if !strings.Contains(r.Stdout, "1,   3") || !strings.Contains(r.Stdout, "opened-own") {
			t.Fatalf("--ns %q: the image's node or the container's /dev/null is missing:\n%s\n%s", ns, r.Stdout, r.Stderr)
		}
		if strings.Contains(r.Stdout, "opened-planted") {
			t.Errorf("--ns %q: the container opened a device node of its image:\n%s", ns, r.Stdout)
		}
		if strings.Contains(r.Stdout, "made-node") {
			t.Errorf("--ns %q: the container made a device node in its /dev:\n%s", ns, r.Stdout)
		}
	}
}

// The command may make no user namespace, where it would have every
// capability again: without one of its own (--ns without user), nothing
// but the seccomp filter stops it (busybox's unshare -U worked before
// it); with one, max_user_namespaces is 0 too.
// Namespaces other than a user one are refused for want of
// CAP_SYS_ADMIN; the filter lets them through to the kernel.
func TestCommandMakesNoUserNamespace(t *testing.T) {
	h := newHost(t)
	root := t.TempDir()
	testbin.BusyboxRoot(t, root, nil, []string{"sh", "unshare", "grep"})
	if r := h.run("image", "pack", root, "userns:1"); r.Code != 0 {
		t.Fatalf("image pack = exit %d\n%s", r.Code, r.Stderr)
	}
	const script = `unshare -U grep CapEff /proc/self/status && echo made-userns; unshare -u true 2>&1 || echo uts-refused`
	for _, ns := range []string{"", "mount,uts,ipc,net,pid,cgroup"} {
		args := []string{"--image", "userns:1"}
		if ns != "" {
			args = append(args, "--ns", ns)
		}
		r := h.full(append(args, "--", "/bin/sh", "-c", script)...)
		if r.Code != 0 {
			t.Fatalf("--ns %q: full run = exit %d:\n%s", ns, r.Code, r.Stderr)
		}
		if strings.Contains(r.Stdout, "made-userns") {
			t.Errorf("--ns %q: the command made a user namespace:\n%s", ns, r.Stdout)
		}
		if !strings.Contains(r.Stdout, "Operation not permitted") || !strings.Contains(r.Stdout, "uts-refused") {
			t.Errorf("--ns %q: want unshare -u refused by the kernel (EPERM), after unshare -U:\n%s\n%s", ns, r.Stdout, r.Stderr)
		}
	}
}

// Without a user namespace, root's execve gives back every capability of
// its inheritable and ambient sets, bounding set or not: a workshop started
// with CAP_SYS_ADMIN in them (setpriv --inh-caps, a service's ambient
// capabilities) handed it to the command, which then unmounted /proc/sys
// and wrote the host's settings. Both sets are emptied now.
func TestInheritedCapabilitiesDoNotReachTheCommand(t *testing.T) {
	h := newHost(t)
	cmd := exec.Command(testbin.Bin(t), h.args("-q", "full", "run", "--ns", "mount,uts,ipc,net,pid,cgroup", "--", "/bin/sh", "-c", "grep -E 'Cap(Inh|Prm|Amb)' /proc/self/status")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN}}
	r := testbin.RunCmd(t, cmd, 5*time.Minute)
	if r.Code != 0 {
		t.Fatalf("full run = %d:\n%s", r.Code, r.Stderr)
	}
	// Docker's fourteen but CAP_MKNOD (bit 27), with no user namespace.
	for _, want := range []string{"CapInh:\t0000000000000000\n", "CapPrm:\t00000000a00425fb\n", "CapAmb:\t0000000000000000\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the command's capabilities lack %q:\n%s", want, r.Stdout)
		}
	}
}

// A memory limit larger than the machine is taken (the kernel takes any
// size), and a note says it never acts.
func TestMemoryLimitBeyondTheMachine(t *testing.T) {
	h := newHost(t)
	r := h.full("--memory", "9999999G", "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "==> --memory 9999999G is more than this machine has (") || !strings.Contains(r.Stderr, "the limit never acts") {
		t.Errorf("full run --memory 9999999G = exit %d\n%s\nwant 0 and a note that the limit never acts", r.Code, r.Stderr)
	}
	if r := h.full("--memory", "80M", "--", "/bin/true"); r.Code != 0 || strings.Contains(r.Stderr, "more than this machine has") {
		t.Errorf("full run --memory 80M = exit %d\n%s\nwant 0 and no such note", r.Code, r.Stderr)
	}
	// A size no suffix gives exactly is quoted as given: rounded, it was
	// --memory 8589934592G, a size workshop refuses as too large.
	r = h.full("--memory", "9223372036854775807", "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "==> --memory 9223372036854775807 is more than this machine has (") {
		t.Errorf("full run --memory 9223372036854775807 = exit %d\n%s\nwant 0 and a note that quotes the flag as given", r.Code, r.Stderr)
	}
}

// The base image has the host's terminfo entries for the common terminals:
// without them top (in the base tools) exited at once with "terminals
// database is inaccessible", and less warned its terminal was not fully
// functional.
func TestBaseImageHasTerminfo(t *testing.T) {
	h := newHost(t)
	var entry string
	for _, dir := range []string{"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"} {
		if _, err := os.Stat(filepath.Join(dir, "x", "xterm")); err == nil {
			entry = filepath.Join(dir, "x", "xterm")
			break
		}
	}
	if entry == "" {
		if testbin.InCI() {
			t.Fatal("no terminfo entry for xterm on this machine (Debian's ncurses-base has one)")
		}
		t.Skip("no terminfo entry for xterm on this machine")
	}
	script := fmt.Sprintf(`test -s %s && echo has-xterm; if [ -x /bin/top ] || [ -x /usr/bin/top ]; then TERM=xterm top -b -n 1 > /dev/null && echo top-works; else echo no-top; fi`, entry)
	r := h.full("--", "/bin/sh", "-c", script)
	if r.Code != 0 || !strings.Contains(r.Stdout, "has-xterm\n") || !(strings.Contains(r.Stdout, "top-works\n") || strings.Contains(r.Stdout, "no-top\n")) {
		t.Errorf("full run = exit %d, stdout %q\n%s\nwant the xterm entry at %s and a working top", r.Code, r.Stdout, r.Stderr, entry)
	}
	// The writes are not narrated one by one, but said.
	if !regexp.MustCompile(`(?m)^==> beside step 2's copies, the base image gets, written without a line each: .*; and the host's terminfo entries for \d+ terminal types \(.*\bxterm\b`).MatchString(r.Stderr) {
		t.Errorf("the base image's own files are not said:\n%s", r.Stderr)
	}
}

// Root of a user namespace made without a mount namespace of its own
// (unshare --user --map-root-user): the kernel refuses the overlay's mount
// in workshop's mount namespace. One sentence says why and what to do,
// where it said "operation not permitted (is overlayfs available?)", and
// doctor, whose probes make a mount namespace of their own, said all was
// well; nothing is left.
func TestFullRunInAUserNamespaceWithoutItsOwnMounts(t *testing.T) {
	h := newHost(t)
	unshare := testbin.NeedTool(t, "unshare")
	r := testbin.RunCmd(t, exec.Command(unshare, append([]string{"--user", "--map-root-user", testbin.Bin(t)}, h.args("-q", "full", "run", "--", "/bin/true")...)...), time.Minute)
	if r.Code != 125 || !strings.Contains(r.Stderr, "operation not permitted: workshop runs as root of a user namespace, in a mount namespace that is not that user namespace's") {
		t.Errorf("full run in a user namespace without its own mounts = %d, stderr %q", r.Code, r.Stderr)
	}
	d := testbin.RunCmd(t, exec.Command(unshare, append([]string{"--user", "--map-root-user", testbin.Bin(t)}, h.args("doctor")...)...), time.Minute)
	if d.Code == 0 || !strings.Contains(d.Stdout+d.Stderr, "mount namespace") {
		t.Errorf("doctor there = %d, want a failure naming the mount namespace:\n%s%s", d.Code, d.Stdout, d.Stderr)
	}
	entries, _ := os.ReadDir(filepath.Join(h.state, "containers"))
	if len(entries) > 0 {
		t.Errorf("the refused run left %d entries in containers/", len(entries))
	}
}

// In a pipe whose reader goes (… | head), a shell's loop as the
// container's PID 1, which SIGPIPE does not end, is ended by workshop: 141,
// said as such (not "killed by signal 13"), and nothing is left.
func TestFullRunInAPipeWhoseReaderGoes(t *testing.T) {
	h := newHost(t)
	r := testbin.IntoHead(t, h.args("full", "run", "--", "/bin/sh", "-c", "while :; do echo xxxxxxxx; done")...)
	stderr := r.Stderr
	if r.Code != 141 || r.Stdout != "xxxxxxxx\nx" {
		t.Fatalf("workshop full run … | head = %d, %q, want 141; stderr:\n%.3000s", r.Code, r.Stdout, stderr)
	}
	if !strings.Contains(stderr, "once the reader of its output had gone: exit status 141") || strings.Contains(stderr, "killed by signal") {
		t.Errorf("the verdict does not say workshop ended it for its reader's going:\n%.3000s", stderr)
	}
	h.nothingLeft(startedOf(t, stderr).ID)
}

// workshop started with SIGINT ignored, as a shell starts a script's
// background job (or nohup, SIGHUP): it leaves it ignored, so a Ctrl-C
// meant for the script does not stop the run, and the container's command
// starts with it ignored too, as under `unshare … chroot`. workshop used to
// catch it, and stop the run.
func TestFullRunStartedIgnoringSIGINTLeavesItIgnored(t *testing.T) {
	h := newHost(t)
	if r := h.full("--quiet", "--", "/bin/true"); r.Code != 0 { // the base image, made first
		t.Fatalf("the first run = exit %d\n%s", r.Code, r.Stderr)
	}
	for _, init := range []bool{false, true} {
		args := h.args("full", "run", "--quiet")
		if init {
			args = append(args, "--init")
		}
		args = append(args, "--", "/bin/sh", "-c", "cat /proc/self/status; sleep 0.5; echo done")
		r := testbin.Start(t, "", "/bin/sh", append([]string{"-c", `trap '' INT; exec "$0" "$@"`, testbin.Bin(t)}, args...)...)
		line := r.Stdout.WaitFor(t, "SigIgn:")
		ignored, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "SigIgn:")), 16, 64)
		if err != nil {
			t.Fatalf("the command's %q: %v", line, err)
		}
		r.Signal(syscall.SIGINT) // workshop, which the shell became
		res := r.Wait()
		if ignored&(1<<(syscall.SIGINT-1)) == 0 {
			t.Errorf("--init %v: the command's SigIgn is %#x: SIGINT, ignored when workshop started, is not ignored in the container", init, ignored)
		}
		if res.Code != 0 || !strings.Contains(res.Stdout, "done") {
			t.Errorf("--init %v: a SIGINT sent to a workshop started ignoring it: exit %d, stdout ending %q, stderr %q; want the run to go on to its end", init, res.Code, testbin.LastLines(res.Stdout, 1), res.Stderr)
		}
	}
	h.noContainers()
}

// A run without a command, from an image with no shell to start, is one
// sentence and 127 before anything is made: it made the container, and the
// shell's execve said only that /bin/sh was not in the root.
func TestFullRunWithoutACommandFromAnImageWithNoShell(t *testing.T) {
	h := newHost(t)
	tiny := testbin.TarFile(t, [2]string{"bin/", ""}, [2]string{"bin/ls", "#!\n"})
	if r := h.run("--quiet", "image", "import", tiny, "noshell:1"); r.Code != 0 {
		t.Fatalf("image import = %d:\n%s", r.Code, r.Stderr)
	}
	r := h.run("full", "run", "--image", "noshell:1")
	want := "workshop: image noshell:1 has neither /bin/bash nor /bin/sh, the shells a run without a command starts: give the command to run after --\n"
	if r.Code != 127 || r.Stderr != want {
		t.Errorf("full run --image noshell:1 = %d, stderr:\n%s\nwant 127 and %q alone", r.Code, r.Stderr, want)
	}
	h.noContainers()
}
