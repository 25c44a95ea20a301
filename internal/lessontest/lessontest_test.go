package lessontest

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckSyscallsCatchesDrift(t *testing.T) {
	printed := "chroot(\"/r\") = 0\n==> note\n[pid 12] chdir(\"/\") = 0\n" +
		"mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/0a1b2c3d4e5f\", 0755) = 0\n" +
		"[pid 12] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)\n"
	ok := []string{"…", "[pid 4607] chdir(\"/\") = 0", "…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0",
		"[pid 4607] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)"}
	if err := CheckSyscalls(ok, printed); err != nil {
		t.Errorf("CheckSyscalls(lines it printed) = %v", err)
	}
	for _, drift := range [][]string{
		{"[pid 1] execve(\"/bin/sh\", [\"sh\"], …) = -1 ENOENT (No such file or directory)"},
		{"[pid 1] execve(\"/bin/bash\", [\"bash\"], …) = 0"},
		{"[pid 1] chdir(\"/\") = 0", "chroot(\"/r\") = 0"}, // order
		// chdir and execve with the mkdirat between them left out, and
		// no "…" to say so: a call the lesson hides.
		{"…", "[pid 1] chdir(\"/\") = 0", "[pid 1] execve(\"/bin/bash\", [\"bash\"], …) = -1 ENOENT (No such file or directory)"},
		// The chroot before the first shown call, and the execve after
		// the last, left out without a "…".
		{"[pid 1] chdir(\"/\") = 0", "…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0", "…"},
		{"…", "mkdirat(AT_FDCWD, \"/sys/fs/cgroup/workshop/9f8e7d6c5b4a\", 0755) = 0"},
	} {
		if err := CheckSyscalls(drift, printed); err == nil {
			t.Errorf("CheckSyscalls(%q) = nil, want the drift caught", drift)
		}
	}
}

func TestShown(t *testing.T) {
	md := "```\n$ a\nout a\n$ b\n```\ntext\n```\n$ c\n```\n"
	got := Shown(md)
	if strings.Join(got["a"], "|") != "out a" || len(got["b"]) != 0 || len(got["c"]) != 0 {
		t.Errorf("Shown = %q", got)
	}
}

func TestCoverage(t *testing.T) {
	md := "```\n$ a\n$ b\n```\n"
	var ft fakeT
	Coverage(&ft, "the test text", md, []string{"a", "c"})
	if len(ft.errs) != 2 || !strings.Contains(ft.errs[0], "`b`") || !strings.Contains(ft.errs[1], "`c`") {
		t.Errorf("Coverage errors = %q, want b untested and c gone", ft.errs)
	}
}

type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
