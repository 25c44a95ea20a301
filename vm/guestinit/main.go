// Command guestinit is PID 1 of the cgroup v2 test VM (vm/run-cgroup-v2).
//
// It mounts what a Linux system needs (proc, sys, dev, cgroup2 on
// /sys/fs/cgroup: a real v2 host), runs every test binary in /tests with
// CI=true, and hands the worst exit status back to the host by writing it
// to I/O port 0xf4, where qemu's isa-debug-exit device turns it into qemu's
// own exit status ((status << 1) | 1). Busybox cannot write an I/O port, and
// this is a dozen lines of Go. An arm64 guest (qemu's virt board) has no
// I/O ports: there the line it prints before it powers off is the report,
// read from the console by the host.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// debugExitPort is the iobase given to qemu's -device isa-debug-exit.
const debugExitPort = 0xf4

func main() {
	if os.Getenv(stageEnv) == "" {
		// First stage, on the initramfs: move to a tmpfs and start again.
		err := switchRoot()
		fmt.Printf("==> vm: cannot leave the initramfs for a tmpfs root: %v\n", err)
		report(125)
		return
	}
	status := run()
	fmt.Printf("==> vm: tests exit status %d; powering off\n", status)
	// Let the serial console drain before the machine stops.
	time.Sleep(300 * time.Millisecond)
	report(status)
	// Reached only when the port did not stop the machine.
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// stageEnv marks the second stage of init, on the tmpfs root.
const stageEnv = "WORKSHOP_VM_STAGE"

// switchRoot copies the initramfs into a tmpfs, makes it the root and
// re-executes init there, as switch_root(8) does. The initramfs itself is
// the kernel's rootfs, which pivot_root(2) refuses to move (EINVAL): on a
// tmpfs root, the step 6 tests can pivot_root as on a real machine.
func switchRoot() error {
	const newRoot = "/newroot"
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", newRoot, err)
	}
	err := filepath.Walk("/", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == "/" {
			return nil
		}
		if p == newRoot || p == "/proc" || p == "/sys" || p == "/dev" {
			return filepath.SkipDir
		}
		dst := filepath.Join(newRoot, p)
		switch mode := fi.Mode(); {
		case mode.IsDir():
			return os.Mkdir(dst, mode.Perm()|os.ModeSticky&mode)
		case mode&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case mode.IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, data, mode.Perm())
		}
		return nil // device nodes: devtmpfs provides them in stage 2
	})
	if err != nil {
		return fmt.Errorf("copy the initramfs: %w", err)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp"} {
		os.MkdirAll(filepath.Join(newRoot, d), 0o755)
	}
	os.Chmod(filepath.Join(newRoot, "tmp"), 0o1777)
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s onto /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return unix.Exec("/init", []string{"/init"}, append(os.Environ(), stageEnv+"=2"))
}

func run() int {
	for _, m := range []struct{ source, target, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		// Pseudo-terminals, as a booted system has them: the tests of
		// terminal handling open /dev/ptmx (ENODEV without a devpts).
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620"},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"},
	} {
		os.MkdirAll(m.target, 0o755)
		if err := unix.Mount(m.source, m.target, m.fstype, 0, m.data); err != nil {
			fmt.Printf("==> vm: mount %s on %s: %v\n", m.fstype, m.target, err)
			return 125
		}
	}
	// The links a booted system has in /dev (systemd makes them at boot;
	// devtmpfs does not): a test writes to /dev/stdout, as a student may.
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, "/dev/"+name); err != nil && !os.IsExist(err) {
			fmt.Printf("==> vm: link /dev/%s: %v\n", name, err)
			return 125
		}
	}
	// The kernel gave PID 1 the console if /dev/console was in the
	// initramfs; make sure of it now that devtmpfs is there.
	if f, err := os.OpenFile("/dev/console", os.O_RDWR, 0); err == nil {
		for fd := 0; fd < 3; fd++ {
			unix.Dup2(int(f.Fd()), fd)
		}
	}
	// Step 6 needs overlayfs, a module in Debian's kernel.
	for _, ko := range globs("/lib/modules/*.ko") {
		if out, err := exec.Command("/bin/busybox", "insmod", ko).CombinedOutput(); err != nil {
			fmt.Printf("==> vm: insmod %s: %v %s\n", ko, err, out)
		}
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	controllers, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	fmt.Printf("==> vm: Linux %s, cgroup2 on /sys/fs/cgroup with: %s\n", cstr(uts.Release[:]), strings.TrimSpace(string(controllers)))

	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "TMPDIR=/tmp", "CI=true", "WORKSHOP_BIN=/workshop", "LANG=C.UTF-8",
	}
	extra := strings.Fields(readFile("/tests/args"))
	worst := 0
	tests := globs("/tests/*.test")
	if len(tests) == 0 {
		fmt.Println("==> vm: no test binary in /tests")
		return 125
	}
	for _, bin := range tests {
		start := time.Now()
		fmt.Printf("==> vm: %s\n", filepath.Base(bin))
		// A test that hangs in its own code dumps every goroutine's stack
		// (where it hangs) and fails after 10 minutes, instead of holding
		// the VM until its timeout with nothing said; a guest kernel that
		// stops (no timer runs) is caught only by the host's timeout.
		// (Flags in /tests/args come after: a later -test.timeout wins.)
		cmd := exec.Command(bin, append([]string{"-test.v", "-test.count=1", "-test.timeout=10m"}, extra...)...)
		cmd.Dir = "/tmp"
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		status := 0
		if err := cmd.Run(); err != nil {
			status = 1
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
				status = ee.ExitCode()
			}
			fmt.Printf("==> vm: %s failed: %v\n", filepath.Base(bin), err)
		}
		fmt.Printf("==> vm: %s exit %d after %s\n", filepath.Base(bin), status, time.Since(start).Round(time.Second))
		// What a test binary left running slows the ones after it (the
		// guest is emulated, one CPU's worth): said, so that a test that
		// fails on time after it can be read so.
		for _, p := range leftRunning() {
			fmt.Printf("==> vm: left running after %s: %s\n", filepath.Base(bin), p)
		}
		if status > worst {
			worst = status
		}
	}
	return worst
}

// report writes status to the isa-debug-exit port: /dev/port is the I/O
// port space, byte for byte, so a write at offset 0xf4 is an outb there.
func report(status int) {
	if runtime.GOARCH != "amd64" {
		return // no isa-debug-exit: the console line is the report
	}
	f, err := os.OpenFile("/dev/port", os.O_WRONLY, 0)
	if err != nil {
		fmt.Printf("==> vm: open /dev/port: %v\n", err)
		return
	}
	defer f.Close()
	if status > 127 {
		status = 127 // qemu exits with (status << 1) | 1, and must stay a byte
	}
	if _, err := f.WriteAt([]byte{byte(status)}, debugExitPort); err != nil {
		fmt.Printf("==> vm: write port %#x: %v\n", debugExitPort, err)
	}
}

// leftRunning lists the processes other than this one (kernel threads
// have an empty command line), zombies left out: reaped here first, as
// their init.
func leftRunning() []string {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			break
		}
	}
	var left []string
	for _, d := range globs("/proc/[0-9]*") {
		if d == "/proc/1" {
			continue
		}
		cmdline := strings.TrimRight(strings.ReplaceAll(readFile(d+"/cmdline"), "\x00", " "), " ")
		if cmdline == "" {
			continue
		}
		left = append(left, fmt.Sprintf("pid %s: %s", filepath.Base(d), cmdline))
	}
	return left
}

func globs(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	sort.Strings(m)
	return m
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
