package lab

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/mountopt"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/units"
)

func init() { checkers[6] = checkStep6 }

// Step 6's exercise: find a running container's overlay and cgroup from the
// host, without `workshop ps`. With `sudo workshop full run --name lab6 --
// /bin/sh` open in one terminal, the student writes a file named
// from-the-host into the container's root through the overlay's mount point
// (found in /proc/mounts), and sets the pids.max of the container's cgroup
// (found through /proc/PID/cgroup) to 42, by hand.
const (
	lab6Name     = "lab6"
	lab6File     = "from-the-host"
	lab6PidsMax  = "42"
	lab6StartCmd = "sudo workshop full run --name lab6 -- /bin/sh"
	// defaultStateDir is workshop's --state-dir when none is given.
	defaultStateDir = "/var/lib/workshop"
)

// lab6Start is the command that starts the exercise's container, in the
// state dir the check looks at: the student who gave the check a
// --state-dir must give it to full run too, or the check finds nothing.
func lab6Start(stateDir string) string {
	// The default by either name: workshop resolves the state dir's
	// symlinks, and /var/lib/workshop may be one.
	if stateDir == "" || stateDir == defaultStateDir || stateDir == state.Resolve(defaultStateDir) {
		return lab6StartCmd
	}
	return strings.Replace(lab6StartCmd, "workshop ", "workshop --state-dir "+hint.Quote(stateDir)+" ", 1)
}

func checkStep6(o Options) (*Report, error) {
	r := &Report{Solution: lab6Solution(o.StateDir, nil, "")}
	rec, err := lab6Container(r, o.StateDir)
	if err != nil || rec == nil {
		return r, err
	}
	group, gerr := pidsGroup(rec.Pid)
	r.Solution = lab6Solution(o.StateDir, rec, group)
	if !lab6Overlay(r, rec) {
		return r, nil
	}
	if gerr != nil {
		r.missing("is the container still running? /proc/PID/cgroup lists its groups",
			"the cgroup of pid %d cannot be found: %v", rec.Pid, gerr)
		return r, nil
	}
	lab6Pids(r, rec, group, o.StateDir)
	return r, nil
}

// lab6Container finds the running step 6 container of the exercise: the one
// named lab6, or the only one running.
func lab6Container(r *Report, stateDir string) (*state.Run, error) {
	runs, err := state.List(stateDir)
	if err != nil {
		return nil, fmt.Errorf("read the containers in %s: %w", stateDir, err)
	}
	var running []*state.Run
	for _, run := range runs {
		if run.Step == 6 && run.Pid != 0 && run.Owned() {
			if run.Name == lab6Name {
				r.ok("container %s (%s) is running: its first process is pid %d on the host", run.ID, run.Name, run.Pid)
				return run, nil
			}
			running = append(running, run)
		}
	}
	switch len(running) {
	case 0:
		r.missing("in another terminal: "+lab6Start(stateDir)+", and leave its shell open while you work",
			"no step 6 container is running (none is recorded as running in %s)", state.ContainersDir(stateDir))
		return nil, nil
	case 1:
		run := running[0]
		r.ok("container %s (%s) is running: its first process is pid %d on the host (the exercise names it %s, but this one will do)", run.ID, run.Name, run.Pid, lab6Name)
		return run, nil
	default:
		r.missing("start yours with --name "+lab6Name+": "+lab6Start(stateDir),
			"%d step 6 containers are running and none is named %s: which one is yours?", len(running), lab6Name)
		return nil, nil
	}
}

// lab6Overlay checks that from-the-host went into the container's own layer,
// through the overlay, and reports whether it did.
func lab6Overlay(r *Report, rec *state.Run) bool {
	merged := mergedDir(rec)
	if rec.Lower != "" && present(filepath.Join(rec.Lower, lab6File)) {
		r.missing(fmt.Sprintf("overlayfs never writes into its lower layer: the image is shared by every container made from it. Remove %s and write into the overlay's mount point instead (in /proc/mounts, the line of type overlay whose upperdir is this container's: %s)",
			filepath.Join(rec.Lower, lab6File), merged),
			"%s is in the image's rootfs (%s, the overlay's lowerdir), not in the container's own layer", lab6File, rec.Lower)
		return false
	}
	inUpper := rec.Upper != "" && present(filepath.Join(rec.Upper, lab6File))
	// What the container itself sees: its root, through /proc/PID/root,
	// which reaches into its mount namespace.
	seen := present(fmt.Sprintf("/proc/%d/root/%s", rec.Pid, lab6File))
	switch {
	case inUpper && seen:
		r.ok("/%s is in the container's root, and in its own layer (upperdir %s), where a write through the mount point lands", lab6File, rec.Upper)
		return true
	case inUpper:
		r.missing(fmt.Sprintf("the file is in upperdir, but written behind overlayfs's back: a change made under a mounted overlay's layers may never show in it. Remove it and write through the mount point, %s", merged),
			"%s is in the upper layer (%s), but the container does not see /%s", lab6File, rec.Upper, lab6File)
	case seen:
		// A file written into upperdir, read through the overlay, then
		// removed from upperdir stays in the overlay's cache: writes there
		// then fail (ESTALE), and the container sees it still.
		r.missing("write it through the overlay's mount point, the container's root as the host sees it. If you changed upperdir or lowerdir by hand while the container ran, its overlay may be confused for good (the kernel's documentation calls such changes undefined: a Stale file handle says so): start a new container",
			"the container sees /%s, but it is not in its writable layer (%s)", lab6File, rec.Upper)
	default:
		r.missing("grep overlay /proc/mounts lists the container's root: its mount point, then lowerdir (the image), upperdir (the container's own layer) and workdir. Write the file into the mount point",
			"the container has no /%s yet", lab6File)
	}
	return false
}

// mergedDir is the overlay's mount point, the container's root as the host
// sees it: the run records it as its first mount.
func mergedDir(rec *state.Run) string {
	if len(rec.Mounts) > 0 {
		return rec.Mounts[0]
	}
	return filepath.Join(rec.Dir(), "rootfs")
}

// lab6Pids checks that pids.max of the container's own group is 42, and
// when it is not, whether 42 went somewhere else the student may have
// taken for it.
func lab6Pids(r *Report, rec *state.Run, group, stateDir string) {
	file := filepath.Join(group, "pids.max")
	got, err := readCgroupValue(file)
	if err != nil {
		r.missing("is the container still running? /proc/PID/cgroup names its groups", "cannot read %s: %v", file, err)
		return
	}
	if got == lab6PidsMax {
		// Set by the run's own --pids 42, it was not set by hand.
		if byFlag(rec.WorkshopPid, "--pids", func(v string) bool {
			// As the run read it: --pids 042 and " 42" are 42 too.
			n, err := units.ParsePids(v)
			return err == nil && strconv.FormatInt(n, 10) == lab6PidsMax
		}) {
			// The new container has a new id, and so a new group: the
			// old one's path would be gone when pasted.
			r.missing("end that container (exit its shell), start it again without --pids (sudo workshop full run --name lab6 -- /bin/sh), then write 42 yourself into "+
				filepath.Join(filepath.Dir(group), "NEW-ID", "pids.max")+", NEW-ID being the new container's id (sudo workshop ps shows it): the old id's group goes with the old container",
				"pids.max of its cgroup is %s, but the run set it itself (its command line has --pids %s): the exercise is to set it by hand", lab6PidsMax, lab6PidsMax)
			return
		}
		r.ok("pids.max of its cgroup (%s) is %s", file, lab6PidsMax)
		return
	}
	// Where else 42 may have gone, by a student who took another group
	// for the container's.
	places := []place{{filepath.Dir(group), "the parent group of every workshop container, not the container's own"}}
	if g, err := pidsGroup(rec.WorkshopPid); err == nil && g != group {
		places = append(places, place{g, fmt.Sprintf("the group of the workshop process (pid %d), not of the container's first process (pid %d)", rec.WorkshopPid, rec.Pid)})
	}
	runs, _ := state.List(stateDir)
	for _, other := range runs {
		if other.ID == rec.ID || other.Pid == 0 || !other.Owned() {
			continue
		}
		if g, err := pidsGroup(other.Pid); err == nil && g != group {
			places = append(places, place{g, fmt.Sprintf("the group of container %s (%s), not of %s", other.ID, other.Name, rec.Name)})
		}
	}
	hint := fmt.Sprintf("cat /proc/%d/cgroup names the container's group: the pids line on cgroup v1 (the file is under /sys/fs/cgroup/pids/), the 0:: line on v2 (under /sys/fs/cgroup/). Write 42 into the pids.max of that directory", rec.Pid)
	if p, ok := placeHolding(lab6PidsMax, places); ok {
		hint = fmt.Sprintf("42 went into %s, %s: put that back (echo max > it) and write 42 into %s", filepath.Join(p.dir, "pids.max"), p.what, file)
	}
	r.missing(hint, "pids.max of the container's cgroup (%s) is %s, not %s", file, got, lab6PidsMax)
}

// place is a cgroup directory, and what it is to the student.
type place struct{ dir, what string }

// placeHolding returns the first place whose pids.max holds value.
func placeHolding(value string, places []place) (place, bool) {
	for _, p := range places {
		if v, err := readCgroupValue(filepath.Join(p.dir, "pids.max")); err == nil && v == value {
			return p, true
		}
	}
	return place{}, false
}

// lab6Solution is one way to do the exercise, with this container's own
// paths once it is running.
func lab6Solution(stateDir string, rec *state.Run, group string) string {
	if stateDir == "" {
		stateDir = defaultStateDir
	}
	pid, mnt := "4242", filepath.Join(state.ContainersDir(stateDir), "<id>", "rootfs")
	cg, file := "/sys/fs/cgroup/pids/workshop/<id> on v1, /sys/fs/cgroup/workshop/<id> on v2", "<that group>/pids.max"
	// The paths to type, quoted for a shell where they need it: a real
	// one, or the pattern's where the state dir needs quoting (and then
	// its <id> is quoted too, where a shell would read a redirection).
	tee := filepath.Join(mnt, lab6File)
	if hint.Quote(stateDir) != stateDir {
		tee = hint.Quote(tee)
	}
	if rec != nil {
		pid, mnt = fmt.Sprint(rec.Pid), mergedDir(rec)
		tee = hint.Quote(filepath.Join(mnt, lab6File))
	}
	if group != "" {
		cg, file = group, hint.Quote(filepath.Join(group, "pids.max"))
	}
	return fmt.Sprintf(`  In one terminal (its narration says: the child is pid %s on the host):
    %s
  In another:
    grep overlay /proc/mounts
        (the container's root is the mount point %s)
    echo hello | sudo tee %s
    cat /proc/%s/cgroup
        (it names the container's group: %s)
    echo 42 | sudo tee %s
  Back in the container's shell:
    cat /%s`, pid, lab6Start(stateDir), mnt, tee, pid, cg, file, lab6File)
}

// pidsGroup is the directory of the cgroup that limits the number of
// processes of pid, found as the student finds it: /proc/PID/cgroup names
// the group, relative to the hierarchy's mount point, which
// /proc/self/mountinfo gives (the v1 hierarchy with the pids controller, or
// else the cgroup2 tree).
func pidsGroup(pid int) (string, error) {
	procCgroup, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer mounts.Close()
	v1, v2, err := cgroupMountPoints(mounts, "pids")
	if err != nil {
		return "", err
	}
	return cgroupDirOf(string(procCgroup), "pids", v1, v2)
}

// cgroupDirOf reads a /proc/PID/cgroup for the group of controller: a v1 line
// ("8:pids:/workshop/ID") when a v1 hierarchy has the controller, else the
// v2 line ("0::/workshop/ID"); and joins it to that hierarchy's mount point.
func cgroupDirOf(procCgroup, controller, v1Mount, v2Mount string) (string, error) {
	v2Path := ""
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2Path = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == controller && v1Mount != "" {
				return filepath.Join(v1Mount, f[2]), nil
			}
		}
	}
	if v2Path != "" && v2Mount != "" && v1Mount == "" {
		return filepath.Join(v2Mount, v2Path), nil
	}
	return "", fmt.Errorf("no %s controller in its cgroups", controller)
}

// cgroupMountPoints finds, in a mountinfo, the mount point of the v1 hierarchy
// that has controller, and that of the cgroup2 tree.
func cgroupMountPoints(mountinfo io.Reader, controller string) (v1, v2 string, err error) {
	mounts, err := mountopt.Parse(mountinfo)
	if err != nil {
		return "", "", err
	}
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			if v2 == "" {
				v2 = m.Point
			}
		case "cgroup":
			if v1 == "" && slices.Contains(m.SuperOptions, controller) {
				v1 = m.Point
			}
		}
	}
	return v1, v2, nil
}

// readCgroupValue reads a one-line cgroup file.
func readCgroupValue(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func present(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// byFlag reports whether the command line of process pid (a running
// workshop) gives flag a value that is (as --flag VALUE or --flag=VALUE;
// the last one given counts, as for any flag).
func byFlag(pid int, flag string, is func(string) bool) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	given, found := "", false
	for i, arg := range args {
		if arg == "--" {
			break // the container's command from here on
		}
		switch {
		case arg == flag && i+1 < len(args):
			given, found = args[i+1], true
		case strings.HasPrefix(arg, flag+"="):
			given, found = strings.TrimPrefix(arg, flag+"="), true
		}
	}
	return found && is(given)
}
