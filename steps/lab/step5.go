package lab

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/doctor"
	"github.com/workshop-dev/workshop/internal/regfile"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	imagetar "github.com/workshop-dev/workshop/steps/05-image-tar"
	"golang.org/x/sys/unix"
)

func init() { checkers[5] = checkStep5 }

// Step 5's exercise: package my-new-root by hand with tar so that it runs
// from container-root. The walkthrough's `tar cvf dockercontainer.tar
// my-new-root` stores every entry under my-new-root/, which is the mistake
// this check looks for first.
func checkStep5(o Options) (*Report, error) {
	r := &Report{Solution: `  tar -C my-new-root -cvf dockercontainer.tar .      # entries relative to the root
  rm -rf container-root                              # the walkthrough's, unpacked the wrong way
  mkdir container-root
  tar -xf dockercontainer.tar -C container-root/
  sudo chroot container-root /bin/bash -c 'echo it runs'`}
	tarPath := o.path("dockercontainer.tar")
	names, err := tarNames(tarPath)
	if errors.Is(err, os.ErrNotExist) {
		hint := "tar -cvf dockercontainer.tar … makes it, in the directory you run the check from"
		if h := fromInside(o); h != "" {
			hint = h
		}
		r.missing(hint, "there is no dockercontainer.tar in %s", o.Dir)
		return r, nil
	}
	if err != nil {
		hint := "make it again with tar -cvf; tar -tvf dockercontainer.tar should list it"
		var unreadable *imagetar.UnreadableCompression
		if errors.As(err, &unreadable) {
			hint = "tar -xf reads it, but the check reads a tar as workshop image import does: plain or gzipped (tar -cvf, tar -czvf), or bzip2 (tar -cjvf)"
		}
		r.missing(hint, "dockercontainer.tar cannot be read: %v", err)
		return r, nil
	}
	r.ok("dockercontainer.tar holds %s", entries(len(names)))
	// A root whose only top directory is bin/ (a static busybox root) is
	// not a wrapped one: as image import, the same test.
	top := commonTop(names)
	if top != "" && top != "." && !imagetar.IsRootDirName(top) {
		r.missing("tar stored the directory's name in front of every entry: tar's -C option changes directory first, so the entries start at the root",
			"every entry in dockercontainer.tar sits under %s/, so unpacking gives container-root/%s/bin/bash and chroot finds no /bin/bash", top, top)
		return r, nil
	}
	// bin/bash, or usr/bin/bash (a merged-/usr root, as step 2 makes on
	// Debian 12, or one made by hand where `which bash` said /usr/bin):
	// run by the path the archive has it at.
	shell := ""
	for _, want := range shells {
		if slices.ContainsFunc(names, func(n string) bool { return cleanName(n) == want }) {
			shell = "/" + want
			break
		}
	}
	if shell == "" {
		// tar cf dockercontainer.tar $PWD/my-new-root stores every entry
		// under tmp/…/my-new-root/: its top, tmp, is a root's directory
		// name, so commonTop let it through.
		if under, shell := wrappedUnder(names); under != "" {
			r.missing("tar stored the path you gave it in front of every entry (all but its leading /): tar's -C option changes directory first, so the entries start at the root",
				"every entry in dockercontainer.tar sits under %s/, so unpacking gives container-root/%s/%s and chroot finds no /%s", under, under, shell, shell)
			return r, nil
		}
		r.missing("pack the root you populated in step 2: it has /bin/bash", "dockercontainer.tar has no bin/bash (nor bin/sh, nor under usr/) at its top")
		return r, nil
	}
	r.ok("its entries are relative to the root, with %s", shell)
	// The archive itself must run, unpacked fresh, whatever an older
	// container-root holds: the image is the point of the exercise.
	out, err := runFromArchive(o.Ctx, o.StateDir, tarPath, shell)
	if cerr := cannotCheck(err); cerr != nil {
		return nil, cerr
	}
	if err != nil || strings.TrimSpace(out) != "it runs" {
		hint := "did the archive get the libraries too? tar -tvf dockercontainer.tar | grep lib; pack the whole root: tar -C my-new-root -cvf dockercontainer.tar ."
		switch {
		case errors.Is(err, syscall.EACCES):
			hint = "the kernel refused to run it: is " + shell + " in the archive executable, and open to others with each directory on its way (tar -tvf dockercontainer.tar)? The check runs it as an unprivileged user"
		case errors.Is(err, imagetar.ErrDeviceNode):
			// As root, the check would make the node, and the archive's
			// program, which it runs, could open the device through it.
			hint = "the check makes no device node from an archive: an image's /dev is the runtime's to make. Pack the root without them: tar -C my-new-root --exclude='./dev/*' -cvf dockercontainer.tar ."
		case errors.As(err, new(*imagetar.EntryError)) && !errors.As(err, new(unix.Errno)):
			hint = "the check unpacks the archive as image import does, and refuses an entry that could land outside the root: pack the root from inside it, with relative names: tar -C my-new-root -cvf dockercontainer.tar ."
		}
		r.missing(hint, "dockercontainer.tar, unpacked into a fresh directory, does not run %s -c 'echo it runs': %s", shell, failure(out, err))
		return r, nil
	}
	r.ok("dockercontainer.tar, unpacked into a fresh directory, runs %s", shell)
	// The archive is of the student's own root: every file in it is in
	// my-new-root (not workshop's step 5 archive copied, nor an image
	// exported). Their sizes may differ since: a shell's history grows.
	mine := o.path("my-new-root")
	if fi, err := os.Stat(mine); err != nil || !fi.IsDir() {
		r.missing("run the check from the directory that holds my-new-root, the root steps 1 and 2 had you fill, and dockercontainer.tar",
			"there is no directory my-new-root in %s, the root dockercontainer.tar is to hold", o.Dir)
		return r, nil
	}
	if differ := notUnpacked(tarPath, mine, "my-new-root", false); differ != "" {
		r.missing("pack your own root, as it is now: tar -C my-new-root -cvf dockercontainer.tar .",
			"dockercontainer.tar is not my-new-root packed: %s", differ)
		return r, nil
	}
	r.ok("it holds my-new-root's files")
	root := o.path("container-root")
	fi, err := os.Lstat(root)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		r.missing("make container-root a directory of its own and unpack the archive into it (rm container-root; mkdir container-root; tar -xf dockercontainer.tar -C container-root/)",
			"container-root is a symlink, not the archive unpacked")
		return r, nil
	case err != nil || !fi.IsDir():
		r.missing("mkdir container-root, then tar -xf with -C container-root/", "there is no directory container-root in %s", o.Dir)
		return r, nil
	}
	if missing := notUnpacked(tarPath, root, "it", true); missing != "" {
		r.missing("unpack the archive into it: tar -xf dockercontainer.tar -C container-root/ (into a fresh container-root if an older one is there)",
			"container-root does not hold what dockercontainer.tar unpacks to: %s", missing)
		return r, nil
	}
	// Unpacked over the walkthrough's container-root, it still holds
	// my-new-root/: not the archive alone.
	if extra := notInArchive(names, root); extra != "" {
		r.missing("unpack it into a fresh container-root: rm -rf container-root; mkdir container-root; tar -xf dockercontainer.tar -C container-root/",
			"container-root also holds %s, which dockercontainer.tar does not: an older unpack is left in it", extra)
		return r, nil
	}
	out, err = runIn(o.Ctx, root, shell, "-c", "echo it runs")
	if cerr := cannotCheck(err); cerr != nil {
		return nil, cerr
	}
	if err != nil || strings.TrimSpace(out) != "it runs" {
		hint := "did the archive get the libraries too? tar -tvf dockercontainer.tar | grep lib"
		if permissionDenied(err) {
			hint = "the kernel refused to run it: is " + o.Dir + " on a filesystem mounted noexec (findmnt -T " + o.Dir + "), and is container-root open to others, as the check runs it as an unprivileged user (chmod -R a+rX container-root)?"
		}
		r.missing(hint, "chroot container-root %s -c 'echo it runs' fails: %s", shell, failure(out, err))
		return r, nil
	}
	r.ok("chroot container-root %s runs (as nobody, in namespaces of its own)", shell)
	return r, nil
}

// entries is "1 entry" or "n entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

// failure says how a run that should have printed "it runs" went wrong:
// its error, or, where it ended well, what it printed instead.
func failure(out string, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("it printed %q", strings.TrimSpace(out))
}

// runFromArchive unpacks the archive (safely: image import's unpack) into a
// temporary directory where only root may change anything (scratchParent:
// the state dir, or the system's temporary directory), runs shell -c 'echo
// it runs' chrooted there, and removes the directory. Not in the student's
// directory: a program of the student's could swap the temporary directory
// for a symlink between its making and the unpack, and have the archive
// unpacked, as root, wherever the link led. Device nodes are refused (the archive's, made as
// root, the program could open), and the setuid and setgid bits dropped
// (where no user namespace holds the program, it would run them as root).
func runFromArchive(ctx context.Context, stateDir, tarPath, shell string) (string, error) {
	parent, err := scratchParent(stateDir)
	if err != nil {
		return "", &CheckError{What: "make a directory to unpack your archive in", Err: err}
	}
	need, err := unpackedSize(tarPath)
	if err != nil {
		return "", err
	}
	if err := imagetar.CheckRoom(parent, need); err != nil {
		return "", &CheckError{What: "unpack your archive", Err: err}
	}
	tmp, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-", state.LabScratchPrefix, os.Getpid()))
	if err != nil {
		return "", &CheckError{What: "make a directory to unpack your archive in", Err: err}
	}
	defer os.RemoveAll(tmp)
	f, err := regfile.Open(tarPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dest := filepath.Join(tmp, "root")
	if _, err := imagetar.Unpack(ctx, sys.Discard(), f, dest, imagetar.UnpackOptions{RefuseDevices: "this unpack refuses device nodes"}); err != nil {
		if diskTrouble(err) {
			return "", &CheckError{What: "unpack your archive in " + parent, Err: err}
		}
		return "", err
	}
	if err := dropSetID(dest); err != nil {
		return "", &CheckError{What: "unpack your archive in " + parent, Err: err}
	}
	out, err := runIn(ctx, dest, shell, "-c", "echo it runs")
	if permissionDenied(err) && doctor.Noexec(dest) {
		return "", &CheckError{What: "run your archive's " + shell, Err: fmt.Errorf("%s, where it unpacks it, is on a filesystem mounted noexec ('workshop doctor' says so too)", parent)}
	}
	return out, err
}

// scratchParent is where runFromArchive makes its directory: the state
// dir where no one but root may change it or any directory above it
// (each owned by root, and writable by no one else unless sticky, as /tmp
// is), or else the system's temporary directory, root's and sticky: in a
// directory a student may change, the temporary directory could be swapped
// for a symlink before the unpack, which goes by path. The state dir, if
// not there yet, is made 0755, as the steps make it.
func scratchParent(stateDir string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return "", err
	}
	if onlyRootChanges(stateDir, false) {
		return stateDir, nil
	}
	tmp := os.TempDir()
	if !onlyRootChanges(tmp, true) {
		return "", fmt.Errorf("neither the state dir %s nor %s is root's alone, to unpack a student's archive in", stateDir, tmp)
	}
	return tmp, nil
}

// onlyRootChanges reports whether dir and every directory above it are
// owned by root and writable by no one else, save for a sticky directory
// (where no one renames another's entry), which dir itself may be only
// where sticky is true.
func onlyRootChanges(dir string, sticky bool) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 {
			return false
		}
		if st.Mode&0o022 != 0 && (st.Mode&unix.S_ISVTX == 0 || d == filepath.Clean(dir) && !sticky) {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// unpackedSize is about what the archive takes unpacked: its files' bytes
// and a block for each entry (read from its headers alone).
func unpackedSize(tarPath string) (int64, error) {
	tr, closeTar, err := openTar(tarPath)
	if err != nil {
		return 0, err
	}
	defer closeTar()
	var need int64
	for {
		h, err := tr.Next()
		if err != nil {
			return need, nil // the end, or damage the unpack reports
		}
		need += 4096
		// A sparse file's Size is the size it unpacks to, holes and all
		// (a 1 TB file in a tiny archive): the unpack refuses it and
		// names it, which room for it would never reach.
		if h.Typeflag == tar.TypeReg && !imagetar.Sparse(h) {
			need += h.Size
		}
	}
}

// diskTrouble says whether an unpack's error is the disk's (no room, no
// quota, read-only, an I/O error), not the archive's.
func diskTrouble(err error) bool {
	for _, e := range []error{unix.ENOSPC, unix.EDQUOT, unix.EROFS, unix.EIO, imagetar.ErrNoRoom} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dropSetID clears the setuid and setgid bits of every file under root,
// a directory no one else can write in (it never follows a symlink: a
// link is no regular file).
func dropSetID(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if m := fi.Mode(); m&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return os.Chmod(p, m&^(fs.ModeSetuid|fs.ModeSetgid))
		}
		return nil
	})
}

// notInArchive names the first directory at root's top that the archive
// has not and that holds a root of its own (a shell below it: the
// walkthrough's my-new-root/, from an older unpack), or "". Other
// additions (a /proc made to mount one on) are the student's to make.
func notInArchive(names []string, root string) string {
	tops := map[string]bool{}
	for _, n := range names {
		first, _, _ := strings.Cut(cleanName(n), "/")
		tops[first] = true
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if tops[e.Name()] || !e.IsDir() {
			continue
		}
		for _, sh := range shells {
			if _, err := os.Lstat(filepath.Join(root, e.Name(), sh)); err == nil {
				return e.Name()
			}
		}
	}
	return ""
}

// notUnpacked names the first regular file of the archive that root (named
// as subject) lacks or, with sameSize, holds with another size ("" when it
// holds them all): root then is not the archive unpacked (an older root, a
// copy made another way). A dot file's size is not judged: a shell's
// history grows as the root is used, as the exercise has it used. A name
// the archive holds more than once (tar -rf, tar -uf appends) is judged by
// its last entry, the one tar -xf leaves.
func notUnpacked(tarPath, root, subject string, sameSize bool) string {
	tr, closeTar, err := openTar(tarPath)
	if err != nil {
		return err.Error()
	}
	defer closeTar()
	var order []string
	last := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err != nil {
			break // the end (or damage tarNames reported already)
		}
		name := cleanName(h.Name)
		if _, seen := last[name]; !seen {
			order = append(order, name)
		}
		last[name] = h
	}
	whose := subject + "'s"
	if subject == "it" {
		whose = "its"
	}
	for _, name := range order {
		h := last[name]
		if h.Typeflag != tar.TypeReg {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, name))
		switch {
		case err != nil:
			return fmt.Sprintf("%s has no %s", subject, name)
		case !fi.Mode().IsRegular():
			return fmt.Sprintf("%s %s is not a file, as the archive's is", whose, name)
		case sameSize && fi.Size() != h.Size && !strings.HasPrefix(path.Base(name), "."):
			return fmt.Sprintf("%s %s is not the archive's (%d bytes, the archive's %d)", whose, name, fi.Size(), h.Size)
		}
	}
	return ""
}

// tarNames lists the entry names of a tar, gzipped or not.
func tarNames(p string) ([]string, error) {
	tr, closeTar, err := openTar(p)
	if err != nil {
		return nil, err
	}
	defer closeTar()
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, tarDamage(len(names), err)
		}
		names = append(names, h.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("it is empty")
	}
	return names, nil
}

// tarDamage says in the check's words why the archive could not be read
// after n entries: archive/tar's own ("archive/tar: invalid tar header",
// "unexpected EOF") name no cause a student knows.
func tarDamage(n int, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("it is cut short, after %s: a copy or a download that stopped early", entries(n))
	case errors.Is(err, tar.ErrHeader):
		if n == 0 {
			return errors.New("it is not a tar archive: its first block is no tar header")
		}
		return fmt.Errorf("it is damaged: after %s come bytes that are no tar header", entries(n))
	}
	return fmt.Errorf("after %s: %w", entries(n), err)
}

// shells are the programs the check runs the root with, by the path an
// archive of a root has them at.
var shells = []string{"bin/bash", "usr/bin/bash", "bin/sh", "usr/bin/sh"}

// wrappedUnder is the directory every entry sits under when the archive
// holds a root with a shell below one ("tmp/lab/my-new-root" for
// tmp/lab/my-new-root/bin/bash), and that shell ("bin/bash"); or "".
//
// Such a directory holds every entry that is no leaf-less step on the way
// to it, so it is at or above the common part of the leaves' paths (the
// entries that hold no other): only those few candidates are tried, each
// against every entry, instead of every entry's against every entry, which
// took minutes of root's CPU for an archive of 200,000 entries.
func wrappedUnder(names []string) (under, shell string) {
	clean := make([]string, 0, len(names))
	holds := map[string]bool{} // every directory an entry sits in
	for _, n := range names {
		c := cleanName(n)
		if c == "" {
			continue
		}
		clean = append(clean, c)
		for d := path.Dir(c); d != "."; d = path.Dir(d) {
			if holds[d] {
				break // and all above it, added already
			}
			holds[d] = true
		}
	}
	var deepest []string // the common part of the leaves, by element
	first := true
	for _, c := range clean {
		if holds[c] {
			continue // not a leaf
		}
		parts := strings.Split(c, "/")
		if first {
			deepest, first = parts, false
			continue
		}
		k := 0
		for k < len(deepest) && k < len(parts) && deepest[k] == parts[k] {
			k++
		}
		deepest = deepest[:k]
	}
	common := strings.Join(deepest, "/")
	tried := map[string]bool{}
	for _, c := range clean {
		for _, want := range shells {
			u, ok := strings.CutSuffix(c, "/"+want)
			if !ok || u == "" || tried[u] || (common != u && !strings.HasPrefix(common, u+"/")) {
				continue
			}
			tried[u] = true
			if !slices.ContainsFunc(clean, func(c string) bool {
				return c != u && !strings.HasPrefix(u+"/", c+"/") && !strings.HasPrefix(c, u+"/")
			}) {
				return u, want
			}
		}
	}
	return "", ""
}

func cleanName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

// commonTop is the first path element every entry shares, a directory
// that holds some of them, or "" (an archive of one file, "h", has no
// top directory).
func commonTop(names []string) string {
	top, holds := "", false
	for _, n := range names {
		c := cleanName(n)
		if c == "" {
			continue // "./" itself
		}
		first, rest, _ := strings.Cut(c, "/")
		if top == "" {
			top = first
		} else if top != first {
			return ""
		}
		holds = holds || rest != ""
	}
	if !holds {
		return ""
	}
	return top
}

// openTar opens a tar, gzipped or not, for reading its entries; the close
// it returns closes the file. The student's dockercontainer.tar is opened
// only if it is a regular file: a FIFO by that name would hang the check.
func openTar(p string) (*tar.Reader, func() error, error) {
	f, err := regfile.Open(p)
	if err != nil {
		return nil, nil, err
	}
	// As image import reads it: plain, gzip or bzip2; another
	// compression (tar -cJf's xz) is named, not taken for damage.
	rd, _, err := imagetar.Decompress(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return tar.NewReader(rd), f.Close, nil
}
