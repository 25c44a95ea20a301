package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/workshop-dev/workshop/internal/testbin"
	"golang.org/x/sys/unix"
)

func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "9"}, "there is no step 9"},
		{[]string{"stpe", "1"}, `unknown command "stpe" for "workshop": did you mean 'sudo workshop step 1'?`},
		// The command's own flags before a -- that is missing.
		{[]string{"full", "run", "/bin/sh", "-c", "echo hi"}, "put the command after --: sudo workshop full run [flags] -- /bin/sh -c 'echo hi'"},
		{[]string{"step", "3", "--hostname", "x", "/bin/echo", "-n", "hi"}, "put the command after --: sudo workshop step 3 [flags] -- /bin/echo -n hi"},
		// A flag's value that is the command's word too is the flag's.
		{[]string{"step", "3", "--hostname", "sh", "sh", "-c", "it's"}, `put the command after --: sudo workshop step 3 [flags] -- sh -c 'it'\''s'`},
		// A blank word begins every command: no suggestion for it.
		{[]string{" "}, `unknown command " " for "workshop" (see 'workshop --help')`},
		{[]string{"step", "one"}, `"one" is not a step number`},
		{[]string{"step", "01"}, `"01": write the step's number as 1: 'sudo workshop step 1'`},
		{[]string{"step", "+6"}, `"+6": write the step's number as 6`},
		{[]string{"step", " 3 "}, `" 3 ": write the step's number as 3`},
		{[]string{"step", "0"}, "there is no step 0"},
		// A negative number is the step's word, not a flag: not the
		// word after it.
		{[]string{"step", "-1", "--state-dir", "/tmp/x"}, "there is no step -1"},
		{[]string{"step", "-1", "--", "/bin/true"}, "there is no step -1"},
		{[]string{"step", "1", "--", "/bin/true"}, "step 1 runs no command of yours"},
		{[]string{"--state-dir", "", "ps"}, "--state-dir is empty"},
		{[]string{"--state-dir", " ", "step", "1"}, "--state-dir is empty"},
		{[]string{"--state-dir", "/dev/null", "ps"}, "--state-dir /dev/null is not a directory"},
		{[]string{"step", "2", "--", ""}, "the command after -- is empty"},
		{[]string{"step", "3", "--", " "}, "the command after -- is empty"},
		{[]string{"full", "run", "--", ""}, "the command after -- is empty"},
		{[]string{"step", "2", "/bin/ls"}, "put the command after --"},
		// The suggestion is pasted into a root shell: each word quoted,
		// whichever check made it.
		{[]string{"step", "2", "/bin/bash", "-c", "echo two"}, "put the command after --: sudo workshop step 2 [flags] -- /bin/bash -c 'echo two'"},
		{[]string{"step", "3", "/bin/echo", "a b;rm x"}, "put the command after --: sudo workshop step 3 [flags] -- /bin/echo 'a b;rm x'"},
		{[]string{"step", "1", "2"}, `"2": one step at a time: 'sudo workshop step 2' runs step 2 (step 1 takes no command)`},
		{[]string{"step", "1", "echo", "a;b"}, "step 2 runs a command (sudo workshop step 2 -- echo 'a;b')"},
		{[]string{"full", "run", "--hostname", "a b", "--", "/bin/true"}, `--hostname "a b" is not a hostname`},
		{[]string{"--state-dir", "/dev/null/state", "ps"}, "--state-dir /dev/null/state: a part of that path is a file"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--state-dir", "/tmp/" + strings.Repeat("s", 300), "ps"}, `--state-dir: a name in that path, "ssssssssssssssssssss"…, is 300 bytes, longer than a name can be (255)`},
		{[]string{"--state-dir", "/sys/fs/cgroup", "ps"}, "--state-dir /sys/fs/cgroup is under /sys, the kernel's view of itself, not a place to keep files"},
		{[]string{"--state-dir", "/proc/x/../", "ps"}, "--state-dir /proc is under /proc"},
		{[]string{"--state-dir", "/tmp/bad\xffname", "ps"}, `--state-dir "/tmp/bad\xffname" is not UTF-8 text`},
		{[]string{"full", "run", "--init=maybe", "--", "/bin/true"}, `--init takes no value, or true or false: "maybe" is neither (see 'workshop full run --help')`},
		{[]string{"--quiet=2", "ps"}, `--quiet takes no value, or true or false: "2" is neither`},
		{[]string{"step", "7", "--timeout", "1ms", "--", "/bin/true"}, "there is no step 7: steps are numbered 1 to 6"},
		{[]string{"step", "three", "--ns", "pid"}, `"three" is not a step number`},
		// A flag before the step's number: pflag stops at it, and the
		// number is still the mistake to name.
		{[]string{"step", "--timeout", "1s", "7", "--", "/bin/true"}, "there is no step 7: steps are numbered 1 to 6"},
		{[]string{"-q", "step", "-q", "--ns=pid", "eight"}, `"eight" is not a step number`},
		{[]string{"step", "--bogus", "2"}, "unknown flag: --bogus"},
		{[]string{"step", "--init", "7", "--", "/bin/true"}, "there is no step 7"},
		{[]string{"--state-dir", "step", "step", "--gzip", "9"}, "there is no step 9"},
		// What workshop keeps in its state dir is no step's root.
		{[]string{"--state-dir", "/tmp/st", "step", "2", "--root", "/tmp/st", "--", "/bin/true"}, "--root /tmp/st is workshop's state dir: give a directory of its own"},
		{[]string{"--state-dir", "/tmp/st", "step", "1", "--root", "/tmp/st/images/0123/rootfs"}, "--root /tmp/st/images/0123/rootfs is in workshop's image store (/tmp/st/images), which no step may write into"},
		{[]string{"--state-dir", "/tmp/st", "step", "3", "--root", "/tmp/st/containers/x/rootfs/", "--", "/bin/true"}, "is in workshop's containers' directory (/tmp/st/containers)"},
		{[]string{"--state-dir", "/tmp/st", "step", "4", "--root", "/tmp/st/./images", "--", "/bin/true"}, "in workshop's image store"},
		// Nor a directory that holds it: the container would see the
		// images and records.
		{[]string{"--state-dir", "/tmp/st/state", "step", "2", "--root", "/tmp/st", "--", "/bin/true"}, "--root /tmp/st holds workshop's state dir (/tmp/st/state): a container there would see workshop's images and records"},
		{[]string{"--state-dir", "/tmp/st/a/b", "step", "3", "--root", "/tmp/st/a/", "--", "/bin/true"}, "--root /tmp/st/a/ holds workshop's state dir"},
		// Nor is the host's own root.
		{[]string{"step", "3", "--root", "/", "--", "/bin/true"}, "--root / is the host's own root: a container's root is a directory of its own"},
		{[]string{"step", "2", "--root", "/tmp/..", "--", "/bin/true"}, "--root /tmp/.. is the host's own root"},
		// Nor one of its own directories, which step 2 would fill.
		{[]string{"step", "2", "--root", "/usr/local/", "--", "/bin/true"}, "--root /usr/local/ is /usr/local, one of this machine's own directories: the steps would copy programs"},
		{[]string{"step", "3", "--root", "/etc/../usr", "--", "/bin/true"}, "--root /etc/../usr is /usr, one of this machine's own"},
		{[]string{"step", "5", "--root", "/home/student", "--", "/bin/true"}, "--root /home/student is a home directory (/home/student)"},
		{[]string{"step", "4", "--root", "/root", "--", "/bin/true"}, "--root /root is /root, one of this machine's own"},
		{[]string{"step", "2", "--root", "/dev/shm", "--", "/bin/true"}, "--root /dev/shm is /dev/shm, one of this machine's own directories"},
		{[]string{"step", "2", "--root", "/dev/mqueue/r", "--", "/bin/true"}, "--root /dev/mqueue/r is under /dev, among the machine's device nodes"},
		{[]string{"step", "1", "--root", "/dev/pts"}, "--root /dev/pts is under /dev, among the machine's device nodes"},
		{[]string{"step", "2", "--root", "/proc", "--", "/bin/true"}, "--root /proc is under /proc, the kernel's view of itself, where no root can be made"},
		{[]string{"step", "3", "--root", "/sys/fs/cgroup/x", "--", "/bin/true"}, "--root /sys/fs/cgroup/x is under /sys"},
		{[]string{"-q", "--explain", "step", "2", "--", "/bin/true"}, "--quiet and --explain ask for opposite things"},
		{[]string{"step", "3", "--memory", "80M", "--", "/bin/true"}, "--memory is a limit, which only a cgroup sets, and workshop step 3 has none; step 4 and full run take it ('sudo workshop step 4 --memory …', 'sudo workshop full run --memory …')"},
		{[]string{"step", "5", "--pids=5", "--", "/bin/true"}, "--pids is a limit, which only a cgroup sets, and workshop step 5 has none"},
		{[]string{"lab", "1;touch x", "check", "extra"}, `lab takes a step number and 'check', and nothing after them: sudo workshop lab '1;touch x' check`},
		{[]string{"lab", "-1"}, "there is no step -1: steps are numbered 1 to 6"},
		{[]string{"lab", "-2", "check"}, "there is no step -2"},
		{[]string{"lab", "--solution", "-3", "check"}, "there is no step -3"},
		// A negative word after the step is not the step.
		{[]string{"lab", "2", "-1"}, "unknown shorthand flag: '1' in -1"},
		{[]string{"lab", "1", "check", "extra"}, `"extra": lab takes a step number and 'check', and nothing after them: sudo workshop lab 1 check`},
		{[]string{"steps", "extra"}, `steps takes no arguments, only its flags: "extra" is one too many (see 'workshop steps --help')`},
		{[]string{"ps", "extra"}, `ps takes no arguments, only its flags: "extra" is one too many`},
		{[]string{"doctor", "extra"}, `doctor takes no arguments, only its flags`},
		{[]string{"step"}, "which step?"},
		{[]string{"lab", "4", "check", "--cgroup", "../memory"}, `--cgroup "../memory": give the name of the group`},
		{[]string{"lab", "4", "check", "--cgroup", ""}, `--cgroup is empty: give it a value`},
		// An empty value would silently mean the default (no limit).
		{[]string{"full", "run", "--memory", "", "--", "/bin/true"}, "--memory is empty: give it a value"},
		{[]string{"step", "4", "--timeout", " ", "--", "/bin/true"}, "--timeout is empty"},
		{[]string{"lab", "1", "check", "--dir", ""}, "--dir is empty"},
		{[]string{"lab", "4", "check", "--cgroup", "a b"}, `--cgroup "a b": the check's hints put the name in commands to paste as it is`},
		{[]string{"lab", "4", "check", "--cgroup", "x;rm"}, `--cgroup "x;rm": the check's hints put the name in commands to paste as it is`},
		{[]string{"lab", "1", "--solution"}, "--solution goes with check, which shows it beside what is missing: sudo workshop lab 1 check --solution"},
		{[]string{"lab", "9"}, "there is no step 9"},
		{[]string{"lab", "check", "1"}, "the step number comes first: sudo workshop lab 1 check"},
		{[]string{"completion", "bogus"}, `completion "bogus": give a shell`},
		// A flag without its value takes the -- after it.
		{[]string{"full", "run", "--name", "--", "/bin/true"}, "--name needs a value: it took the -- that follows it"},
		{[]string{"step", "3", "--ns", "--", "/bin/true"}, "--ns needs a value"},
		{[]string{"step", "2", "--bin", "ls", "--bin", "--", "/bin/true"}, "--bin needs a value: it took the -- that follows it (write --bin VALUE -- COMMAND)"},
		{[]string{"step", "2", "--bin=", "--", "/bin/true"}, "--bin is empty"},
		{[]string{"step", "3", "--ns=mount,", "--", "/bin/true"}, "--ns has an empty item in its list (mount,)"},
		{[]string{"kill", "-s", "--", "abc"}, "--signal needs a value: it took the -- that follows it\n"},
		// Words the root does not know, and help on them.
		{[]string{"--", "ps"}, `unknown command "ps" for "workshop"`},
		{[]string{""}, `unknown command "" for "workshop"`},
		{[]string{"help", "foo"}, `no help for "foo"`},
		{[]string{"help", "image", "foo"}, `no help for "image foo"`},
		{[]string{"step", "4", "--timeout", "0", "--", "/bin/true"}, "--timeout 0: give a time longer than 0"},
		{[]string{"step", "4", "--timeout", "10", "--", "/bin/true"}, "--timeout 10: give its unit too, as in 10s"},
		{[]string{"full", "run", "--timeout", "999999999h", "--", "/bin/true"}, "--timeout 999999999h: too long"},
		{[]string{"full", "run", "--timeout", "1x", "--", "/bin/true"}, "--timeout 1x: give a duration such as 10s"},
		{[]string{"step", "4", "--timeout", "-10", "--", "/bin/true"}, "--timeout -10: give a time longer than 0"},
		{[]string{"step", "4", "--timeout", "1.2.3h", "--", "/bin/true"}, "--timeout 1.2.3h: give a duration such as 10s"},
		{[]string{"step", "4", "--timeout", "..h", "--", "/bin/true"}, "--timeout ..h: give a duration such as 10s"},
		{[]string{"step", "4", "--timeout", "0.0", "--", "/bin/true"}, "--timeout 0.0: give a time longer than 0"},
		{[]string{"step", "4", "--timeout", "999999999999", "--", "/bin/true"}, "--timeout 999999999999: give its unit too (s, m or h), and a shorter time"},
		{[]string{"full", "run", "--hostname", strings.Repeat("a", 64), "--", "/bin/true"}, "each part between dots has at most 63 characters (RFC 1123), and \"aaaaaaaaaaaa…\" has 64"},
		{[]string{"full", "run", "--hostname", strings.Repeat("a", 65), "--", "/bin/true"}, "longer than the kernel's 64 characters"},
		{[]string{"step", "2", "--bin", "/etc", "--", "/bin/true"}, "--bin /etc: it is a directory on the host, not a program"},
		{[]string{"step", "2", "--bin", "/dev/null", "--", "/bin/true"}, "--bin /dev/null: it is not a regular file on the host"},
		{[]string{"image", "export", "base", ""}, "FILE is empty (an unset variable?); usage: workshop image export NAME[:TAG] FILE"},
		{[]string{"image", "import", " ", "y"}, "FILE is empty (an unset variable?); usage: workshop image import FILE NAME[:TAG]"},
	} {
		r := testbin.Run(t, "", tc.args...)
		if r.Code != 125 {
			t.Errorf("workshop %q exit = %d, want 125", tc.args, r.Code)
		}
		if !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("workshop %q stderr = %q, want one sentence with %q", tc.args, r.Stderr, tc.want)
		}
	}
}

// The version is printed whatever the state dir; a word after --version is
// refused (cobra printed the version first and exited 0).
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"--state-dir", "", "--version"}} {
		r := testbin.Run(t, "", args...)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "workshop version ") || r.Stderr != "" {
			t.Errorf("workshop %q = %d %q %q", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	r := testbin.Run(t, "", "--version", "extra")
	if r.Code != 125 || r.Stdout != "" || !strings.Contains(r.Stderr, "--version takes no words after it") {
		t.Errorf("workshop --version extra = %d %q %q, want 125 and one sentence", r.Code, r.Stdout, r.Stderr)
	}
}

// A lab's number with spaces around it (a quoted "$N ") is its number, as
// a size or a count is.
func TestLabNumberWithSpaces(t *testing.T) {
	want := testbin.Run(t, "", "lab", "2")
	r := testbin.Run(t, "", "lab", " 2 ")
	if r.Code != 0 || want.Code != 0 || r.Stdout != want.Stdout || !strings.Contains(r.Stdout, "Exercise") {
		t.Errorf("lab ' 2 ' = %d %q %q; want lab 2's exercise, as 'lab 2' prints it", r.Code, r.Stdout, r.Stderr)
	}
}

// A bad --hostname is refused by steps 3, 4 and 5 as by full run: before
// anything is made (step 3 used to fill its root with step 2 first).
func TestBadHostnameMakesNothing(t *testing.T) {
	for _, step := range []string{"3", "4", "5"} {
		state := filepath.Join(t.TempDir(), "state")
		r := testbin.Run(t, "", "--state-dir", state, "step", step, "--hostname", "a b", "--", "/bin/true")
		if r.Code != 125 || !strings.Contains(r.Stderr, `--hostname "a b" is not a hostname`) {
			t.Errorf("step %s --hostname 'a b' = %d, stderr %q; want 125 and one sentence", step, r.Code, r.Stderr)
		}
		if _, err := os.Stat(state); !os.IsNotExist(err) {
			t.Errorf("step %s with a bad --hostname made %s (%v)", step, state, err)
		}
	}
}

// Too low a limit of open files ('ulimit -n 6') is one sentence and 125:
// Go's runtime died on its first pollable file with every goroutine's
// stack (doctor, full run, image ls, clean), and at 12 a run failed
// halfway, leaving its record's directory.
func TestTooFewOpenFiles(t *testing.T) {
	// Help opens nothing, and is given whatever the limit.
	for _, args := range [][]string{{"help", "steps"}, {"steps", "--help"}, {"completion", "bash"}} {
		cmd := exec.Command("/bin/sh", append([]string{"-c", `ulimit -n 12 && exec "$@"`, "sh", testbin.Bin(t)}, args...)...)
		if r := testbin.RunCmd(t, cmd, time.Minute); r.Code != 0 {
			t.Errorf("%q under ulimit -n 12 = %d, stderr %q; want its help", args, r.Code, r.Stderr)
		}
	}
	for _, args := range [][]string{{"doctor"}, {"full", "run", "--", "/bin/true"}, {"image", "ls"}} {
		cmd := exec.Command("/bin/sh", append([]string{"-c", `ulimit -n 12 && exec "$@"`, "sh", testbin.Bin(t), "--state-dir", t.TempDir()}, args...)...)
		r := testbin.RunCmd(t, cmd, time.Minute)
		if r.Code != 125 || !strings.Contains(r.Stderr, "this process may have only 12 files open at once ('ulimit -n', whose hard limit is 12), and workshop needs 64") || strings.Contains(r.Stderr, "goroutine") {
			t.Errorf("%q under ulimit -n 12 = %d, stderr %q; want 125 and one sentence", args, r.Code, r.Stderr)
		}
	}
}

// The commands workshop suggests carry the --state-dir given, absolute and
// its symlinks resolved (where the state is, whatever the directory the
// student types it in next), and quoted for a shell.
func TestHintsCarryTheStateDir(t *testing.T) {
	testbin.NeedRoot(t) // kill reads the state dir, which is root's
	dir := t.TempDir()
	real := filepath.Join(dir, "my state")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	// In double quotes, inside the sentence's single ones.
	want := "(see 'sudo workshop --state-dir \"" + real + "\" ps')"
	for _, given := range []string{real, filepath.Join(dir, "link"), "my state"} {
		// Run from dir: "my state" is relative to it. kill with no id is
		// refused by cobra's check of the arguments, which runs before
		// the flags are looked at: it carries the --state-dir too.
		for _, args := range [][]string{{"kill", "nosuch"}, {"kill"}} {
			cmd := exec.Command(testbin.Bin(t), append([]string{"--state-dir", given}, args...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(string(out), want) {
				t.Errorf("--state-dir %q %s = %v, %q; want 125 and %q", given, strings.Join(args, " "), err, out, want)
			}
		}
	}
	// diff of a container that is not there says why one that ended may
	// not be (its layer went with it, unless --keep).
	if r := testbin.Run(t, "", "--state-dir", real, "diff", "nosuch"); r.Code != 125 || !strings.Contains(r.Stderr, want+"; a container that has ended is there only if it ran with --keep") {
		t.Errorf("diff nosuch = %d, %q; want 125 and the word on --keep", r.Code, r.Stderr)
	}
	if r := testbin.Run(t, "", "--state-dir", real, "lab"); r.Code != 125 || !strings.Contains(r.Stderr, `workshop --state-dir "`+real+`" lab 1 check`) {
		t.Errorf("--state-dir %q lab = %d, %q; want 125 and the check with the --state-dir", real, r.Code, r.Stderr)
	}
	// The default, given explicitly, is not repeated (kill of no
	// container only reads the state dir, and makes nothing).
	if r := testbin.Run(t, "", "--state-dir", "/var/lib//workshop/", "kill", "nosuch"); r.Code != 125 || !strings.Contains(r.Stderr, "(see 'sudo workshop ps')") {
		t.Errorf("--state-dir /var/lib//workshop/ kill nosuch = %d, %q; want 125 and (see 'sudo workshop ps')", r.Code, r.Stderr)
	}
}

// Every command's -h names the whole command (cobra's own said "help for
// 4" in 'workshop step 4 --help').
func TestHelpFlagNamesTheCommand(t *testing.T) {
	for _, args := range [][]string{{"step", "4"}, {"full", "run"}, {"help"}, {"image", "ls"}} {
		r := testbin.Run(t, "", append(args, "--help")...)
		want := "help for 'workshop " + strings.Join(args, " ") + "'"
		if r.Code != 0 || !strings.Contains(r.Stdout, want) {
			t.Errorf("workshop %s --help = %d, stdout lacks %q:\n%s", strings.Join(args, " "), r.Code, want, r.Stdout)
		}
	}
}

// A --state-dir that is a symlink to nothing is named as such (mkdir said
// "file exists").
func TestStateDirDanglingSymlink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink("/nonexistent-workshop-target", link); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", link, "image", "ls")
	if r.Code != 125 || !strings.Contains(r.Stderr, "is a symlink to /nonexistent-workshop-target, which does not exist") {
		t.Errorf("--state-dir DANGLING = %d, %q; want 125 and the sentence", r.Code, r.Stderr)
	}
}

// A listing or report that cannot reach standard output (a full disk;
// /dev/full here) is a failure said in a sentence, not an exit 0.
func TestOutputThatCannotBeWritten(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	// A lab check's report too, whose status (1, not done yet) says no
	// more than that.
	runs := [][]string{{"steps"}, {"--help"}}
	if os.Geteuid() == 0 { // a check needs root, and so does the store
		runs = append(runs, []string{"--state-dir", t.TempDir(), "lab", "1", "check", "--dir", t.TempDir()})
		// An export to -, whose own write fails (it said "write
		// /dev/stdout: …" alone).
		st, root := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "hello"), bytes.Repeat([]byte("x"), 64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := testbin.Run(t, "", "--state-dir", st, "-q", "image", "pack", root, "tiny"); r.Code != 0 {
			t.Fatalf("image pack = %d %q", r.Code, r.Stderr)
		}
		runs = append(runs, []string{"--state-dir", st, "-q", "image", "export", "tiny", "-"})
	}
	for _, args := range runs {
		cmd := exec.Command(testbin.Bin(t), args...)
		cmd.Stdout = full
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(stderr.String(), "workshop: write to standard output: no space left on device\n") {
			t.Errorf("workshop %q >/dev/full = %v, stderr %q; want 125 and a sentence", args, err, stderr.String())
		}
	}
}

// Output whose reader went away (workshop ps | head -1) ends workshop as
// SIGPIPE ends any tool in a pipeline: 141, and nothing said.
func TestOutputIntoAClosedPipe(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"steps"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd := exec.Command(testbin.Bin(t), args...)
		cmd.Stdout = w
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err = cmd.Run()
		w.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 141 || stderr.Len() > 0 {
			t.Errorf("workshop %q into a closed pipe = %v, stderr %q; want 141 and nothing said", args, err, stderr.String())
		}
	}
}

// The error line names what the student typed or a root holds: a name
// with a newline and an escape sequence in it is printed escaped, on the
// one line, so it can neither recolour the terminal nor forge a line.
func TestErrorLineIsOneLine(t *testing.T) {
	testbin.NeedRoot(t) // lab check asks for root before it looks at --dir
	dir := "/nonexistent\nworkshop: forged line \x1b[31mRED"
	r := testbin.Run(t, "", "lab", "2", "check", "--dir", dir)
	if r.Code != 125 || strings.Count(r.Stderr, "\n") != 1 || strings.Contains(r.Stderr, "\x1b") ||
		!strings.Contains(r.Stderr, `/nonexistent\nworkshop: forged line \x1b[31mRED does not exist`) {
		t.Errorf("lab 2 check --dir %q = %d, stderr %q; want 125 and one line, escaped", dir, r.Code, r.Stderr)
	}
}

// In a PID namespace whose /proc is another's, /proc/PID names some other
// process: workshop says so before it starts, instead of failing on its
// first write there with "operation not permitted".
func TestAProcNotOfItsPIDNamespaceIsSaid(t *testing.T) {
	testbin.NeedRoot(t)
	unshare := testbin.NeedTool(t, "unshare")
	bin, state := testbin.Bin(t), t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"another namespace's /proc", []string{"--pid", "--fork", bin, "--state-dir", state, "full", "run", "--", "/bin/true"},
			"a container needs the /proc of the PID namespace it runs in, and this /proc is another PID namespace's"},
		// lab 2's check runs the student's program in a user namespace,
		// whose maps are written by pid: it said the program failed.
		{"a lab's check", []string{"--pid", "--fork", bin, "--state-dir", state, "lab", "2", "check", "--dir", state},
			"checking a lab needs the /proc of the PID namespace it runs in, and this /proc is another PID namespace's"},
		{"no /proc", []string{"--mount", "--pid", "--fork", "/bin/sh", "-c", `umount -l /proc && exec "$0" --state-dir "$1" ps`, bin, state},
			"ps needs the /proc of the PID namespace it runs in, and /proc/self cannot be read (no such file or directory): mount it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testbin.RunCmd(t, exec.Command(unshare, tc.args...), time.Minute)
			if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("got exit %d, stderr:\n%s\nwant 125 and %q", r.Code, r.Stderr, tc.want)
			}
		})
	}
	// doctor says so too.
	r := testbin.RunCmd(t, exec.Command(unshare, "--pid", "--fork", bin, "--state-dir", state, "doctor"), time.Minute)
	if want := "fail  /proc"; r.Code != 1 || !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, "this /proc is another PID namespace's") {
		t.Errorf("doctor in a PID namespace without its /proc: exit %d, stdout:\n%s\nwant 1 and %q", r.Code, r.Stdout, want)
	}
	// With a /proc of its own, the same run works.
	r = testbin.RunCmd(t, exec.Command(unshare, "--pid", "--fork", "--mount-proc", bin, "--state-dir", state, "-q", "full", "run", "--", "/bin/echo", "ran"), time.Minute)
	if r.Code != 0 || r.Stdout != "ran\n" {
		t.Errorf("with its own /proc: exit %d, stdout %q, stderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// A root not made yet under a symlink into the image store is in it: step
// 1 made <state>/images/evil through lnk/evil.
func TestARootThroughASymlinkIntoTheStoreIsRefused(t *testing.T) {
	testbin.NeedRoot(t)
	tmp := t.TempDir()
	state := filepath.Join(tmp, "state")
	if err := os.MkdirAll(filepath.Join(state, "images"), 0o700); err != nil {
		t.Fatal(err)
	}
	lnk := filepath.Join(tmp, "lnk")
	if err := os.Symlink(filepath.Join(state, "images"), lnk); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", state, "step", "1", "--root", filepath.Join(lnk, "evil"))
	if r.Code != 125 || !strings.Contains(r.Stderr, "is in workshop's image store") {
		t.Errorf("step 1 --root lnk/evil, lnk -> the store: exit %d, stderr %q; want 125 and a sentence", r.Code, r.Stderr)
	}
	if _, err := os.Lstat(filepath.Join(state, "images", "evil")); err == nil {
		t.Errorf("step 1 made a directory in the image store")
	}
}

// The lab check's header and its --solution name the student's --dir and
// --cgroup: an escape sequence in one is shown, not sent to the terminal.
func TestLabHeaderShowsEscapes(t *testing.T) {
	testbin.NeedRoot(t)
	dir := filepath.Join(t.TempDir(), "ex\x1b[31mred")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", t.TempDir(), "lab", "1", "check", "--dir", dir, "--solution")
	if strings.Contains(r.Stdout, "\x1b[31m") || !strings.Contains(r.Stdout, `ex\x1b[31mred`) {
		t.Errorf("lab 1 check --dir with an escape: stdout %q", r.Stdout)
	}
	r = testbin.Run(t, "", "--state-dir", t.TempDir(), "lab", "4", "check", "--cgroup", "s\x1b[31m")
	if strings.Contains(r.Stdout+r.Stderr, "\x1b[31m") {
		t.Errorf("lab 4 check --cgroup with an escape: stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
}

// A command whose own flag has -h keeps it: its help is --help alone
// (pflag panics at a shorthand given twice).
func TestHelpFlagLeavesATakenShorthand(t *testing.T) {
	c := &cobra.Command{Use: "box"}
	c.Flags().StringP("hostname", "h", "", "the hostname")
	sub := &cobra.Command{Use: "sub"}
	c.PersistentFlags().BoolP("hush", "H", false, "")
	c.AddCommand(sub)
	nameHelpFlags(c)
	if f := c.Flags().Lookup("help"); f == nil || f.Shorthand != "" {
		t.Errorf("box's help flag = %+v, want --help without -h", f)
	}
	if f := sub.Flags().Lookup("help"); f == nil || f.Shorthand != "h" {
		t.Errorf("sub's help flag = %+v, want -h, --help", f)
	}
}

// A state dir workshop cannot write in, or cannot reach, is said as such:
// not a bare "mkdir …: read-only file system" from deep inside a step.
func TestStateDirReadOnlyOrALoop(t *testing.T) {
	testbin.NeedRoot(t)
	ro := t.TempDir()
	if err := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	loop := filepath.Join(t.TempDir(), "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--state-dir", ro, "-q", "step", "1"}, "the state dir " + ro + " is on a read-only filesystem, and workshop keeps its roots, images and containers there; give one on a writable filesystem with --state-dir"},
		{[]string{"--state-dir", ro, "-q", "full", "run", "--", "/bin/true"}, "image store: mkdir " + ro + "/images: read-only file system: the state dir " + ro + " is on a read-only filesystem"},
		{[]string{"--state-dir", loop, "ps"}, "--state-dir " + loop + ": its symlinks lead round in a loop"},
		{[]string{"step", "2", "--root", filepath.Join(loop, "x"), "--", "/bin/true"}, "--root " + filepath.Join(loop, "x") + ": its symlinks lead round in a loop"},
	} {
		r := testbin.Run(t, "", tc.args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("workshop %q = %d, %q; want 125 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
}

// workshop -q ps is the global --quiet: the table, as without it; ps -q
// lists the ids alone.
func TestGlobalQuietBeforePs(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "ps"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "ID  NAME  IMAGE") {
		t.Errorf("workshop -q ps = %d, %q; want the table", r.Code, r.Stdout)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "ps", "-q"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("workshop ps -q = %d, %q; want the ids alone (none)", r.Code, r.Stdout)
	}
}

// Under --explain, a mistake in the flags is one sentence: the lesson
// waits until the step has checked them (it came first, and the sentence
// after its 300 lines).
func TestExplainAfterTheFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--explain", "step", "4", "--memory", "80Q", "--", "/bin/true"},
		{"--explain", "full", "run", "--pids", "-1", "--", "/bin/true"},
		{"--explain", "step", "6", "--ns", "uts", "--", "/bin/true"},
		{"--explain", "step", "3", "--ns", "nosuch", "--", "/bin/true"},
		{"--explain", "step", "1", "--demo", "nosuch"},
		{"--explain", "step", "2", "--root", "/proc", "--", "/bin/true"},
		{"--explain", "step", "5", "--root", "/usr", "--", "/bin/true"},
	} {
		r := testbin.Run(t, "", append([]string{"--state-dir", t.TempDir()}, args...)...)
		if r.Code != 125 || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.HasPrefix(r.Stderr, "workshop: ") {
			t.Errorf("workshop %q = exit %d, stderr:\n%s\nwant 125 and one sentence, no lesson", args, r.Code, r.Stderr)
		}
	}
}
