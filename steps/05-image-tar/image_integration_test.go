package imagetar_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/workshop-dev/workshop/internal/testbin"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
)

// The image commands and step 5, run as the student runs them: the real
// binary, its own state dir.

// tarOf builds an archive from (name, type, body-or-target) triples.
func tarOf(t *testing.T, entries ...[3]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Typeflag: e[1][0], Mode: 0o755, ModTime: time.Unix(1700000000, 0)}
		switch hdr.Typeflag {
		case tar.TypeReg:
			hdr.Size = int64(len(e[2]))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = e[2]
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write([]byte(e[2]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// newEntries lists what an interrupted or failed addition could leave in
// the store.
func newEntries(t *testing.T, state string) []string {
	entries, _ := os.ReadDir(filepath.Join(state, "images"))
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			left = append(left, e.Name())
		}
	}
	return left
}

// spooling reports whether workshop process pid has its nameless spool of
// standard input open in the store of state: a file made with O_TMPFILE,
// which /proc shows as "<dir>/#<inode> (deleted)". It is made once the
// import's signal handling is in place, and before its input is read.
func spooling(pid int, state string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, filepath.Join(state, "images")+"/#") {
			return true
		}
	}
	return false
}

func TestImageCommands(t *testing.T) {
	testbin.NeedRoot(t) // the image store is root's: image commands refuse anyone else
	state := t.TempDir()
	ws := func(args ...string) testbin.Result {
		return testbin.Run(t, "", append([]string{"--state-dir", state}, args...)...)
	}
	root := filepath.Join(t.TempDir(), "my-new-root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("hello from the image\n"), 0o644)

	r := ws("image", "pack", root, "demo:1")
	if r.Code != 0 || !strings.Contains(r.Stderr, "image demo:1 is ") {
		t.Fatalf("image pack = %d\n%s", r.Code, r.Stderr)
	}
	// The walkthrough's tar, made by GNU tar: my-new-root/ is stripped.
	wt := filepath.Join(t.TempDir(), "dockercontainer.tar")
	if out, err := exec.Command("tar", "-C", filepath.Dir(root), "-cf", wt, "my-new-root").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	r = ws("image", "import", wt, "walkthrough:v1")
	if r.Code != 0 || !strings.Contains(r.Stderr, "stripping my-new-root/") {
		t.Fatalf("image import = %d\n%s", r.Code, r.Stderr)
	}
	r = ws("image", "ls")
	if r.Code != 0 || !strings.Contains(r.Stdout, "NAME") || !strings.Contains(r.Stdout, "demo ") || !strings.Contains(r.Stdout, "walkthrough ") || !strings.Contains(r.Stdout, "v1") {
		t.Errorf("image ls = %d %q", r.Code, r.Stdout)
	}
	exported := filepath.Join(t.TempDir(), "demo.tgz")
	if r = ws("image", "export", "demo:1", exported); r.Code != 0 {
		t.Fatalf("image export = %d\n%s", r.Code, r.Stderr)
	}
	if out, err := exec.Command("tar", "tzf", exported).Output(); err != nil || !strings.Contains(string(out), "./etc/motd") {
		t.Errorf("tar tzf of the export = %v %q, want ./etc/motd", err, out)
	}
	if r = ws("image", "tag", "demo:1", "demo:2"); r.Code != 0 {
		t.Errorf("image tag = %d\n%s", r.Code, r.Stderr)
	}
	dest := filepath.Join(t.TempDir(), "copy")
	if r = ws("image", "unpack", "demo:2", dest); r.Code != 0 {
		t.Fatalf("image unpack = %d\n%s", r.Code, r.Stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc", "motd")); string(b) != "hello from the image\n" {
		t.Errorf("unpacked etc/motd = %q", b)
	}
	// An export and an unpack that end well forget the temporary names
	// they recorded for 'workshop clean'.
	if markers, _ := os.ReadDir(filepath.Join(state, "pending")); len(markers) != 0 {
		t.Errorf("the export and the unpack left their records: %v", markers)
	}
	if r = ws("image", "rm", "demo:1"); r.Code != 0 || r.Stdout != "Untagged: demo:1\n" {
		t.Errorf("image rm demo:1 = %d %q", r.Code, r.Stdout)
	}
	if r = ws("image", "rm", "demo:2"); r.Code != 0 || !strings.Contains(r.Stdout, "Deleted: sha256:") {
		t.Errorf("image rm demo:2 (the last name) = %d %q", r.Code, r.Stdout)
	}
	r = ws("--quiet", "image", "export", "walkthrough:v1", "-")
	if r.Code != 0 || !strings.Contains(r.Stdout, "./etc/motd") || r.Stderr != "" {
		t.Errorf("image export - = %d, stderr %q", r.Code, r.Stderr)
	}
	r = testbin.Run(t, r.Stdout, "--state-dir", state, "image", "import", "-", "piped")
	if r.Code != 0 {
		t.Errorf("image import - = %d\n%s", r.Code, r.Stderr)
	}
	// `image export NAME - | head -c 10`: the reader had enough (here it
	// is gone before the first write, which a small tar would otherwise
	// beat into the pipe's buffer). 141, as a shell reports SIGPIPE, and a
	// sentence, not Go's "broken pipe".
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	cmd := exec.Command(testbin.Bin(t), "--quiet", "--state-dir", state, "image", "export", "walkthrough:v1", "-")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = pw, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 141 || !strings.Contains(stderr.String(), "the reader of standard output closed it before the end of the tar") {
		t.Errorf("image export - into a pipe closed after 10 bytes = %v, stderr %q; want 141 and a sentence", cmd.ProcessState, stderr.String())
	}
	// `image export NAME - >&-`: Go's runtime gives a closed standard
	// output /dev/null, where the tar went, with 0. A shell's > /dev/null
	// is what the student asked for.
	for _, c := range []struct {
		redirect string
		code     int
	}{{">&-", 125}, {">/dev/null", 0}} {
		cmd = exec.Command("/bin/sh", "-c", `exec "$0" "$@" `+c.redirect, testbin.Bin(t), "--quiet", "--state-dir", state, "image", "export", "walkthrough:v1", "-")
		r := testbin.RunCmd(t, cmd, time.Minute)
		if r.Code != c.code || c.code != 0 && !strings.Contains(r.Stderr, "standard output was closed (>&-), or is /dev/null opened for reading and writing") {
			t.Errorf("image export - %s = %d, stderr %q; want %d", c.redirect, r.Code, r.Stderr, c.code)
		}
	}
}

// Pack reads each file through /proc/self/fd where there is a /proc; in a
// mount namespace whose /proc is an empty tmpfs (workshop in a chroot) it
// still packs, and the same image.
func TestImagePackWithoutProc(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("packed without /proc\n"), 0o644)
	with := testbin.Run(t, "", "--state-dir", state, "image", "pack", root, "with:1")
	cmd := exec.Command("unshare", "-m", "sh", "-c", `mount -t tmpfs none /proc && exec "$0" "$@"`,
		testbin.Bin(t), "--state-dir", state, "image", "pack", root, "without:1")
	without := testbin.RunCmd(t, cmd, time.Minute)
	if with.Code != 0 || without.Code != 0 {
		t.Fatalf("image pack with /proc = %d, without = %d:\n%s\n%s", with.Code, without.Code, with.Stderr, without.Stderr)
	}
	ls := testbin.Run(t, "", "--state-dir", state, "image", "ls")
	var ids []string
	for _, l := range strings.Split(ls.Stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 && (f[0] == "with" || f[0] == "without") {
			ids = append(ids, f[2])
		}
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("the packs with and without /proc are not one image:\n%s", ls.Stdout)
	}
}

// The image commands' reports (image ls's table, rm's Untagged and
// Deleted, tag's note of a moved name) that cannot reach standard output
// (a full disk; /dev/full here) fail with 125 and a sentence, as every
// command's output does, not exit 0 with the report lost.
func TestImageReportsThatCannotBeWritten(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	toFull := func(args ...string) (int, string) {
		cmd := exec.Command(testbin.Bin(t), append([]string{"--state-dir", state}, args...)...)
		cmd.Stdout = full
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	for _, ref := range []string{"a:1", "b:1"} {
		if r := testbin.Run(t, "", "--state-dir", state, "image", "pack", root, ref); r.Code != 0 {
			t.Fatalf("image pack %s = %d\n%s", ref, r.Code, r.Stderr)
		}
	}
	os.WriteFile(filepath.Join(root, "etc", "other"), []byte("x"), 0o644)
	if r := testbin.Run(t, "", "--state-dir", state, "image", "pack", root, "c:1"); r.Code != 0 {
		t.Fatalf("image pack c:1 = %d\n%s", r.Code, r.Stderr)
	}
	for _, args := range [][]string{
		{"image", "ls"},
		{"image", "rm", "a:1"},         // Untagged: a:1
		{"image", "tag", "c:1", "b:1"}, // b:1 named image … before
	} {
		code, stderr := toFull(args...)
		if code != 125 || !strings.Contains(stderr, "workshop: write to standard output: ") {
			t.Errorf("workshop %q >/dev/full = %d, stderr %q; want 125 and a sentence", args, code, stderr)
		}
	}
}

// Inside a user namespace that maps root alone (`unshare -Ur`), an entry
// owned by another uid cannot be chowned: one sentence saying why, not a
// bare "invalid argument".
func TestImportOwnerNotMappedInAUserNamespace(t *testing.T) {
	testbin.NeedRoot(t)
	unshare := testbin.NeedTool(t, "unshare")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 1, Uid: 1000, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("x"))
	tw.Close()
	archive := writeTemp(t, "owned.tar", buf.Bytes())
	cmd := exec.Command(unshare, "-Ur", testbin.Bin(t), "--state-dir", t.TempDir(), "image", "import", archive, "owned")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(stderr.String(), `entry "f": fchown to 1000:0: this process's user namespace maps no such owner`) {
		t.Errorf("import of an entry owned by uid 1000 under unshare -Ur = %v; want 125 and the sentence\n%s", err, stderr.String())
	}
}

func TestImageBadInput(t *testing.T) {
	testbin.NeedRoot(t) // the image store is root's: image commands refuse anyone else
	state := t.TempDir()
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "mine"), []byte("x"), 0o644)
	good := tarOf(t, [3]string{"bin/", "5", ""}, [3]string{"bin/sh", "0", strings.Repeat("#", 3000)})
	truncated := writeTemp(t, "cut.tar", good[:1200])
	hostile := writeTemp(t, "evil.tar", tarOf(t, [3]string{"../../evil", "0", "x"}))
	gz := writeTemp(t, "ok.tar", good)
	if r := testbin.Run(t, "", "--state-dir", state, "image", "import", gz, "ok"); r.Code != 0 {
		t.Fatalf("import = %d %s", r.Code, r.Stderr)
	}
	afile := writeTemp(t, "afile", []byte("x"))
	// A symlink another user planted in a sticky directory anyone may
	// write in, leading to a file of root's.
	sticky, victim := t.TempDir(), writeTemp(t, "victim", []byte("root's"))
	if err := os.Chmod(sticky, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(sticky, "image.tar")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// A link that leads into the store, to nothing yet.
	intoStore := filepath.Join(t.TempDir(), "lnk")
	if err := os.Symlink(filepath.Join(state, "images", "evil.tar"), intoStore); err != nil {
		t.Fatal(err)
	}
	// Root's own link, relative through .., leading to the planted one:
	// each link on the way is checked.
	chained := filepath.Join(t.TempDir(), "mine.tar")
	if filepath.Dir(filepath.Dir(chained)) != filepath.Dir(sticky) {
		t.Fatalf("%s and %s are not beside each other", chained, sticky)
	}
	if err := os.Symlink(filepath.Join("..", filepath.Base(sticky), "image.tar"), chained); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"image", "unpack", "nosuch:1", t.TempDir() + "/x"}, "there is no image nosuch:1"},
		{[]string{"image", "rm", "nosuch"}, "there is no image nosuch:latest"},
		{[]string{"image", "export", "nosuch", "/tmp/never-written.tar"}, "there is no image nosuch:latest"},
		{[]string{"image", "unpack", "ok", full}, "is not empty"},
		// DIR may be made, not the directories on its way.
		{[]string{"image", "unpack", "ok", "/nonexistent-workshop-dir/x"}, "the directory /nonexistent-workshop-dir does not exist: make it first"},
		// A file on the way is a file, not a directory missing.
		{[]string{"image", "unpack", "ok", filepath.Join(afile, "x")}, afile + " is a regular file, not a directory: DIR goes in a directory that exists"},
		{[]string{"image", "export", "ok", filepath.Join(afile, "x", "o.tar")}, afile + " is a regular file, not a directory: FILE goes in a directory that exists"},
		// What workshop keeps is no place for an unpack or an export
		// ('workshop clean' removed a directory unpacked there).
		{[]string{"image", "unpack", "ok", filepath.Join(state, "containers", "zz")}, "unpack into " + filepath.Join(state, "containers", "zz") + ": that is in workshop's containers' directory"},
		{[]string{"image", "unpack", "ok", filepath.Join(state, "images", "zz")}, "that is in workshop's image store"},
		// (Not /mnt itself: should the check go, the test would replace it.)
		{[]string{"image", "unpack", "ok", "/home/workshop-test-nobody"}, "unpack into /home/workshop-test-nobody: that is a home directory (/home/workshop-test-nobody), which the unpack would replace with the image's root"},
		{[]string{"image", "export", "ok", filepath.Join(state, "images", "x.tar")}, "export to " + filepath.Join(state, "images", "x.tar") + ": that is in workshop's image store"},
		{[]string{"image", "export", "ok", "/dev/stdout"}, "/dev/stdout is this command's standard output: give - to write the tar there"},
		{[]string{"image", "export", "ok", planted}, planted + " is a symlink that user 65534 made in " + sticky + ", a sticky directory anyone may write in: export does not write through it"},
		{[]string{"image", "export", "ok", intoStore}, "export to " + intoStore + ": it leads to " + filepath.Join(state, "images", "evil.tar") + ", in workshop's image store"},
		{[]string{"image", "export", "ok", chained}, "is a symlink that user 65534 made in " + sticky + ", a sticky directory anyone may write in"},
		{[]string{"image", "import", truncated, "cut"}, "the archive is truncated"},
		{[]string{"image", "import", hostile, "evil"}, `entry "../../evil": its name climbs out of the root`},
		{[]string{"image", "import", "/no/such/file.tar", "x"}, "import /no/such/file.tar: no such file or directory"},
		{[]string{"image", "pack", "/no/such/dir", "x"}, "/no/such/dir does not exist"},
		{[]string{"image", "tag", "ok", "Not A Name"}, `"Not A Name" is not an image name`},
		{[]string{"image", "pack", "onlyone"}, "usage: workshop image pack DIR NAME[:TAG]"},
		{[]string{"image", "frobnicate"}, `"frobnicate" is not an image command`},
	} {
		r := testbin.Run(t, "", append([]string{"--state-dir", state}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("workshop %q = %d, stderr %q; want 125 and one sentence with %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "mine")); string(b) != "x" {
		t.Errorf("unpack into a non-empty directory touched it")
	}
	if left := newEntries(t, state); len(left) > 0 {
		t.Errorf("failed commands left %q in the store", left)
	}
	if _, err := os.Stat("/nonexistent-workshop-dir"); err == nil {
		t.Errorf("unpack made the directory on its way /nonexistent-workshop-dir")
	}
	if _, err := os.Stat("/tmp/never-written.tar"); err == nil {
		t.Errorf("export of a missing image wrote its file")
	}
	if _, err := os.Stat("/home/workshop-test-nobody"); err == nil {
		os.RemoveAll("/home/workshop-test-nobody")
		t.Errorf("unpack into a home directory made it")
	}
	for _, p := range []string{"containers/zz", "images/zz", "images/x.tar", "images/evil.tar"} {
		if _, err := os.Stat(filepath.Join(state, p)); err == nil {
			t.Errorf("an unpack or export into what workshop keeps made %s", p)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's" {
		t.Errorf("export through the planted symlink wrote %s", victim)
	}
}

// Two workshop processes at once, each making the base image on first use
// and importing an image: the store ends consistent, the base made once.
func TestImageConcurrentProcesses(t *testing.T) {
	testbin.NeedRoot(t) // the image store is root's: image commands refuse anyone else
	state := t.TempDir()
	var wg sync.WaitGroup
	results := make([]testbin.Result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				results[i] = testbin.Run(t, "", "--state-dir", state, "--quiet", "image", "unpack", "base", filepath.Join(t.TempDir(), "base-copy"))
				return
			}
			p := writeTemp(t, "a.tar", tarOf(t, [3]string{"etc/", "5", ""}, [3]string{"etc/n", "0", string(rune('a' + i))}))
			results[i] = testbin.Run(t, "", "--state-dir", state, "--quiet", "image", "import", p, "img:"+string(rune('a'+i)))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("process %d = %d\n%s", i, r.Code, r.Stderr)
		}
	}
	r := testbin.Run(t, "", "--state-dir", state, "image", "ls")
	if strings.Count(r.Stdout, "\n") != 4 || !strings.Contains(r.Stdout, "base ") {
		t.Errorf("image ls after concurrent runs:\n%s\nwant base:latest, img:b and img:d", r.Stdout)
	}
	images, _ := os.ReadDir(filepath.Join(state, "images"))
	dirs := 0
	for _, e := range images {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs++
		}
	}
	if dirs != 3 || len(newEntries(t, state)) > 0 {
		t.Errorf("the store holds %d images and %q half-made ones, want 3 and none", dirs, newEntries(t, state))
	}
}

// Ctrl-C during an import: the command says so in one sentence, exits 130
// (128+SIGINT, as a process killed by it) and leaves nothing half-made. The
// import reads standard input, so the test knows the signal handler is in
// place (the spool file is open) before it interrupts.
func TestImageImportInterrupted(t *testing.T) {
	testbin.NeedRoot(t) // the image store is root's: image commands refuse anyone else
	state := t.TempDir()
	cmd := exec.Command(testbin.Bin(t), "--state-dir", state, "image", "import", "-", "interrupted")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	stopping := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "stopping, and removing what was half made") {
				close(stopping)
			}
		}
	}()
	stdin.Write(tarOf(t, [3]string{"etc/", "5", ""}, [3]string{"etc/x", "0", "x"}))
	// The spool file: importing has begun. A minute is far more than a
	// loaded machine needs; past it, something is wrong, not slow.
	deadline := time.Now().Add(time.Minute)
	for !spooling(cmd.Process.Pid, state) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			stdin.Close()
			<-readDone
			cmd.Wait()
			t.Fatalf("after a minute, the import had made no spool file in %s/images; stderr:\n%s", state, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select { // workshop has seen the signal (or ended); only now does its input end
	case <-stopping:
	case <-readDone:
	}
	stdin.Close()
	<-readDone
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	want := "workshop: interrupted by SIGINT: the half-made image was removed; the store is as it was\n"
	if !ok || ee.ExitCode() != 130 || !strings.HasSuffix(stderr.String(), want) || strings.Contains(stderr.String(), "context") {
		t.Errorf("interrupted import = %v, stderr %q; want 130 and the last line %q", err, stderr.String(), want)
	}
	if left := newEntries(t, state); len(left) > 0 {
		t.Errorf("the interrupted import left %q", left)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "image", "ls"); strings.Contains(r.Stdout, "interrupted") {
		t.Errorf("the interrupted image is listed:\n%s", r.Stdout)
	}
}

func TestStep5(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	r := testbin.Run(t, "", "--state-dir", state, "step", "5", "--gzip", "--", "/bin/bash", "-c", "ls /bin/bash && exit 3")
	if r.Code != 3 || r.Stdout != "/bin/bash\n" {
		t.Fatalf("step 5 --gzip -- … exit 3 = %d, stdout %q; want the command's status and output\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		`execve("/bin/bash", ["/bin/bash", "-c", "true"], …) = -1 ENOENT`, // the walkthrough's pitfall, for real
		"exit status 127, as the walkthrough's chroot said",
		"its entries are ./, ",
		`renameat(AT_FDCWD, "` + state + `/step5/.container-root.unpack-`,
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("step 5's narration lacks %q:\n%s", want, r.Stderr)
		}
	}
	// The walkthrough's chroot is a plain one, its command bash -c true:
	// no word on what a command without a PID namespace may leave behind.
	if strings.Contains(r.Stderr, "may outlive the step") {
		t.Errorf("step 5's walkthrough demo warns of what its chroot's command may leave:\n%s", r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(state, "step5", "dockercontainer.tar.gz")); err != nil {
		t.Errorf("--gzip made no dockercontainer.tar.gz: %v", err)
	}
	// Again: container-root is made fresh, a file left in it is gone.
	os.WriteFile(filepath.Join(state, "step5", "container-root", "leftover"), []byte("x"), 0o644)
	r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--", "/bin/bash", "-c", "ls /leftover")
	if r.Code == 0 || r.Stdout != "" {
		t.Errorf("second step 5 = %d, %q: the old container-root survived", r.Code, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "No such file or directory") || strings.Contains(r.Stderr, "not found in the container's root") {
		t.Errorf("--quiet step 5 stderr = %q: want only the command's own error", r.Stderr)
	}
	r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--", "/bin/no-such-program")
	if r.Code != 127 {
		t.Errorf("step 5 -- missing program = %d, want 127\n%s", r.Code, r.Stderr)
	}
	// Stdin drives bash when it is not a terminal.
	r = testbin.Run(t, "echo from stdin\n", "--state-dir", state, "--quiet", "step", "5")
	if r.Code != 0 || r.Stdout != "from stdin\n" {
		t.Errorf("step 5 with a script on stdin = %d %q", r.Code, r.Stdout)
	}
	entries, _ := os.ReadDir(filepath.Join(state, "step5"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("step 5 left %s behind", e.Name())
		}
	}
	// The runs after the first were without --gzip: the .gz of the first
	// is gone, not left to be taken for theirs.
	if _, err := os.Stat(filepath.Join(state, "step5", "dockercontainer.tar.gz")); !os.IsNotExist(err) {
		t.Errorf("dockercontainer.tar.gz of a --gzip run is still there after runs without --gzip (%v)", err)
	}
	// The walkthrough's tar stores the root's own name in front of every
	// entry: bbroot/ for a --root named bbroot, not my-new-root/.
	bb := filepath.Join(t.TempDir(), "bbroot")
	r = testbin.Run(t, "", "--state-dir", state, "step", "5", "--root", bb, "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "tar cvf dockercontainer.tar bbroot,") || !strings.Contains(r.Stderr, "walkthrough-root/bbroot/bin/bash, and the chroot") {
		t.Errorf("step 5 --root .../bbroot = %d; want the walkthrough's tar of bbroot\n%s", r.Code, r.Stderr)
	}
	// A root named bin: the walkthrough's archive holds bin/…, so the
	// chroot's /bin/bash would be the root's own top-level bash, run as
	// real root in a plain chroot. Here that is a busybox, which would end
	// with 0 instead of the pitfall's 127: it must not run at all.
	binRoot := filepath.Join(t.TempDir(), "bin")
	if r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--root", binRoot, "--", "/bin/true"); r.Code != 0 {
		t.Fatalf("step 5 --root .../bin = %d\n%s", r.Code, r.Stderr)
	}
	busybox, err := os.ReadFile(testbin.NeedTool(t, "busybox")) // static: it needs no library at the root's top
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(binRoot, "bash"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	r = testbin.Run(t, "", "--state-dir", state, "step", "5", "--root", binRoot, "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "the root's directory is itself named bin") || strings.Contains(r.Stderr, `execve("/bin/bash", ["/bin/bash", "-c", "true"]`) {
		t.Errorf("step 5 --root .../bin with a top-level bash = %d; want the pitfall skipped, said why, and its bash not run\n%s", r.Code, r.Stderr)
	}
	// A root that holds step 5's own directory: one sentence, nothing
	// packed. (The state dir itself, and a directory that holds it, are
	// refused before, as no step's root.)
	r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--root", filepath.Join(state, "step5"), "--", "/bin/true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "holds step 5's directory") {
		t.Errorf("step 5 --root STATEDIR/step5 = %d, want 125 and a sentence\n%s", r.Code, r.Stderr)
	}
	r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--root", filepath.Dir(state), "--", "/bin/true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "holds workshop's state dir") {
		t.Errorf("step 5 --root PARENT-OF-STATEDIR = %d, want 125 and a sentence\n%s", r.Code, r.Stderr)
	}
	r = testbin.Run(t, "", "--state-dir", state, "--quiet", "step", "5", "--root", state, "--", "/bin/true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "is workshop's state dir: give a directory of its own") {
		t.Errorf("step 5 --root STATEDIR = %d, want 125 and a sentence\n%s", r.Code, r.Stderr)
	}
}

func TestStep5Explain(t *testing.T) {
	testbin.NeedRoot(t)
	r := testbin.Run(t, "exit\n", "--state-dir", t.TempDir(), "--explain", "step", "5", "--", "/bin/true")
	if r.Code != 0 || !strings.Contains(r.Stderr, "\nStep 5: image tar\n=================\n") || !strings.Contains(r.Stderr, "# move a file or directory to a new name, in one step") {
		t.Errorf("step 5 --explain = %d; want the lesson and the glosses:\n%s", r.Code, r.Stderr)
	}
}

// A store damaged by hand (a name in index.json that leads to no image:
// an id cut short, an image directory removed, its unpacked root removed)
// is one sentence naming the name, never a Go panic, and 'image rm NAME'
// removes the name, which nothing else could.
func TestImageDamagedStore(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	ws := func(args ...string) testbin.Result {
		return testbin.Run(t, "", append([]string{"--state-dir", state}, args...)...)
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello"), []byte("hi\n"), 0o644)
	if r := ws("image", "pack", root, "good"); r.Code != 0 {
		t.Fatalf("pack = %d\n%s", r.Code, r.Stderr)
	}
	index := filepath.Join(state, "images", "index.json")
	good, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	goodID := regexp.MustCompile(`[0-9a-f]{64}`).FindString(string(good))
	// Another image, whose unpacked root the third case removes.
	os.WriteFile(filepath.Join(root, "other"), []byte("other\n"), 0o644)
	if r := ws("image", "pack", root, "other"); r.Code != 0 {
		t.Fatalf("pack = %d\n%s", r.Code, r.Stderr)
	}
	var otherID string
	for _, id := range regexp.MustCompile(`[0-9a-f]{64}`).FindAllString(mustRead(t, index), -1) {
		if id != goodID {
			otherID = id
		}
	}
	missing := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		key, id, want string // key: the name as index.json holds it
		// use: the name the commands are given. A damaged index stops
		// every use of the store (good's too); a damaged image, the
		// uses of its names.
		use     string
		breakIt func()
	}{
		// First, while other's image has no name but is not collected.
		{"noroot:latest", otherID, "the name noroot:latest is damaged: image " + otherID[:12] + ": its unpacked root " + filepath.Join(state, "images", otherID, "rootfs") + " is missing", "noroot", func() {
			os.Rename(filepath.Join(state, "images", otherID, "rootfs"), filepath.Join(state, "images", otherID, "rootfs.away"))
		}},
		{"gone:latest", missing, "the name gone:latest is damaged: image " + missing[:12] + ": its image.json is missing", "gone", nil},
		{"short:latest", "deadbeef", `the name short:latest is damaged: ` + index + ` names "deadbeef", which is no image's id`, "good", nil},
		// Names workshop does not write: removed by the name as it is.
		{"Upper:latest", goodID, `the name Upper:latest is damaged: ` + index + ` holds "Upper:latest", which is no name as workshop writes them`, "good", nil},
		{"notag", goodID, `the name notag is damaged: ` + index + ` holds "notag", which is no name`, "good", nil},
	} {
		if err := os.WriteFile(index, []byte(`{"tags":{"good:latest":"`+goodID+`","`+tc.key+`":"`+tc.id+`"}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.breakIt != nil {
			tc.breakIt()
		}
		for _, args := range [][]string{{"image", "ls"}, {"--quiet", "full", "run", "--image", tc.use, "--", "/bin/true"}, {"image", "export", tc.use, filepath.Join(t.TempDir(), "x.tar")}} {
			r := ws(args...)
			if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "'sudo workshop --state-dir "+state+" image rm "+tc.key+"' removes the name") || strings.Contains(r.Stderr, "internal error") {
				t.Errorf("%s: workshop %q = %d, stderr %q; want 125 and %q", tc.key, args, r.Code, r.Stderr, tc.want)
			}
		}
		if r := ws("image", "rm", tc.key); r.Code != 0 || !strings.Contains(r.Stderr, "the name "+tc.key+" leads to no image") {
			t.Errorf("%s: image rm = %d, stdout %q, stderr %q; want the name removed", tc.key, r.Code, r.Stdout, r.Stderr)
		}
		if r := ws("image", "ls"); r.Code != 0 || !strings.Contains(r.Stdout, "good ") || strings.Contains(r.Stdout, strings.Split(tc.key, ":")[0]) {
			t.Errorf("%s: after the rm, image ls = %d\n%s%s", tc.key, r.Code, r.Stdout, r.Stderr)
		}
		// The image a removed name led to, its root missing, went with
		// it: made again, it would have been taken for the damaged one.
		if tc.breakIt != nil {
			if _, err := os.Lstat(filepath.Join(state, "images", otherID)); !os.IsNotExist(err) {
				t.Errorf("the damaged image %s is left in the store (lstat: %v)", otherID[:12], err)
			}
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A tar made from a path (tar cf x.tar /srv/my-new-root) holds its root
// under that path: the image has no bin/ at its root, and the import says
// why and how to make the tar instead. One with a bin/ gets no such word.
func TestImportOfATarMadeFromAPath(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	deep := writeTemp(t, "deep.tar", tarOf(t, [3]string{"srv/my-new-root/", "5", ""}, [3]string{"srv/my-new-root/bin/", "5", ""}, [3]string{"srv/my-new-root/bin/sh", "0", "#!"}, [3]string{"etc/", "5", ""}))
	r := testbin.Run(t, "", "--state-dir", state, "image", "import", deep, "deep")
	if r.Code != 0 || !strings.Contains(r.Stderr, "image deep:latest has no bin/ or usr/bin/ at its root") || !strings.Contains(r.Stderr, "tar -C /srv/my-new-root -cf x.tar .") {
		t.Errorf("import of a root under srv/my-new-root = %d, stderr:\n%s", r.Code, r.Stderr)
	}
	good := writeTemp(t, "good.tar", tarOf(t, [3]string{"bin/", "5", ""}, [3]string{"bin/sh", "0", "#!"}))
	if r := testbin.Run(t, "", "--state-dir", state, "image", "import", good, "good"); r.Code != 0 || strings.Contains(r.Stderr, "has no bin/") {
		t.Errorf("import of a root with its bin/ = %d, stderr:\n%s", r.Code, r.Stderr)
	}
}

// image rm takes several names, as docker rmi does: each that can go
// goes, one that cannot is said, and the status says some were not; one
// given twice goes once.
func TestImageRmSeveral(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	good := writeTemp(t, "good.tar", tarOf(t, [3]string{"bin/", "5", ""}, [3]string{"bin/sh", "0", "#!"}))
	for _, name := range []string{"a", "b"} {
		if r := testbin.Run(t, "", "--state-dir", state, "image", "import", good, name); r.Code != 0 {
			t.Fatalf("import %s = %d\n%s", name, r.Code, r.Stderr)
		}
	}
	// A name given again (a:latest is a) is removed once: its second
	// turn found it gone, and said to make it.
	r := testbin.Run(t, "", "--state-dir", state, "image", "rm", "a", "a:latest", "nosuch", "b", "a")
	// a and b name one image (one tar): it goes with b, the last.
	if r.Code != 125 || !regexp.MustCompile(`^Untagged: a:latest\nUntagged: b:latest\nDeleted: sha256:[0-9a-f]{64}\n$`).MatchString(r.Stdout) ||
		!strings.Contains(r.Stderr, "there is no image nosuch:latest") || !strings.Contains(r.Stderr, "1 of the 3 names given was not removed (nosuch)") {
		t.Errorf("image rm a a:latest nosuch b a = %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "image", "ls"); strings.Contains(r.Stdout, "a ") || strings.Contains(r.Stdout, "b ") {
		t.Errorf("after rm, image ls:\n%s", r.Stdout)
	}
}

// image unpack makes an image's device nodes only when given --devices:
// in a directory anyone may reach, a /dev/sda 0666 from an image is the
// disk given to all (in the store, only root may enter).
func TestImageUnpackDevices(t *testing.T) {
	testbin.NeedRoot(t)
	if !imagetar.DevicesAllowed() {
		t.Fatal("this test needs real root outside a user namespace, which may make device nodes")
	}
	state := t.TempDir()
	dev := writeTemp(t, "dev.tar", tarOf(t, [3]string{"dev/", "5", ""}, [3]string{"dev/zero", "3", ""}))
	if r := testbin.Run(t, "", "--state-dir", state, "image", "import", dev, "dev:1"); r.Code != 0 {
		t.Fatalf("import of an archive with a device node = %d %s", r.Code, r.Stderr)
	}
	refused := filepath.Join(t.TempDir(), "root")
	r := testbin.Run(t, "", "--state-dir", state, "image", "unpack", "dev:1", refused)
	if r.Code != 125 || !strings.Contains(r.Stderr, `entry "./dev/zero": it is a character device (0:0), and image unpack makes none unless given --devices`) {
		t.Errorf("image unpack of an image with a device node = %d, %q; want 125 and a sentence naming it and --devices", r.Code, r.Stderr)
	}
	if _, err := os.Lstat(refused); err == nil {
		t.Errorf("the refused unpack left %s", refused)
	}
	made := filepath.Join(t.TempDir(), "root")
	if r := testbin.Run(t, "", "--state-dir", state, "image", "unpack", "--devices", "dev:1", made); r.Code != 0 {
		t.Fatalf("image unpack --devices = %d %s", r.Code, r.Stderr)
	}
	if fi, err := os.Lstat(filepath.Join(made, "dev", "zero")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("image unpack --devices made dev/zero: %v, %v", fi, err)
	}
}

// An index.json that is no JSON stops every image command: the sentence
// says how the store begins anew, and that way works.
func TestImageIndexNotJSON(t *testing.T) {
	testbin.NeedRoot(t)
	state := t.TempDir()
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "image", "pack", dir, "tiny:1"); r.Code != 0 {
		t.Fatalf("image pack = %d %s", r.Code, r.Stderr)
	}
	index := filepath.Join(state, "images", imagetar.IndexName)
	if err := os.WriteFile(index, []byte("{bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := testbin.Run(t, "", "--state-dir", state, "image", "ls")
	if want := index + ", which names the images, is damaged (invalid character 'b' looking for beginning of object key string): 'sudo workshop --state-dir " + state + " clean --images' removes the whole store"; r.Code != 125 || !strings.Contains(r.Stderr, want) {
		t.Fatalf("image ls with a damaged index = %d, %q; want 125 and %q", r.Code, r.Stderr, want)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "-q", "clean", "--images"); r.Code != 0 {
		t.Fatalf("clean --images = %d %s", r.Code, r.Stderr)
	}
	if r := testbin.Run(t, "", "--state-dir", state, "image", "ls"); r.Code != 0 || strings.Contains(r.Stdout, "tiny") {
		t.Errorf("image ls after clean --images = %d, %q %q; want an empty store", r.Code, r.Stdout, r.Stderr)
	}
}
