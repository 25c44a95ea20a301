package container_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/testbin"
	cgroups "github.com/workshop-dev/workshop/steps/04-cgroups"
	"golang.org/x/sys/unix"
)

// The integration tests run the real workshop binary as root: `workshop full
// run` with its image, overlay, cgroup, namespaces and pivot_root, and `ps`,
// `kill` and `diff` from other processes, each test in a state directory of
// its own (t.TempDir), so that nothing touches /var/lib/workshop.

func TestMain(m *testing.M) { testbin.Main(m) }

// host is one state directory, the machine as one test sees it.
type host struct {
	t     *testing.T
	state string
}

// newHost makes a state directory for a test and, when the test ends,
// removes whatever a failed run left: a test that fails must not leave a
// mount or a cgroup on the machine.
func newHost(t *testing.T) *host {
	t.Helper()
	testbin.NeedRoot(t)
	h := &host{t: t, state: t.TempDir()}
	t.Cleanup(h.sweep)
	return h
}

// args is a workshop command line in this state directory.
func (h *host) args(args ...string) []string {
	return append([]string{"--no-color", "--state-dir", h.state}, args...)
}

// run runs workshop to its end, stdin empty.
func (h *host) run(args ...string) testbin.Result {
	h.t.Helper()
	return testbin.Run(h.t, "", h.args(args...)...)
}

// full runs `workshop full run ARGS…` to its end.
func (h *host) full(args ...string) testbin.Result {
	h.t.Helper()
	return h.run(append([]string{"full", "run"}, args...)...)
}

// sweep undoes what a failed run left under this state directory: its
// mounts (lazily) and the cgroups of the containers recorded there.
func (h *host) sweep() {
	for _, m := range testbin.MountsUnder(h.t, h.state) {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	entries, _ := os.ReadDir(state.ContainersDir(h.state))
	for _, e := range entries {
		if cg, err := cgroups.Open(e.Name()); err == nil {
			cg.Kill()
			cg.Remove()
		}
	}
}

// containerLine is the narration's first word on a container: its id and
// name, its image, and where the image is unpacked.
var containerLine = regexp.MustCompile(`==> container ([0-9a-f]{12}) \(([^)]+)\) from image (\S+) \([0-9a-f]+\), unpacked once in (\S+)`)

// started is what the narration says of the container a run made.
type started struct {
	ID, Name, Image, Rootfs string
}

// startedOf reads the container's id, name, image and the image's rootfs
// from a narration.
func startedOf(t *testing.T, narration string) started {
	t.Helper()
	m := containerLine.FindStringSubmatch(narration)
	if m == nil {
		t.Fatalf("the narration never names the container:\n%s", narration)
	}
	return started{ID: m[1], Name: m[2], Image: m[3], Rootfs: m[4]}
}

// nothingLeft fails unless every trace of container id is gone: no mount
// under the state directory, no cgroup directory of that id in any
// hierarchy, no containers/<id>.
func (h *host) nothingLeft(id string) {
	h.t.Helper()
	if m := testbin.MountsUnder(h.t, h.state); len(m) > 0 {
		h.t.Errorf("mounts left under the state directory: %q", m)
	}
	if dirs := cgroupDirsOf(id); len(dirs) > 0 {
		h.t.Errorf("cgroup directories of container %s left: %q", id, dirs)
	}
	if _, err := os.Lstat(filepath.Join(state.ContainersDir(h.state), id)); !errors.Is(err, os.ErrNotExist) {
		h.t.Errorf("containers/%s is still there (lstat: %v)", id, err)
	}
}

// noContainers fails unless nothing at all is recorded under containers/.
func (h *host) noContainers() {
	h.t.Helper()
	entries, _ := os.ReadDir(state.ContainersDir(h.state))
	for _, e := range entries {
		h.t.Errorf("containers/%s is left", e.Name())
	}
	if m := testbin.MountsUnder(h.t, h.state); len(m) > 0 {
		h.t.Errorf("mounts left under the state directory: %q", m)
	}
}

// cgroupDirsOf lists the cgroup directories of container id that exist, in
// every v1 hierarchy and in the v2 tree (hybrid has both).
func cgroupDirsOf(id string) []string {
	var found []string
	for _, pattern := range []string{"/sys/fs/cgroup/workshop/" + id, "/sys/fs/cgroup/*/workshop/" + id} {
		m, _ := filepath.Glob(pattern)
		found = append(found, m...)
	}
	return found
}

// cgroupFile is the file of a controller's limit for process pid, found as a
// student finds it: /proc/PID/cgroup names the group, under the v1
// hierarchy of the controller (/sys/fs/cgroup/pids/…) or, where no v1
// hierarchy has it, in the v2 tree (/sys/fs/cgroup/…).
func cgroupFile(t *testing.T, pid int, controller, v1File, v2File string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	v2 := ""
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", f[1], f[2], v1File)
			}
		}
	}
	if v2 == "" {
		t.Fatalf("/proc/%d/cgroup names no group with %s:\n%s", pid, controller, b)
	}
	return filepath.Join("/sys/fs/cgroup", v2, v2File)
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// start starts `workshop ARGS…` in this state directory and leaves it running.
func (h *host) start(args ...string) *testbin.Running {
	h.t.Helper()
	return testbin.Start(h.t, "", testbin.Bin(h.t), h.args(args...)...)
}

// record waits until the run's state record names its container's pid, and
// returns it.
func (h *host) record(r *testbin.Running) *state.Run {
	h.t.Helper()
	line := r.Stderr.WaitFor(h.t, "==> container ")
	id := containerLine.FindStringSubmatch(line)
	if id == nil {
		h.t.Fatalf("cannot read the container's id in %q", line)
	}
	// The note that the container's first process is in its cgroup: it
	// was born there ("pid N was born in …", by CLONE_INTO_CGROUP on v2, by
	// a thread standing in the group on v1), or moved in where that could
	// not be done ("pid N is in … before its command runs"); each says
	// this, once the record names the pid.
	r.Stderr.WaitFor(h.t, "the limits hold from its first instruction")
	rec, err := state.Load(h.state, id[1])
	if err != nil {
		h.t.Fatal(err)
	}
	if rec.Pid == 0 {
		h.t.Fatalf("the record of %s has no pid although the container's process is in its cgroup", id[1])
	}
	return rec
}

// oneSentence fails unless the run exited with code and stderr holds
// exactly one "workshop: " sentence, with want in it, and no stack trace.
// (The narration may go on after it: what the run made is removed after the
// command failed.)
func oneSentence(t *testing.T, what string, r testbin.Result, code int, want string) {
	t.Helper()
	var said []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if strings.HasPrefix(l, "workshop: ") {
			said = append(said, l)
		}
	}
	if r.Code != code || len(said) != 1 || !strings.Contains(said[0], want) || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("%s = exit %d, said %q; want %d and one sentence with %q\nstderr:\n%s", what, r.Code, said, code, want, r.Stderr)
	}
}
