package imagetar

import (
	"archive/tar"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// UnpackOptions are the choices of an unpack.
type UnpackOptions struct {
	// RefuseDevices, when not empty, is why device nodes are refused even
	// where they could be made: the end of the refusal's sentence. By
	// default they are made only by real root in the initial user
	// namespace (DevicesAllowed) and refused elsewhere.
	RefuseDevices string
	// Progress, when not nil, is a terminal on which a long unpack shows
	// how far it got (see ProgressTo).
	Progress io.Writer
	// Track, when not nil, records the temporary directory the root is
	// unpacked into before it is made, beside dest, outside the state dir,
	// so that 'workshop clean' finds it after a kill -9 (Store.track);
	// done forgets it once it is renamed into place or removed.
	Track func(tmp string) (done func(), err error)
}

// ErrArchive is the cause of every "this is not a readable archive" error:
// truncated, corrupt, or not a tar at all.
var ErrArchive = errors.New("unreadable archive")

// ArchiveError says what is wrong with an archive's bytes and where.
type ArchiveError struct {
	Reason string // "is truncated", "is corrupt"…
	Where  string // "after entry "./bin/bash"", "inside entry …"
	Err    error
}

func (e *ArchiveError) Error() string {
	where := e.Where
	if where == "" {
		where = "before its first entry"
	}
	return fmt.Sprintf("the archive %s, %s: %v", e.Reason, where, e.Err)
}

func (e *ArchiveError) Is(target error) bool { return target == ErrArchive }
func (e *ArchiveError) Unwrap() error        { return e.Err }

// readError names what went wrong while reading an archive's bytes.
func readError(err error, doing string) error {
	var corrupt flate.CorruptInputError
	var corruptBzip2 bzip2.StructuralError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ArchiveError{Reason: "is truncated", Err: fmt.Errorf("%s: it ends too early", doing)}
	case errors.Is(err, tar.ErrHeader):
		// Go's reader says the same of a damaged header and of a PAX
		// record it refuses (a NUL in a path, a size past int64): both
		// named.
		return corruptError(doing, err, "bytes that are not a tar header, or a header with an extended (PAX) record it cannot be (a NUL in a name, a size or time that is no number, or too big)")
	case errors.Is(err, tar.ErrFieldTooLong):
		return corruptError(doing, err, "a header field longer than tar allows")
	case errors.Is(err, gzip.ErrChecksum):
		return corruptError(doing, err, "gzip's checksum does not match the data: a byte of it is damaged")
	case errors.Is(err, gzip.ErrHeader):
		return corruptError(doing, err, "bytes that are not a gzip header")
	case errors.As(err, &corrupt):
		return corruptError(doing, err, fmt.Sprintf("damaged gzip data, at byte %d of the compressed stream", int64(corrupt)))
	case errors.As(err, &corruptBzip2):
		return corruptError(doing, err, "damaged bzip2 data ("+strings.TrimPrefix(corruptBzip2.Error(), "bzip2 data invalid: ")+")")
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// corruptError is an ArchiveError in workshop's words, not Go's package's
// ("archive/tar: invalid tar header"), still matching the package's error.
func corruptError(doing string, err error, words string) *ArchiveError {
	return &ArchiveError{Reason: "is corrupt", Err: fmt.Errorf("%s: %w", doing, inWords{words, err})}
}

// inWords is an error said in other words.
type inWords struct {
	words string
	err   error
}

func (w inWords) Error() string { return w.words }
func (w inWords) Unwrap() error { return w.err }

// endError names what went wrong reading an archive's last bytes, after
// all its entries: gzip checks its checksum only there, so a byte damaged
// anywhere in a gzipped archive is found at its end.
func endError(err error) error {
	e := readError(err, "read the end of the archive")
	if a, ok := e.(*ArchiveError); ok {
		a.Where = "found at its end"
	}
	return e
}

// headerError names what went wrong reading the header after entry last
// ("" before the first one, where it means the bytes are no tar at all).
func headerError(err error, last string) error {
	ae := readError(err, "read the next header")
	a, ok := ae.(*ArchiveError)
	if !ok {
		return ae
	}
	switch {
	case last == "":
		a.Reason = "is not a tar archive, or is " + strings.TrimPrefix(a.Reason, "is ") + " from its start"
	case errors.Is(err, io.ErrUnexpectedEOF):
		// archive/tar skips what was not read of an entry's data on its
		// way to the next header: the cut may be in either.
		a.Where = "in or right after entry " + quoteShort(last)
		a.Err = errors.New("it ends too early, inside that entry's data or the header after it")
	default:
		a.Where = "after entry " + quoteShort(last)
	}
	return a
}

// Unpack reads a tar, gzipped or not (told apart by its first bytes), from r
// and makes the root it holds at dest, which must not exist yet or be an
// empty directory.
//
// Nothing outside dest is created, written, linked, chmod-ed, chown-ed or
// timestamped, whatever the archive holds (see extractor). The entries go
// into a temporary directory beside dest, renamed to dest only when all are
// in; on any error, or when ctx is cancelled (Ctrl-C), it is removed, so no
// half-unpacked root is ever left. A cancelled ctx gives an
// *InterruptedError that says so.
//
// The narrator shows the temporary directory's mkdirat, the final renameat,
// and a summary of the entries in between (one line per entry would bury
// the lesson).
func Unpack(ctx context.Context, n *sys.Narrator, r io.Reader, dest string, opts UnpackOptions) (Stats, error) {
	dest = filepath.Clean(dest)
	if err := freshDestination(dest); err != nil {
		return Stats{}, err
	}
	_, lerr := os.Lstat(dest)
	existed := lerr == nil // an empty directory, which the rename replaces
	made, err := mkdirParents(n, filepath.Dir(dest))
	// What it made for dest goes again if no root is left there.
	defer func() {
		if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
			for i := len(made) - 1; i >= 0; i-- {
				n.Rmdir(made[i]) // only if empty
			}
		}
	}()
	if err != nil {
		return Stats{}, err
	}
	tmp, done, err := makeTempBeside(n, dest, "unpack", opts.Track)
	if err != nil {
		return Stats{}, err
	}
	defer done()
	// The directories an archive does not list (usr/ for usr/lib/x) are
	// made 0755, as in every image, whatever the umask of the shell that
	// started workshop: 077 would make them 0700, and the image's root
	// would keep them so. The umask is the process's: it is put back.
	if mask := sys.CurrentUmask(); mask != 0o022 {
		old := n.Because("directories the archive does not list get 0755, whatever your shell's umask").Umask(0o022)
		defer n.Umask(old)
	}
	st, err := unpackInto(ctx, r, tmp, opts)
	if err == nil {
		n.Note("unpacked %s: %s", filepath.Base(dest), st)
		n.Note("each entry is made by one call relative to its directory inside the new root (openat, mkdirat, symlinkat, linkat or mknodat), then given its owner, mode and times (fchown, or fchownat for a symlink; fchmod, utimensat): summarised here, not printed one by one")
		if err = n.Rename(tmp, dest); err == nil {
			return st, nil
		}
		err = placeError(dest, err)
	}
	// No half-unpacked root is ever left: not on an error, not on Ctrl-C.
	// RemoveTree never follows a symlink it finds.
	if rerr := n.RemoveTree(tmp); rerr != nil {
		return st, fmt.Errorf("%w; and the half-unpacked %s could not be removed: %v", err, tmp, rerr)
	}
	n.Note("removed the half-unpacked %s", tmp)
	if interrupted(ctx, err) {
		left := dest + " was not made"
		if existed {
			left = dest + " is empty, as it was"
		}
		return st, &InterruptedError{What: "the half-unpacked root was removed, and " + left, Cause: context.Cause(ctx)}
	}
	return st, err
}

// unpackInto places every entry of the archive r under dir, which is new
// and empty.
func unpackInto(ctx context.Context, r io.Reader, dir string, opts UnpackOptions) (Stats, error) {
	root, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, err
	}
	defer root.Close()
	x := &extractor{
		root:     root,
		rootPath: filepath.Clean(dir),
		devices:  opts.RefuseDevices == "" && DevicesAllowed(),
		chown:    os.Geteuid() == 0,
		noDev:    "only real root outside a user namespace may make one: this process is not",
	}
	if opts.RefuseDevices != "" {
		x.noDev = opts.RefuseDevices
	}
	tr, _, err := Decompress(r)
	if err != nil {
		return x.stats, readError(err, "read its first bytes")
	}
	prog := newProgress(opts.Progress, "unpacking")
	defer prog.done()
	rootSeen := false
	end := newEndMark(tr)
	tarReader := tar.NewReader(end)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return x.stats, fmt.Errorf("unpack interrupted: %w", err)
		}
		hdr, err := tarReader.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil // names are checked here, the same way with any GODEBUG
		}
		if err == io.EOF {
			if err := end.atEnd(last); err != nil {
				return x.stats, err
			}
			break
		}
		if err != nil {
			return x.stats, headerError(err, last)
		}
		end.entry(hdr)
		if err := x.place(hdr, tarReader); err != nil {
			if a, ok := err.(*ArchiveError); ok {
				a.Where = "inside entry " + quoteShort(hdr.Name)
				return x.stats, a
			}
			return x.stats, &EntryError{Name: hdr.Name, Err: err}
		}
		if p, _ := entryPath(hdr.Name, ""); p == "." {
			rootSeen = true
		}
		x.stats.Entries++
		last = hdr.Name
		prog.update(x.stats.Entries, x.stats.Bytes)
	}
	if err := x.finishDirs(); err != nil {
		return x.stats, err
	}
	if !rootSeen {
		// The temporary directory was made 0700; a root without a "./"
		// entry (docker export's) gets the usual 0755.
		if err := root.Chmod(0o755); err != nil {
			return x.stats, err
		}
	}
	return x.stats, nil
}

// placeError is the sentence of a rename of the unpacked root onto dest
// that failed. DIR was empty or absent when the unpack began: another
// unpack into it at the same moment, or a program, filled it meanwhile.
func placeError(dest string, err error) error {
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s exists and is not empty: it was filled while this unpack ran (another unpack into it at once?), and unpack makes a fresh root; remove it first or pick another directory", dest)
	}
	return fmt.Errorf("move the unpacked root into place: %w", err)
}

// freshDestination checks that dest can receive a new root: it does not
// exist, or is an empty directory (which the rename replaces).
func freshDestination(dest string) error {
	fi, err := os.Lstat(dest)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink: unpack would replace the link, not fill what it points to; give that directory itself", dest)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory: unpack makes a fresh directory there", dest)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty: unpack makes a fresh root, remove it first or pick another directory", dest)
	}
	// The rename that puts the new root in place would leave a shell in
	// the old directory, removed (rename onto "." itself the kernel
	// refuses: EBUSY); a mount point it refuses too.
	inside := filepath.Join(dest, "root")
	if !strings.Contains(inside, "/") {
		inside = "./" + inside
	}
	if cwd, err := os.Stat("."); err == nil && os.SameFile(fi, cwd) {
		return fmt.Errorf("%s is the current directory: unpack makes a fresh directory and renames it onto %s, which would leave your shell in the old one, removed; give a new directory's name (%s)", dest, dest, inside)
	}
	if isMountPoint(dest, fi) {
		return fmt.Errorf("%s is a mount point: unpack makes a fresh directory and renames it onto %s, which the kernel refuses for a mount point; give a directory in it (%s)", dest, dest, inside)
	}
	return nil
}

// mkdirParents makes dir and its missing parents, 0755, as mkdir -p does,
// and returns the directories it made, outermost first.
func mkdirParents(n *sys.Narrator, dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		err := n.Mkdir(missing[i], 0o755)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return made, err
		}
		if err == nil {
			made = append(made, missing[i])
		}
	}
	return made, nil
}

// makeTempBeside makes a new directory next to dest (same filesystem, so a
// rename moves it into place), named tempBeside(dest, what).
func makeTempBeside(n *sys.Narrator, dest, what string, track func(string) (func(), error)) (tmp string, done func(), err error) {
	tmp, done, err = newBeside(dest, what, track, func(tmp string) error { return n.Mkdir(tmp, 0o700) })
	if err != nil && !errors.Is(err, errNoFreeName) {
		// Named by what the student gave, not by the temporary name.
		return "", nil, fmt.Errorf("cannot make a directory in %s, beside %s (it is made there, then renamed into place): %w", filepath.Dir(dest), filepath.Base(dest), unwrapPath(err))
	}
	return tmp, done, err
}

// errNoFreeName is newBeside's error when every name it tried was taken.
var errNoFreeName = errors.New("no free temporary name")

// newBeside makes something new beside dest with make (a mkdir, or a
// create with O_EXCL), under a fresh name (tempBeside), recorded with
// track (when not nil) before it is made, so that 'workshop clean' finds
// it after a kill -9; done forgets it. A name another holds already
// (EEXIST: 48 random bits met) is given up, its record at once (kept, it
// would have clean remove another's file), and another one tried.
func newBeside(dest, what string, track func(string) (func(), error), make func(tmp string) error) (tmp string, done func(), err error) {
	if track == nil {
		track = func(string) (func(), error) { return func() {}, nil }
	}
	for range 10 {
		tmp := tempBeside(dest, what)
		done, err := track(tmp)
		if err != nil {
			return "", nil, err
		}
		err = make(tmp)
		if errors.Is(err, unix.EEXIST) {
			done()
			continue
		}
		if err != nil {
			done()
			return "", nil, err
		}
		return tmp, done, nil
	}
	return "", nil, fmt.Errorf("beside %s: %w", dest, errNoFreeName)
}

// tempBeside names a new file or directory next to dest, so that a rename
// moves it into place: .<dest>.<what>-<random>.
func tempBeside(dest, what string) string {
	var b [6]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+"."+what+"-"+hex.EncodeToString(b[:]))
}

// isMountPoint reports whether the directory dest (fi) is a mount point:
// statx says so (Linux 5.8), for a bind mount of a directory of the same
// filesystem too; an older kernel's answer is a device other than its
// parent's.
func isMountPoint(dest string, fi os.FileInfo) bool {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dest, unix.AT_SYMLINK_NOFOLLOW, 0, &stx); err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
	}
	parent, err := os.Stat(filepath.Join(dest, ".."))
	return err == nil && deviceOf(fi) != deviceOf(parent)
}

// deviceOf is the filesystem a file is on (st_dev).
func deviceOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}
