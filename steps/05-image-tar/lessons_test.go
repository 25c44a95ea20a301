package imagetar_test

import (
	"strings"
	"testing"

	lessons "github.com/workshop-dev/workshop"
	"github.com/workshop-dev/workshop/internal/lessontest"
	"github.com/workshop-dev/workshop/internal/reexec"
	"github.com/workshop-dev/workshop/internal/testbin"
)

// The test binary also serves as the container's init when a test runs
// step 5 in this process (reexec.Main first), as workshop does.
func TestMain(m *testing.M) {
	reexec.Main()
	testbin.Main(m)
}

// Step 5's lesson (LESSONS.md) shows commands; this test runs every one of
// them, in the order shown, in one fresh directory, "sudo workshop" being
// the binary under test with its own state dir (which also stands in for
// /var/lib/workshop in the commands). The syscall lines the lesson shows
// after a workshop command must be among those it printed, in that order.

type lessonCommand struct {
	code   int
	stdout []string // what stdout must contain
	// exact: stdout must be exactly the stdout strings joined, no more (so
	// with none, the command must print nothing).
	exact  bool
	stderr []string // what stderr must contain
	before string   // runs first: the student's part
	// prose: commands the lesson's prose tells the student to type at
	// this point, run after it, each with what its stdout must start with.
	prose map[string]string
}

var step5Commands = map[string]lessonCommand{
	"tar cvf dockercontainer.tar my-new-root": {
		stdout: []string{"my-new-root/\n", "my-new-root/bin/bash\n"},
		// The root the student built by hand in step 2 (its lesson's commands).
		before: "mkdir -p my-new-root/bin my-new-root/lib/x86_64-linux-gnu my-new-root/lib64 && cp /bin/bash my-new-root/bin/ && " +
			"cp /lib/x86_64-linux-gnu/libtinfo.so.6 /lib/x86_64-linux-gnu/libc.so.6 my-new-root/lib/x86_64-linux-gnu/ && cp /lib64/ld-linux-x86-64.so.2 my-new-root/lib64/",
		// The exercise's look at why chroot found no bash.
		prose: map[string]string{"tar tf dockercontainer.tar | head": "my-new-root/\nmy-new-root/"},
	},
	"mkdir container-root":                          {},
	"tar xf dockercontainer.tar -C container-root/": {},
	"ls container-root":                             {stdout: []string{"my-new-root\n"}},
	"sudo unshare --mount --uts --ipc --net --pid --fork --user --map-root-user chroot container-root bash": {
		code: 127, stderr: []string{"chroot: failed to run command 'bash': No such file or directory"},
	},
	"sudo workshop step 5 -- /bin/bash -c 'ls /'": {
		stdout: []string{"bin\n", "lib\n", "usr\n"},
		stderr: []string{"execve(\"/bin/bash\", [\"/bin/bash\", \"-c\", \"true\"], …) = -1 ENOENT", "its entries are ./, "},
	},
	"mkdir outside": {},
	"ln -s ../outside link && tar cf evil.tar link && rm link":                         {},
	"mkdir link && echo gotcha > link/file && tar rf evil.tar link/file && rm -r link": {},
	"tar tvf evil.tar":                          {stdout: []string{"link -> ../outside\n", " link/file\n"}},
	"sudo workshop image import evil.tar evil":  {},
	"sudo workshop image unpack evil evil-root": {},
	// The lesson's point: the link in the tar did not let the file out.
	"ls -A outside":              {exact: true},
	"cat evil-root/outside/file": {stdout: []string{"gotcha\n"}},
	"sudo workshop image pack /var/lib/workshop/my-new-root demo:1": {stderr: []string{"image demo:1 is "}},
	"sudo workshop image import dockercontainer.tar walkthrough": {
		stderr: []string{"stripping my-new-root/"},
	},
	"sudo workshop image ls":                        {stdout: []string{"NAME", "demo          1 ", "evil          latest", "walkthrough   latest"}},
	"sudo workshop image export demo:1 demo.tar.gz": {},
	"sudo workshop image unpack demo:1 demo-root":   {},
	// dev and proc too, where step 3 ran before (the mount points it made).
	"ls demo-root":                          {stdout: []string{"bin\n", "lib\n", "lib64\n", "usr\n"}},
	"sudo workshop image tag demo:1 demo:2": {},
	"sudo workshop image rm demo:1":         {stdout: []string{"Untagged: demo:1\n"}},
	"sudo chroot container-root /bin/bash -c 'echo it runs'": {
		stdout: []string{"it runs\n"},
		// The exercise, done as a student would.
		before: "rm -rf container-root dockercontainer.tar && tar -C my-new-root -cf dockercontainer.tar . && mkdir container-root && tar -xf dockercontainer.tar -C container-root/",
	},
	"sudo workshop lab 5 check": {stdout: []string{"ok    chroot container-root /bin/bash runs"}},
}

func TestLessonCommands(t *testing.T) {
	testbin.NeedRoot(t)
	section, err := lessons.Lesson(5)
	if err != nil {
		t.Fatal(err)
	}
	cmds := lessons.Commands(section)
	var known []string
	for c := range step5Commands {
		known = append(known, c)
	}
	lessontest.Coverage(t, "step 5's lesson", section, known)
	dir, state := t.TempDir(), t.TempDir()
	shown := lessontest.Shown(section)
	for _, c := range cmds {
		lc := step5Commands[c]
		if lc.before != "" {
			if r := lessontest.Shell(t, dir, state, lc.before); r.Code != 0 {
				t.Fatalf("the student's part before `%s` failed: %d\n%s", c, r.Code, r.Stderr)
			}
		}
		r := lessontest.Shell(t, dir, state, c)
		ok := r.Code == lc.code
		if lc.exact {
			ok = ok && r.Stdout == strings.Join(lc.stdout, "")
		}
		for _, w := range lc.stdout {
			ok = ok && strings.Contains(r.Stdout, w)
		}
		for _, w := range lc.stderr {
			ok = ok && strings.Contains(r.Stderr, w)
		}
		if !ok {
			t.Errorf("`%s` = %d, stdout %q, stderr:\n%s\nwant %d, stdout with %q (exactly: %v), stderr with %q", c, r.Code, r.Stdout, r.Stderr, lc.code, lc.stdout, lc.exact, lc.stderr)
			continue
		}
		if strings.HasPrefix(c, "sudo workshop") {
			if err := lessontest.CheckNarration(shown[c], r.Stderr); err != nil {
				t.Errorf("`%s`: %v\nit printed:\n%s", c, err, r.Stderr)
			}
		}
		for p, want := range lc.prose {
			lessontest.InProse(t, section, p)
			if r := lessontest.Shell(t, dir, state, p); r.Code != 0 || !strings.HasPrefix(r.Stdout, want) {
				t.Errorf("`%s` = %d, stdout %q, stderr:\n%s\nwant 0, stdout starting %q", p, r.Code, r.Stdout, r.Stderr, want)
			}
		}
	}
}
