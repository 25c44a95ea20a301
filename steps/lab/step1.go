package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
)

func init() { checkers[1] = checkStep1 }

// Step 1's exercise: make the empty jail livable with one static binary,
// busybox, and run a shell from it inside the chroot.
func checkStep1(o Options) (*Report, error) {
	r := &Report{Solution: `  mkdir -p my-new-root/bin
  cp /bin/busybox my-new-root/bin/
  sudo chroot my-new-root /bin/busybox ls /`}
	root, ok := r.dir(o, "my-new-root", "make it in the directory you run the check from: mkdir my-new-root")
	if !ok {
		return r, nil
	}
	// Looked at inside the jail, as chroot will: a bin/ that is a symlink
	// (to the host's /usr/bin) leads inside the jail, not to the host's.
	if link, target := deadLinkOnTheWay(root, "/bin"); link != "" {
		r.missing("inside the jail a symlink is resolved inside the jail, where this one leads nowhere: make bin a directory of its own (rm my-new-root/bin; mkdir my-new-root/bin; cp /bin/busybox my-new-root/bin/)",
			"my-new-root/bin is a symlink to %s, which leads to nothing inside my-new-root", target)
		return r, nil
	}
	bin, err := securejoin.SecureJoin(root, "/bin")
	if err != nil {
		return nil, err
	}
	bb := filepath.Join(bin, "busybox")
	fi, err := os.Lstat(bb)
	if err != nil {
		hint := "busybox-static's /bin/busybox is one file with no libraries: copy it to my-new-root/bin/"
		if _, err := os.Lstat(filepath.Join(root, "busybox")); err == nil {
			// Copied "into my-new-root", as the exercise's first words say.
			hint = "my-new-root/busybox is there, but the exercise runs it as /bin/busybox, where a shell looks for programs: mkdir my-new-root/bin; mv my-new-root/busybox my-new-root/bin/"
		}
		if others, _ := os.ReadDir(bin); len(others) > 0 {
			hint = "a program like ls or bash needs its libraries too (that is step 2); busybox is static: `file /bin/busybox` says so. Copy it to my-new-root/bin/"
		}
		if target, err := os.Readlink(filepath.Join(root, "bin")); err == nil {
			// A cp through the link, on the host, follows it there: to
			// the host's own /usr/bin, for bin -> /usr/bin.
			inside := "my-new-root" + strings.TrimPrefix(bin, root)
			hint = fmt.Sprintf("my-new-root/bin is a symlink to %s: inside the jail it leads to %s, so copy busybox there (cp /bin/busybox %s/)", target, inside, inside)
			if filepath.IsAbs(target) {
				hint += fmt.Sprintf("; a copy into my-new-root/bin/ would follow the link on the host, to the host's own %s", target)
			}
		}
		if fi, err := os.Lstat(filepath.Join(root, "bin")); err == nil && fi.Mode().IsRegular() {
			// cp /bin/busybox my-new-root/bin, with no bin/ made first.
			hint = "my-new-root/bin is a file, not a directory: cp into a directory that is not there names the copy after it. rm my-new-root/bin; mkdir my-new-root/bin; cp /bin/busybox my-new-root/bin/"
		}
		r.missing(hint, "there is no busybox in my-new-root/bin")
		return r, nil
	}
	// A symlink is judged as chroot judges it: by running it. Inside the
	// jail it resolves inside the jail (bin/busybox -> bb works; a link to
	// the host's /bin/busybox names itself there).
	if fi.IsDir() {
		r.missing("my-new-root/bin/busybox must be the program itself: rm -r my-new-root/bin/busybox, then cp /bin/busybox my-new-root/bin/ (cp into an existing directory puts the file inside it)",
			"my-new-root/bin/busybox is a directory")
		return r, nil
	}
	if !r.byHand("my-new-root/bin/busybox", bb, "rm my-new-root/bin/busybox; cp /bin/busybox my-new-root/bin/") {
		return r, nil
	}
	link := fi.Mode()&os.ModeSymlink != 0
	if link {
		target, _ := os.Readlink(bb)
		r.ok("my-new-root/bin/busybox is a symlink to %s", target)
	} else {
		r.ok("my-new-root/bin/busybox is there")
	}
	out, err := runIn(o.Ctx, root, "/bin/busybox", "ls", "/")
	if cerr := cannotCheck(err); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		hint := "run it yourself: sudo chroot my-new-root /bin/busybox ls /"
		switch closed := closedToOthers(root); {
		case closed != "" && permissionDenied(err):
			hint = closedHint(closed, root)
		case link && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ELOOP) || strings.Contains(err.Error(), "no such file")):
			hint = "inside the jail a symlink is resolved inside the jail, and this one leads to no program there (a link to the host's /bin/busybox names itself): copy the file itself in its place (rm my-new-root/bin/busybox; cp /bin/busybox my-new-root/bin/): a cp onto the link would follow it to the host's file"
		case errors.Is(err, syscall.EACCES):
			hint = "the file is not executable: cp keeps the mode, or chmod +x my-new-root/bin/busybox"
		case errors.Is(err, syscall.ENOENT) || strings.Contains(err.Error(), "no such file"):
			hint = "this busybox is not the static one: install busybox-static, whose /bin/busybox needs no libraries"
		}
		r.missing(hint, "chroot my-new-root /bin/busybox ls / fails: %v", err)
		return r, nil
	}
	if !strings.Contains(out, "bin") {
		r.missing("run it yourself: sudo chroot my-new-root /bin/busybox ls /", "busybox ran in the jail but ls / printed %q", out)
		return r, nil
	}
	r.ok("chroot my-new-root /bin/busybox ls / works (run as nobody, in namespaces of its own), and sees: %s", strings.Join(strings.Fields(out), " "))
	return r, nil
}
