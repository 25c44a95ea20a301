// Command leastgo is the benchmark's measure of what the work costs
// in Go with its init re-executed, as workshop's design has it: it runs a
// command the way `workshop full run --memory 64M --pids 64` does (seven
// namespaces, a cgroup v1 memory and pids limit the child is born under, an
// overlay root, pivot_root, /proc, a /dev of bind mounts with /dev/shm and
// /dev/pts) and does nothing else: no narration, no record for `ps`, no freezer, no signal handling,
// no checks beyond the errors of its calls. It is not a runtime; it is the
// floor that workshop's own run is measured against (bench/fullrun).
//
// Usage (as root, cgroup v1 memory and pids hierarchies):
//
//	leastgo ROOT LAYERDIR COMMAND
//
// LAYERDIR must not exist; it is made for the run and removed after it.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/workshop-dev/workshop/bench/internal/floor"
)

// initArg is the first argument of the re-executed init.
const initArg = "__leastgo_init"

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == initArg:
		err = initMain(os.Args[2], os.Args[3])
	case len(os.Args) == 4:
		var code int
		code, err = run(os.Args[1], os.Args[2], os.Args[3])
		if err == nil {
			os.Exit(code)
		}
	default:
		err = fmt.Errorf("usage: leastgo ROOT LAYERDIR COMMAND")
	}
	fmt.Fprintln(os.Stderr, "leastgo:", err)
	os.Exit(125)
}

func run(root, layer, command string) (int, error) {
	setup, err := floor.Prepare("leastgo", root, layer)
	if err != nil {
		return 0, err
	}
	defer setup.Undo()

	// As workshop does on v1: this thread steps into the groups, clones
	// the child there, and steps back.
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWPID | syscall.CLONE_NEWUSER | syscall.CLONE_NEWCGROUP,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	runtime.LockOSThread()
	if err := setup.Enter(); err != nil {
		runtime.UnlockOSThread()
		return 0, err
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"leastgo", initArg, setup.Merged, command},
		&syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: attr})
	setup.Leave()
	runtime.UnlockOSThread()
	if err != nil {
		return 0, fmt.Errorf("start the init: %w", err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// initMain is the re-executed init, in the new namespaces: the root, then
// the command.
func initMain(merged, command string) error {
	steps := []struct {
		what string
		do   func() error
	}{
		{"sethostname", func() error { return syscall.Sethostname([]byte("box")) }},
		{"make / private", func() error { return syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "") }},
		{"bind the root", func() error { return syscall.Mount(merged, merged, "", syscall.MS_BIND|syscall.MS_REC, "") }},
		{"mount /proc", func() error {
			return syscall.Mount("proc", merged+"/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
		}},
		{"mount /dev", func() error {
			return syscall.Mount("tmpfs", merged+"/dev", "tmpfs", syscall.MS_NOSUID|syscall.MS_STRICTATIME, "mode=755,size=65536k")
		}},
		{"bind devices", func() error {
			// No tty: the benchmark's runs have no terminal, and
			// workshop's container then gets none.
			for _, d := range []string{"null", "zero", "full", "random", "urandom"} {
				fd, err := syscall.Open(merged+"/dev/"+d, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o666)
				if err != nil {
					return err
				}
				syscall.Close(fd)
				if err := syscall.Mount("/dev/"+d, merged+"/dev/"+d, "", syscall.MS_BIND, ""); err != nil {
					return err
				}
			}
			return nil
		}},
		{"mount /dev/shm", func() error {
			if err := syscall.Mkdir(merged+"/dev/shm", 0o1777); err != nil {
				return err
			}
			return syscall.Mount("shm", merged+"/dev/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=1777,size=65536k")
		}},
		{"mount /dev/pts", func() error {
			if err := syscall.Mkdir(merged+"/dev/pts", 0o755); err != nil {
				return err
			}
			if err := syscall.Mount("devpts", merged+"/dev/pts", "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
				return err
			}
			return syscall.Symlink("pts/ptmx", merged+"/dev/ptmx")
		}},
		{"pivot_root", func() error { return syscall.PivotRoot(merged, merged+"/.oldroot") }},
		{"chdir", func() error { return syscall.Chdir("/") }},
		{"detach the old root", func() error { return syscall.Unmount("/.oldroot", syscall.MNT_DETACH) }},
		{"rmdir the old root", func() error { return syscall.Rmdir("/.oldroot") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	err := syscall.Exec(command, []string{command}, os.Environ())
	return fmt.Errorf("exec %s: %w", command, err)
}
