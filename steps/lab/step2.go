package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/workshop-dev/workshop/internal/elfinterp"
	"github.com/workshop-dev/workshop/internal/regfile"
	chroot "github.com/workshop-dev/workshop/steps/01-chroot"
)

func init() { checkers[2] = checkStep2 }

// Step 2's exercise: make `ls` work in my-new-root by hand, with ldd and cp.
func checkStep2(o Options) (*Report, error) {
	r := &Report{Solution: `  mkdir -p my-new-root/bin
  cp /bin/ls my-new-root/bin/
  ldd /bin/ls        # then, for each library it lists (and the loader, /lib64/ld-linux-x86-64.so.2):
  mkdir -p my-new-root/lib/x86_64-linux-gnu && cp /lib/x86_64-linux-gnu/libselinux.so.1 my-new-root/lib/x86_64-linux-gnu/   # and so on
  sudo chroot my-new-root /bin/ls /`}
	root, ok := r.dir(o, "my-new-root", "make it in the directory you run the check from: mkdir my-new-root")
	if !ok {
		return r, nil
	}
	// Looked for as `chroot my-new-root ls` looks: in each directory of
	// the PATH (root's, on Debian: chroot.DefaultPath), inside the root.
	ls := ""
	var looked []string
	for _, d := range strings.Split(chroot.DefaultPath, ":") {
		p := filepath.Join(d, "ls")
		looked = append(looked, p)
		if fi, err := os.Lstat(filepath.Join(root, p)); err == nil && !fi.IsDir() {
			ls = p
			break
		}
	}
	if ls == "" {
		r.missing("which ls tells where the host keeps it; copy it to the same place inside the root", "there is no ls in my-new-root (looked for %s, the PATH's directories)", strings.Join(looked, ", "))
		return r, nil
	}
	// A copy onto a symlink follows it (to busybox, which ls -> busybox
	// would overwrite; or nowhere, which cp refuses): where ls is a link,
	// each hint that copies removes it first. Where a directory on its
	// way is one (bin -> /bin), a copy would go through it, on the host:
	// the directory is made anew instead.
	link := firstLink(root, ls)
	replace := ""
	switch {
	case link == ls:
		replace = "rm my-new-root" + ls + "; "
	case link != "":
		replace = "rm my-new-root" + link + "; mkdir my-new-root" + link + "; "
	}
	// A symlink resolves inside the root there, as the kernel's execve
	// will: one that leads to nothing (bin/ls -> /usr/bin/ls, the root
	// without it) is said so, not as a missing loader; one that leads
	// round in a loop (bin/ls -> /bin/ls names itself there) too.
	real, err := securejoin.SecureJoin(root, ls)
	if errors.Is(err, syscall.ELOOP) {
		what := fmt.Sprintf("my-new-root%s leads round in a loop of symlinks inside the root", ls)
		why := "inside the root a symlink is resolved inside the root"
		if link != "" {
			linkTarget, _ := os.Readlink(filepath.Join(root, link))
			what += fmt.Sprintf(" (my-new-root%s is a symlink to %s)", link, linkTarget)
			if filepath.IsAbs(linkTarget) {
				why += ", where a link to " + linkTarget + " is looked up inside the root too"
			}
		}
		r.missing(why+": put the program itself there ("+replace+"cp /bin/ls my-new-root"+ls+")", "%s", what)
		return r, nil
	}
	if err == nil {
		if _, err := os.Stat(real); err != nil {
			what := fmt.Sprintf("my-new-root%s, looked up inside the root as the kernel will, leads to no file: a directory on its way is a symlink that leads out of the root (ls -l my-new-root%s)", ls, filepath.Dir(ls))
			if dead, target := deadLinkOnTheWay(root, ls); dead == ls {
				what = fmt.Sprintf("my-new-root%s is a symlink to %s, which my-new-root does not hold", ls, target)
			} else if dead != "" {
				what = fmt.Sprintf("my-new-root%s, looked up inside the root as the kernel will, leads to no file: my-new-root%s is a symlink to %s, which leads to nothing inside the root", ls, dead, target)
			}
			r.missing("inside the root a symlink is resolved inside the root: copy the program itself to "+ls+" ("+replace+"cp -L /bin/ls my-new-root"+ls+"), or the files its links name too", "%s", what)
			return r, nil
		}
	}
	if err == nil && !r.byHand("my-new-root"+ls, real, "rm my-new-root"+ls+"; cp /bin/ls my-new-root"+ls+"; then ldd /bin/ls, and cp each library it names") {
		return r, nil
	}
	r.ok("my-new-root has %s", ls)
	// The exercise is the libraries: an ls that needs none (busybox's, a
	// static one, a script) would work without them.
	if why := notDynamic(root, ls); why != "" {
		r.missing("the exercise is the host's ls and the libraries ldd lists for it: "+replace+"cp /bin/ls my-new-root"+ls+", then copy what ldd /bin/ls names",
			"the %s in my-new-root needs no library: %s", ls, why)
		return r, nil
	}
	out, err := runIn(o.Ctx, root, ls, "/")
	if cerr := cannotCheck(err); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		var pe *os.PathError
		switch closed := closedToOthers(root); {
		case closed != "":
			// Whatever the failure says: the loader reports a library
			// it may not read as missing ("No such file or directory").
			r.missing(closedHint(closed, root), "chroot my-new-root %s fails: %v", ls, err)
		case errors.Is(err, syscall.EACCES):
			r.missing("the file is not executable: cp keeps the mode, or chmod +x my-new-root"+ls,
				"chroot my-new-root %s fails: %v", ls, err)
		case errors.As(err, &pe) || strings.Contains(err.Error(), "no such file"):
			// The execve's ENOENT, ls being there: the loader the kernel
			// runs for it is not (a missing library is the loader's own
			// message, "error while loading shared libraries").
			r.missing(loaderHint(root, ls), "chroot my-new-root %s fails: %v", ls, err)
		default:
			r.missing("ldd /bin/ls lists every library ls needs: is each one copied to the same path inside the root?",
				"chroot my-new-root %s / fails: %v", ls, err)
		}
		return r, nil
	}
	if !strings.Contains(out, strings.Split(strings.TrimPrefix(ls, "/"), "/")[0]) {
		r.missing("ls ran but did not list the root: run it yourself with sudo chroot my-new-root "+ls+" /", "ls in my-new-root printed %q", out)
		return r, nil
	}
	r.ok("chroot my-new-root %s / works (run as nobody, in namespaces of its own) and lists: %s", ls, strings.Join(strings.Fields(out), " "))
	return r, nil
}

// loaderHint is the hint for an execve of ls that failed with ENOENT, ls
// being there: its loader (its ELF interpreter, by the path ls names it
// by) is not, or is a symlink that leads nowhere inside the root.
func loaderHint(root, ls string) string {
	interp := "/lib64/ld-linux-x86-64.so.2"
	if real, err := securejoin.SecureJoin(root, ls); err == nil {
		if i, err := elfinterp.Of(real); err == nil && i != "" {
			interp = i
		}
	}
	switch link, target := deadLinkOnTheWay(root, interp); {
	case link == interp:
		return fmt.Sprintf("ls's loader, %s, is in the root as a symlink to %s, which leads to no file inside the root: copy the file itself (cp -L %s my-new-root%s)", interp, target, interp, interp)
	case link != "":
		// cp -r /lib64 my-new-root/ on a merged-/usr host copies the
		// link lib64 -> usr/lib64, and none of what it leads to.
		return fmt.Sprintf("ls's loader, %s, is reached through my-new-root%s, a symlink to %s (cp -r copies a symlink as a symlink), which leads to nothing inside the root: "+
			"make it a directory of its own (rm my-new-root%s; mkdir my-new-root%s) and copy the loader into it (cp -L %s my-new-root%s)", interp, link, target, link, link, interp, interp)
	}
	return fmt.Sprintf("ls is there, so the kernel did not find its loader, the program it runs to load ls's libraries: %s, the last line of `ldd /bin/ls`; copy it to the same path inside the root", interp)
}

// notDynamic says why the program at p inside root (its symlinks resolved
// inside root) is not a dynamically linked ELF, or "" when it is one.
func notDynamic(root, p string) string {
	real, err := securejoin.SecureJoin(root, p)
	if err != nil {
		return ""
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "" // nothing there (a dangling link): running it says so
	}
	interp, err := elfinterp.Of(real)
	switch {
	case errors.Is(err, elfinterp.ErrNotRegular):
		return "it is not a regular file: it is " + regfile.Kind(fi.Mode())
	case err != nil:
		return "it is not an ELF program (a script?)"
	case interp != "":
		return ""
	}
	if target, err := os.Readlink(filepath.Join(root, p)); err == nil && strings.Contains(target, "busybox") {
		return "it is a link to busybox, a static program"
	}
	return "it is a static program"
}
