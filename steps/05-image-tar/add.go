package imagetar

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/regfile"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"github.com/workshop-dev/workshop/internal/units"
	"golang.org/x/sys/unix"
)

// Pack makes an image of the root directory dir, tagged ref:
// `workshop image pack DIR NAME[:TAG]`.
func (s *Store) Pack(ctx context.Context, n *sys.Narrator, dir, ref string) (Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, exit.Code(exit.ToolFailed, err)
	}
	if fi, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return Image{}, exit.Errorf(exit.ToolFailed, "%s does not exist: give the root directory to make an image of", dir)
	} else if err != nil || !fi.IsDir() {
		return Image{}, exit.Errorf(exit.ToolFailed, "%s is not a directory: give the root directory to make an image of", dir)
	}
	abs, _ := filepath.Abs(dir)
	if Holds(abs, s.dir) {
		return Image{}, exit.Errorf(exit.ToolFailed, "%s holds the image store %s: the image being made would be packed into itself; "+
			"give a root directory outside it", dir, s.dir)
	}
	unlock, err := s.lock(n, true)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	return s.add(ctx, n, r, "pack "+abs, func(w io.Writer) (Stats, error) {
		n.Note("packing %s: its entries are stored relative to it (./bin/bash), as images store them", abs)
		return Pack(ctx, dir, w, PackOptions{Progress: s.Progress})
	})
}

// Holds reports whether the directory dir is path or one of its ancestors,
// symlinks resolved where they exist.
func Holds(dir, path string) bool {
	rel, err := filepath.Rel(state.Resolve(dir), state.Resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// Import makes an image of a root filesystem archive, tar or tar.gz, tagged
// ref: `workshop image import FILE NAME[:TAG]`. It takes the walkthrough's
// dockercontainer.tar (whose entries all sit under my-new-root/: that
// directory is stripped, with a note) and `docker export` output alike.
func (s *Store) Import(ctx context.Context, n *sys.Narrator, file, ref string) (Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, exit.Code(exit.ToolFailed, err)
	}
	abs, _ := filepath.Abs(file)
	f, err := n.Open(file)
	if err != nil {
		return Image{}, exit.Errorf(exit.ToolFailed, "import %s: %v", file, unwrapPath(err))
	}
	defer n.Close(f)
	// A pipe or a FIFO (/dev/stdin in a pipeline, bash's <(…)) can be read
	// only once, and an import reads twice: it is saved first, as "-" is.
	// A device is no archive: /dev/sda would be copied whole.
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		switch m := fi.Mode(); {
		case m&(os.ModeNamedPipe|os.ModeSocket) != 0:
			return s.importStream(ctx, n, f, file, r, "import "+abs)
		case m.IsDir():
			return Image{}, exit.Errorf(exit.ToolFailed, "import %s: it is a directory; 'workshop image pack %s NAME' makes an image of a directory", file, file)
		default:
			return Image{}, exit.Errorf(exit.ToolFailed, "import %s: it is a device, not an archive (to import standard input, give -)", file)
		}
	}
	unlock, err := s.lock(n, true)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	return s.importFile(ctx, n, f, file, r, "import "+abs)
}

// ImportFrom is Import from a stream (`workshop image import - NAME`, with
// `docker export` piped in): the stream is saved in the store first, since
// it is read twice. A cancelled ctx (Ctrl-C) stops it at once, even while
// the stream's writer keeps it open and writes nothing, and releases the
// store's lock with the store as it was.
func (s *Store) ImportFrom(ctx context.Context, n *sys.Narrator, in io.Reader, ref string) (Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, exit.Code(exit.ToolFailed, err)
	}
	return s.importStream(ctx, n, in, "standard input", r, "import from standard input")
}

// importStream imports what in holds, saved in the store first: name is
// what messages call it, source what the image records it came from.
//
// The stream is saved before the store's lock is taken where the store's
// filesystem makes nameless files (O_TMPFILE: ext4, xfs, btrfs, tmpfs):
// its writer may take its time, or never close it, and every other store
// command (a run finding its image, `image ls`) would wait that long for
// the lock. Such a file needs no removal: it goes with its last
// descriptor, however the import ends. Elsewhere it is saved under the
// lock, in a file named as an addition's leftovers are.
func (s *Store) importStream(ctx context.Context, n *sys.Narrator, in io.Reader, name string, r Ref, source string) (Image, error) {
	spool, err := s.namelessSpool()
	saved := err == nil
	if saved {
		defer spool.Close()
		if err := s.spool(ctx, spool, in, name); err != nil {
			return Image{}, err
		}
	}
	unlock, err := s.lock(n, true)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if !saved {
		if spool, err = os.CreateTemp(s.dir, newPrefix+"stdin-"); err != nil {
			return Image{}, fmt.Errorf("image store: %w", err)
		}
		// Deferred calls run last to first: the spool is closed and
		// removed before the lock goes.
		defer os.Remove(spool.Name())
		defer spool.Close()
		if err := s.spool(ctx, spool, in, name); err != nil {
			return Image{}, err
		}
	}
	return s.importFile(ctx, n, spool, name, r, source)
}

// namelessSpool opens a file with no name in the store's directory
// (making the directory first, as the lock does), or fails where the
// filesystem has no O_TMPFILE.
func (s *Store) namelessSpool() (*os.File, error) {
	if err := state.MkdirPrivate(s.dir); err != nil {
		return nil, err
	}
	fd, err := openNameless(s.dir)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(s.dir, "(standard input, saved)")), nil
}

// openNameless opens a new file without a name in dir: a variable, so that
// a test can take a filesystem without O_TMPFILE's place.
var openNameless = func(dir string) (int, error) {
	return unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
}

// spool copies in to the file spool, then goes back to its start for the
// import to read. A stream whose first block begins no archive is refused
// there (headRefusal), before the rest is read.
func (s *Store) spool(ctx context.Context, spool *os.File, in io.Reader, name string) error {
	space, err := roomIn(s.dir)
	if err != nil {
		return err
	}
	if err := copyUntilDone(ctx, &headChecked{w: space.writer(spool)}, in); err != nil {
		if isStop(ctx, err) {
			return stoppedAdding(ctx)
		}
		return fmt.Errorf("import %s: %w", name, err)
	}
	if ctx.Err() != nil {
		return stoppedAdding(ctx)
	}
	_, err = spool.Seek(0, io.SeekStart)
	return err
}

// copyUntilDone copies in to out until in ends, or until ctx is cancelled.
// A read of a pipe or a terminal waits for its writer, and nothing wakes it
// up on Ctrl-C: standard input is a blocking descriptor, outside the Go
// runtime's poller, and closing it ends no read(2) under way. So the copy
// runs in a goroutine, and on cancellation the caller goes on without it:
// that goroutine stays blocked in read(2) until the writer writes or closes
// (or the process exits), then stops without writing (ctxReader), and a
// write already under way goes to out after the caller closed it, which
// fails. An input that takes deadlines (a pipe opened non-blocking) is also
// given one in the past, which ends its read at once.
func copyUntilDone(ctx context.Context, out io.Writer, in io.Reader) error {
	copied := make(chan error, 1)
	go func() {
		// writerOnly hides out's ReadFrom: no splice(2) that would
		// bypass ctxReader.
		_, err := io.Copy(writerOnly{out}, ctxReader{ctx, in})
		copied <- err
	}()
	select {
	case err := <-copied:
		return err
	case <-ctx.Done():
		if d, ok := in.(interface{ SetReadDeadline(time.Time) error }); ok {
			d.SetReadDeadline(time.Now()) // os.ErrNoDeadline for a blocking one: nothing to do
		}
		return fmt.Errorf("read interrupted: %w", ctx.Err())
	}
}

// ctxReader reads r until ctx is cancelled, then fails with ctx.Err(): a
// long copy (a 60 MB file inside an archive) stops at its next read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("read interrupted: %w", err)
	}
	return c.r.Read(p)
}

type writerOnly struct{ io.Writer }

// stoppedAdding is what an addition stopped by ctx returns: everything it
// made is in the .new-* directory (or the spool of standard input), which
// the deferred calls of add (or ImportFrom) remove, before the lock is
// released; index.json is not touched before the end.
func stoppedAdding(ctx context.Context) error {
	return &InterruptedError{What: "the half-made image was removed; the store is as it was", Cause: context.Cause(ctx)}
}

// isStop reports whether err is ctx's cancellation, or an Unpack that ctx
// stopped (whose *InterruptedError wraps the cause, a signal, instead).
func isStop(ctx context.Context, err error) bool {
	var ie *InterruptedError
	return interrupted(ctx, err) || (ctx.Err() != nil && errors.As(err, &ie))
}

func (s *Store) importFile(ctx context.Context, n *sys.Narrator, f *os.File, name string, r Ref, source string) (Image, error) {
	// A file that begins no archive (a text file, a program, named by
	// mistake) is said so by its first block, as a stream is, not by the
	// tar reader's longer guess at its first header.
	head := make([]byte, blockSize)
	k, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return Image{}, fmt.Errorf("import %s: %w", name, err)
	}
	if err := wholeHeadRefusal(head[:k]); err != nil {
		return Image{}, fmt.Errorf("import %s: %w", name, err)
	}
	if err := innerHeadRefusal(io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return Image{}, fmt.Errorf("import %s: %w", name, err)
	}
	// Both passes read f through ctxReader: Ctrl-C stops them at their
	// next read, not at the end of the archive.
	top, entries, err := topDir(ctx, ctxReader{ctx, f})
	if isStop(ctx, err) {
		return Image{}, stoppedAdding(ctx)
	}
	if err != nil {
		return Image{}, fmt.Errorf("import %s: %w", name, err)
	}
	if entries == 0 {
		return Image{}, fmt.Errorf("import %s: the archive holds no entries: there is no root in it", name)
	}
	if top != "" {
		shown := shownName(top)
		n.Note("every entry of %s sits under %s/ (an archive made the walkthrough's way: tar cvf dockercontainer.tar %s): stripping %s/ so that the image's entries start at its root", name, shown, shown, shown)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Image{}, err
	}
	names := map[string]string{}
	img, err := s.add(ctx, n, r, source, func(w io.Writer) (Stats, error) {
		return normalize(ctx, ctxReader{ctx, f}, w, top, names)
	})
	var ie *InterruptedError
	if errors.As(err, &ie) {
		return Image{}, err // it says all: no "import FILE:" in front
	}
	var ee *EntryError
	if errors.As(err, &ee) && names[ee.Name] != "" {
		ee.Name = names[ee.Name]
	}
	if err != nil {
		return Image{}, fmt.Errorf("import %s: %w", name, err)
	}
	// Lstat: a bin that is a symlink (bin -> usr/bin, or /usr/bin, which
	// resolves inside the image, not on this host) is there.
	if !inRoot(img.Rootfs, "bin") && !inRoot(img.Rootfs, "usr/bin") {
		// tar cf x.tar /srv/my-new-root stores srv/my-new-root/bin/…:
		// one top directory (srv/) is stripped, and the root is deeper.
		n.Note("image %s has no bin/ or usr/bin/ at its root, so a command run from it needs its whole path; "+
			"a tar made from a path (tar cf x.tar /srv/my-new-root) holds its root under that path (srv/my-new-root/bin/…): "+
			"make it from inside the root instead (tar -C /srv/my-new-root -cf x.tar .)", r)
	}
	return img, nil
}

// add stores an image whose tar write produces, tagged r. The caller holds
// the exclusive lock. Everything is made in a .new-* directory, renamed to
// the image's id at the end: a failure (or a kill) leaves no half image.
func (s *Store) add(ctx context.Context, n *sys.Narrator, r Ref, source string, write func(io.Writer) (Stats, error)) (Image, error) {
	tmp, err := s.newDir(n)
	if err != nil {
		return Image{}, err
	}
	done := false
	defer func() {
		if !done {
			n.RemoveTree(tmp)
		}
	}()
	space, err := roomIn(s.dir)
	if err != nil {
		return Image{}, err
	}
	tarPath := filepath.Join(tmp, tarName)
	f, err := n.Create(tarPath, 0o644)
	if err != nil {
		return Image{}, err
	}
	h := sha256.New()
	st, err := write(io.MultiWriter(space.writer(f), h))
	if cerr := n.Close(f); err == nil {
		err = cerr
	}
	if isStop(ctx, err) {
		return Image{}, stoppedAdding(ctx)
	}
	if err != nil {
		return Image{}, err
	}
	if st.Entries == 0 {
		return Image{}, errors.New("the root holds nothing to make an image of")
	}
	id := hex.EncodeToString(h.Sum(nil))
	n.Note("wrote %s: %s; the image's id is its sha256: %s", tarName, st, id[:12])
	if ctx.Err() != nil {
		return Image{}, stoppedAdding(ctx)
	}

	final := filepath.Join(s.dir, id)
	_, err = os.Stat(filepath.Join(final, metaName))
	there := err == nil
	if there {
		n.Note("the store already holds this very image: only the tag %s is added", r)
	} else {
		// The unpacked root takes what the archive's files hold, and a
		// block at least for each entry (a directory, a small file).
		if err := space.take(st.Bytes + int64(st.Entries)*4096); err != nil {
			return Image{}, err
		}
		in, err := n.Open(tarPath)
		if err != nil {
			return Image{}, err
		}
		ust, err := Unpack(ctx, n, in, filepath.Join(tmp, rootfsDir), UnpackOptions{Progress: s.Progress})
		n.Close(in)
		if isStop(ctx, err) {
			return Image{}, stoppedAdding(ctx)
		}
		if err != nil {
			return Image{}, err
		}
		m := meta{ID: id, Created: time.Now().UTC().Truncate(time.Second), Size: ust.Bytes, Entries: ust.Entries, Source: source}
		if err := writeJSON(filepath.Join(tmp, metaName), m); err != nil {
			return Image{}, err
		}
	}
	// The image reaches the disk before it is committed: a crash must not
	// leave the index naming an image half written. (And the runs that
	// follow would otherwise wait, for half a minute, behind the kernel's
	// writeback of it: every mkdir and unlink of a run under the state dir
	// waits for the filesystem's journal, which waits for that writeback.)
	if !there {
		if err := n.Because("write the new image to disk before it is committed").Syncfs(tmp); err != nil {
			return Image{}, err
		}
	}
	// The commit: past this check the image is renamed into place and
	// tagged, two quick steps that are not stopped halfway. Before it, Ctrl-C
	// leaves the store as it was, even when the image was there already.
	if ctx.Err() != nil {
		return Image{}, stoppedAdding(ctx)
	}
	if !there {
		if err := n.Rename(tmp, final); err != nil {
			return Image{}, err
		}
		done = true
	}
	ix, err := s.readIndex()
	var moved Moved
	if err == nil {
		moved = moveTag(ix, r.String(), id)
		err = s.writeIndex(ix)
	}
	if err != nil {
		if !there {
			// In place but named by nothing: taken back, so that the
			// store is as it was.
			if rerr := n.RemoveTree(final); rerr != nil {
				n.Note("the new image %s, which no name points to, could not be removed: %v ('workshop clean' will)", id[:12], rerr)
			}
		}
		return Image{}, err
	}
	if m := s.finishMove(moved, ix, s.collect(n, ix)); m.From != "" {
		n.Note("%s named image %s before: %s", r, m.From[:12], m.Fate())
	}
	img, err := s.image(id, r)
	if err != nil {
		return Image{}, err
	}
	n.Note("image %s is %s: %s in %s, unpacked once in %s", r, img.ShortID(), HumanSize(img.Size), units.Count(img.Entries, "entry", "entries"), img.Rootfs)
	return img, nil
}

// newDir makes a fresh .new-* directory in the store.
func (s *Store) newDir(n *sys.Narrator) (string, error) {
	for range 10 {
		var b [6]byte
		rand.Read(b[:])
		p := filepath.Join(s.dir, newPrefix+hex.EncodeToString(b[:]))
		err := n.Mkdir(p, 0o700)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		return p, err
	}
	return "", fmt.Errorf("image store: cannot make a directory in %s", s.dir)
}

// basicPAX are the PAX records Go's tar turns into Header fields; the rest
// (xattrs, say) are kept as they are.
var basicPAX = []string{"path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime"}

// normalize copies a tar (or tar.gz) to w as an uncompressed tar whose names
// are relative to the root ("./bin/bash"), stripping strip/ from the front
// of every name and hardlink target. Names that climb out of the root and
// sparse files are refused here already; everything else is left to the
// unpack that follows, which trusts nothing.
//
// It stops at the next entry once ctx is cancelled (give it a ctxReader to
// stop inside a long entry too).
//
// names, when not nil, gets the archive's own name of every entry whose
// name it rewrote, keyed by the new name: the unpack's refusals name the
// entry as the student's archive does.
func normalize(ctx context.Context, r io.Reader, w io.Writer, strip string, names map[string]string) (Stats, error) {
	var st Stats
	seen := map[string]bool{} // the paths of the entries so far, for hardlinks
	dr, _, err := Decompress(r)
	if err != nil {
		return st, readError(err, "read its first bytes")
	}
	end := newEndMark(dr)
	tr := tar.NewReader(end)
	out := &lastError{w: w}
	tw := tar.NewWriter(out)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("rewrite interrupted: %w", err)
		}
		hdr, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil
		}
		if err == io.EOF {
			if err := end.atEnd(last); err != nil {
				return st, err
			}
			break
		}
		if err != nil {
			return st, headerError(err, last)
		}
		end.entry(hdr)
		if aboutTheArchive(hdr) {
			continue
		}
		p, err := entryPath(hdr.Name, strip)
		if err == nil {
			err = checkEntry(hdr, p)
		}
		if err != nil {
			return st, &EntryError{Name: hdr.Name, Err: err}
		}
		name := hdr.Name
		hdr.Name = archiveName(p, hdr.Typeflag == tar.TypeDir)
		if hdr.Typeflag == tar.TypeLink {
			// Checked here too, though the unpack that follows checks
			// again: here the refusal names the entries as the archive does.
			t, err := linkTarget(hdr.Linkname, strip)
			switch {
			case err != nil:
			case t == p:
				err = errors.New("it is a hardlink to itself")
			case !seen[t]:
				err = fmt.Errorf("it is a hardlink to %s, which is not in the archive before it", quoteShort(hdr.Linkname))
			}
			if err != nil {
				return st, &EntryError{Name: name, Err: err}
			}
			hdr.Linkname = archiveName(t, false)
		}
		seen[p] = true
		if name != hdr.Name && names != nil {
			names[hdr.Name] = name
		}
		for _, k := range basicPAX {
			delete(hdr.PAXRecords, k)
		}
		hdr.Format = tar.FormatUnknown // let the writer choose: whole seconds, as Pack writes
		if err := tw.WriteHeader(hdr); err != nil {
			// The writing (no room, a disk's error) said as it is; else
			// a header only one format could hold (GNU's base-256
			// numbers beside PAX records), whose reason from Go names
			// its formats' limits.
			if out.err != nil {
				return st, out.err
			}
			return st, &EntryError{Name: name, Err: errors.New("its header holds values that no one tar format can write together, so it cannot be rewritten relative to the root")}
		}
		if hdr.Typeflag == tar.TypeReg {
			c, err := io.Copy(tw, tr)
			if err != nil {
				if ae, ok := readError(err, "read its contents").(*ArchiveError); ok {
					ae.Where = "inside entry " + quoteShort(name)
					return st, ae
				}
				return st, err
			}
			st.Bytes += c
		}
		st.count(hdr.Typeflag)
		st.Entries++
		last = name
	}
	return st, tw.Close()
}

// withImage resolves ref and runs use on the image, holding the store's
// shared lock throughout: an rm of the image waits until use is done.
func (s *Store) withImage(ref string, use func(Image) error) (Image, error) {
	unlock, err := s.lock(sys.Discard(), false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	img, err := s.resolve(ref)
	if err != nil {
		return Image{}, err
	}
	return img, use(img)
}

// Export writes the image ref to file as a tar, gzipped when the file name
// ends in .gz or .tgz: the format import takes. It writes a new file beside
// file and renames it into place once it is whole, so that a failed or
// cancelled export (Ctrl-C stops the copy at its next read) removes only
// what it wrote and leaves a file that was there before as it was.
func (s *Store) Export(ctx context.Context, n *sys.Narrator, ref, file string) (Image, error) {
	target, err := exportTarget(file)
	if err != nil {
		return Image{}, exit.Errorf(exit.ToolFailed, "export to %s: %v", file, err)
	}
	// Where it leads (a symlink to the store), not only what was given.
	if k, ok := s.KeptPlace(target); ok {
		return Image{}, exit.Errorf(exit.ToolFailed, "export to %s: it leads to %s, in workshop's %s (%s), which only workshop writes in: %s; give a path of your own", file, target, k.What, k.Dir, k.Why)
	}
	return s.withImage(ref, func(img Image) error {
		var out *os.File
		tmp, done, err := newBeside(target, "export", s.track, func(tmp string) (err error) {
			out, err = n.CreateNew(tmp, 0o644)
			return err
		})
		if err != nil {
			return exit.Errorf(exit.ToolFailed, "export to %s: cannot make a file in %s (the tar is written there, then renamed into place): %v", file, filepath.Dir(target), unwrapPath(err))
		}
		defer done()
		err = s.copyTar(ctx, n, img, out, gzipWanted(file))
		if cerr := n.Close(out); err == nil {
			err = cerr
		}
		if err == nil {
			err = n.Rename(tmp, target)
		}
		if err != nil {
			// As packTo does: the removal is a syscall of the step, shown.
			if rerr := n.Unlink(tmp); rerr != nil {
				return fmt.Errorf("export %s to %s: %w; and the half-written %s could not be removed: %v", img.Ref, file, err, tmp, rerr)
			}
			if isStop(ctx, err) {
				return &InterruptedError{What: "the half-written copy of " + file + " was removed", Cause: context.Cause(ctx)}
			}
			return fmt.Errorf("export %s to %s: %w", img.Ref, file, err)
		}
		how := "a tar"
		if gzipWanted(file) {
			how = "a gzipped tar"
		}
		n.Note("exported %s (%s, %s) to %s as %s, entries relative to the root", img.Ref, img.ShortID(), units.Count(img.Entries, "entry", "entries"), file, how)
		return nil
	})
}

// exportTarget is the path Export renames its new file to: file, or what
// file links to when it is a symlink to a file, or to nothing yet. An existing file that is not
// a regular file is refused: the rename would replace a device node, a FIFO
// or a socket with the tar (the export that truncated its file in place
// removed /dev/full when a write failed).
func exportTarget(file string) (string, error) {
	if fi, err := os.Stat(file); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		// /dev/stdout leads through /proc/self/fd/1 to "pipe:[…]", which
		// no path reaches: said before the links are followed.
		if out, oerr := os.Stdout.Stat(); oerr == nil && os.SameFile(fi, out) {
			return "", fmt.Errorf("%s is this command's standard output: give - to write the tar there", file)
		}
	}
	target, err := followLinks(file)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR):
		if d, derr := os.Stat(filepath.Dir(target)); derr != nil || !d.IsDir() {
			if f := fileOnTheWay(filepath.Dir(target)); f != "" {
				return "", fmt.Errorf("%s is %s, not a directory: FILE goes in a directory that exists", f, kindOf(f))
			}
			if target != file {
				return "", fmt.Errorf("%s is a symlink to %s, whose directory %s does not exist: make it first, or give another file", file, target, filepath.Dir(target))
			}
			return "", fmt.Errorf("the directory %s does not exist: make it first, or give a file in another one", filepath.Dir(file))
		}
		return target, nil
	case err != nil:
		return "", unwrapPath(err)
	case fi.IsDir():
		return "", fmt.Errorf("%s is a directory: give the name of the file to write, as in %s", file, filepath.Join(file, "image.tar"))
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s exists and is %s, not a regular file: export writes a new file in its place; "+
			"give another name, or - to write the tar to standard output", file, regfile.Kind(fi.Mode()))
	}
	return target, nil
}

// followLinks is where a file written at file is made: file, or, when it
// is a symlink, what it leads to (through symlinks to symlinks, 40 at
// most, as the kernel follows them), made there, as `tar -cf link` makes
// it, the link staying. Each link is looked at once (lstat), and what that
// look found is both checked and followed: a link removed meanwhile is
// not followed, and export's rename replaces whatever is at the name, a
// link put back included, never writing through it.
//
// A link another user made in a sticky directory anyone may write in
// (/tmp), unless that user owns the directory, is refused: the kernel's
// own rule (fs.protected_symlinks), which export would not meet, since it
// follows the links itself and renames onto their target. Without it,
// anyone could plant /tmp/image.tar -> /etc/shadow for root's export to
// replace.
func followLinks(file string) (string, error) {
	cur := file
	for range 40 {
		lfi, err := os.Lstat(cur)
		if err != nil || lfi.Mode()&os.ModeSymlink == 0 {
			return cur, nil
		}
		dest, err := os.Readlink(cur)
		if err != nil {
			return cur, nil // gone since the look: the rename replaces what is there
		}
		// Relative to the link's directory as the kernel reaches it:
		// through its symlinks, before any ".." of dest.
		dir := filepath.Dir(cur)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		if dfi, err := os.Stat(dir); err == nil {
			owner, dirOwner := lfi.Sys().(*syscall.Stat_t).Uid, dfi.Sys().(*syscall.Stat_t).Uid
			if dfi.Mode()&os.ModeSticky != 0 && dfi.Mode().Perm()&0o002 != 0 && owner != uint32(os.Geteuid()) && owner != dirOwner {
				return "", fmt.Errorf("%s is a symlink that user %d made in %s, a sticky directory anyone may write in: export does not write through it, "+
					"as the kernel refuses to follow it (fs.protected_symlinks); give another name", cur, owner, dir)
			}
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(dir, dest)
		}
		cur = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", file)
}

// fileOnTheWay is the first thing on the way to dir that exists and is
// not a directory (a file where the path needs a directory), or "".
func fileOnTheWay(dir string) string {
	dir = filepath.Clean(dir)
	if parent := filepath.Dir(dir); parent != dir {
		if f := fileOnTheWay(parent); f != "" {
			return f
		}
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return dir
	}
	return ""
}

// kindOf is what the file p is ("a regular file"), for a sentence.
func kindOf(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "a file"
	}
	return regfile.Kind(fi.Mode())
}

// ExportTo writes the image ref to w (standard output, for `export NAME -`).
func (s *Store) ExportTo(ctx context.Context, n *sys.Narrator, ref string, w io.Writer, gz bool) (Image, error) {
	return s.withImage(ref, func(img Image) error {
		err := s.copyTar(ctx, n, img, w, gz)
		if err != nil && ctx.Err() != nil {
			return &InterruptedError{What: "the export stopped, and what reached standard output is an incomplete tar", Cause: context.Cause(ctx)}
		}
		return err
	})
}

// copyTar copies the image's stored tar to w, gzipped when gz is set, until
// it ends or ctx is cancelled.
func (s *Store) copyTar(ctx context.Context, n *sys.Narrator, img Image, w io.Writer, gz bool) error {
	in, err := n.Open(img.Tar)
	if err != nil {
		return err
	}
	defer n.Close(in)
	r := ctxReader{ctx, in}
	if !gz {
		_, err = io.Copy(w, r)
		return err
	}
	zw := gzip.NewWriter(w)
	if _, err := io.Copy(zw, r); err != nil {
		return err
	}
	return zw.Close()
}

// Unpack makes a fresh copy of the image's root at dir:
// `workshop image unpack NAME[:TAG] DIR`. Like an addition to the store,
// it leaves room on dir's filesystem for the rest of the machine: the
// image's size is known, so a root that would not fit is refused before
// anything is written.
//
// Device nodes are made only when devices is set. In the store, whose
// directory only root may enter, an image's /dev/sda 0666 reaches no one,
// and a container's overlay is mounted nodev; in dir, anywhere on the
// host, it would give the disk itself to anyone who may reach dir.
func (s *Store) Unpack(ctx context.Context, n *sys.Narrator, ref, dir string, devices bool) (Image, Stats, error) {
	var st Stats
	// DIR may be made, not the directories on its way: a typo in them
	// would plant a tree anywhere on the host (export refuses the same).
	if parent := filepath.Dir(filepath.Clean(dir)); !isDir(parent) {
		if f := fileOnTheWay(parent); f != "" {
			return Image{}, st, exit.Errorf(exit.ToolFailed, "%s is %s, not a directory: DIR goes in a directory that exists", f, kindOf(f))
		}
		return Image{}, st, exit.Errorf(exit.ToolFailed, "the directory %s does not exist: make it first, or unpack into another one", parent)
	}
	img, err := s.withImage(ref, func(img Image) error {
		if err := CheckRoom(state.ExistingAncestor(dir), img.Size+int64(img.Entries)*4096); err != nil {
			return fmt.Errorf("the root of %s: %w", ref, err)
		}
		in, err := n.Open(img.Tar)
		if err != nil {
			return err
		}
		defer n.Close(in)
		opts := UnpackOptions{Progress: s.Progress, Track: s.track}
		if !devices && DevicesAllowed() {
			opts.RefuseDevices = "image unpack makes none unless given --devices: in " + dir + ", outside the image store, it would give anyone who may reach it the device itself (a node of the disk is the disk)"
		}
		st, err = Unpack(ctx, n, in, dir, opts)
		return err
	})
	return img, st, err
}

// unwrapPath drops the "open FILE:" of a *PathError when the sentence
// around it already names the file.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lastError is w, keeping the last error a write of it returned: a tar
// writer's error does not tell its writing from its encoding.
type lastError struct {
	w   io.Writer
	err error
}

func (l *lastError) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err != nil {
		l.err = err
	}
	return n, err
}

// isDir reports whether p is a directory, or a symlink to one.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// inRoot reports whether root holds an entry at rel, not following a
// symlink there (an image's own are for inside the image).
func inRoot(root, rel string) bool {
	_, err := os.Lstat(filepath.Join(root, rel))
	return err == nil
}
