package imagetar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/workshop-dev/workshop/internal/exit"
	"github.com/workshop-dev/workshop/internal/flock"
	"github.com/workshop-dev/workshop/internal/hint"
	"github.com/workshop-dev/workshop/internal/state"
	"github.com/workshop-dev/workshop/internal/sys"
	"golang.org/x/sys/unix"
)

// The store's layout under <state>/images:
//
//	lock                 flock(2)ed by every command: shared to read, exclusive to change
//	index.json           {"tags": {"NAME:TAG": "ID"}}
//	ID/rootfs.tar        the image: a tar with entries relative to the root
//	ID/rootfs/           the image unpacked, once: step 6's read-only lower layer
//	ID/image.json        created, size, entries, where it came from
//	.new-*/              an image being added; removed if its maker died
//
// An image's ID is the sha256 of its rootfs.tar, uncompressed, as stored:
// the same root packed twice is the same image (the same files, modes,
// owners and modification times give the same bytes), as Docker's layer
// "diff_id" is the sha256 of the uncompressed layer tar.
const (
	imagesDir = "images"
	lockName  = "lock"
	IndexName = "index.json" // the store's tags; `workshop clean --images` removes it first
	metaName  = "image.json"
	tarName   = "rootfs.tar"
	rootfsDir = "rootfs"
	newPrefix = ".new-"
)

// Store is the image store under a state directory.
type Store struct {
	dir string // <state>/images
	// Progress, when not nil, is the terminal on which long packs and
	// unpacks show how far they got (see ProgressTo).
	Progress io.Writer
	// Say, when not nil, is where a wait for the store's lock is said:
	// the lock of a lookup is taken with no narrator (its calls are the
	// store's bookkeeping), but a command that waits says why.
	Say *sys.Narrator
}

// OpenStore returns the store under stateDir. Nothing is made on disk
// until the store is used.
func OpenStore(stateDir string) *Store {
	return &Store{dir: filepath.Join(stateDir, imagesDir)}
}

// Dir is the store's directory, <state>/images.
func (s *Store) Dir() string { return s.dir }

// Kept is a directory of the state dir that only workshop writes in.
type Kept struct{ Dir, What, Why string }

// KeptPlace is the directory of the state dir the store is in that p lies
// in, when it lies in one only workshop writes in: the image store, or the
// containers' directory. An unpack, an export, a step's root there would
// be seen by every container of an image, or removed by 'workshop clean'.
func (s *Store) KeptPlace(p string) (Kept, bool) {
	for _, k := range []Kept{
		{s.dir, "image store", "an image's root is its tar unpacked, shared by every container made from it"},
		{state.ContainersDir(filepath.Dir(s.dir)), "containers' directory", "a container's layers are its run's, made and removed by it, and a workshop clean removes what no run records"},
	} {
		if Holds(k.Dir, p) {
			return k, true
		}
	}
	return Kept{}, false
}

// track records tmp, a file or directory made beside an unpack's DIR or an
// export's FILE, as pending in the state dir the store is in, for
// 'workshop clean' to remove after a kill -9 (state.TrackPending).
// Bookkeeping, as the runs' records: not narrated.
func (s *Store) track(tmp string) (func(), error) {
	abs, err := filepath.Abs(tmp)
	if err != nil {
		return nil, err
	}
	p, err := state.TrackPending(filepath.Dir(s.dir), abs)
	if err != nil {
		return nil, err
	}
	return p.Done, nil
}

// RootfsOf is where the image id (64 hex digits) is unpacked.
func (s *Store) RootfsOf(id string) string { return filepath.Join(s.dir, id, rootfsDir) }

// Image is an image in the store, found by one of its references.
type Image struct {
	Ref     Ref       // the reference it was found by (empty when found by id)
	ID      string    // sha256 of Tar, in hex
	Rootfs  string    // the unpacked root: use it read-only (overlay lower layer), never copy it per run
	Tar     string    // the image's tar, entries relative to the root
	Size    int64     // bytes of the files in the root
	Entries int       // entries in the tar
	Created time.Time // when it was added to the store
	Source  string    // where it came from: "pack DIR", "import FILE", "built in"
}

// ShortID is the first 12 hex digits of the id, as docker image ls shows it.
func (i Image) ShortID() string { return i.ID[:min(12, len(i.ID))] }

// meta is what image.json holds.
type meta struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	Entries int       `json:"entries"`
	Source  string    `json:"source"`
}

type index struct {
	Tags map[string]string `json:"tags"` // NAME:TAG -> ID
}

// ErrNotFound is the cause of every "no such image" error (errors.Is).
var ErrNotFound = errors.New("image not found")

// notFound says, in one sentence, that an image is not in the store and
// what to do; it exits 125, as a tool failure.
func (s *Store) notFound(ref string) error {
	hint := "see 'workshop image ls', or make it with 'workshop image pack DIR " + ref + "' or 'workshop image import FILE " + ref + "'"
	return exit.Code(exit.ToolFailed, &notFoundError{fmt.Sprintf("there is no image %s in %s (%s)", ref, s.dir, hint)})
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// lock takes the store's lock (shared to read, exclusive to change) and
// returns its release. Two workshop commands at once then never see an
// index half written or an image half removed.
//
// Only the exclusive lock of an addition makes the store (its directory,
// root's alone, and the lock file): reading, tagging and removing need an
// image that is there already, so with no store they lock nothing and find
// nothing (see lockExisting), and a read never creates or chmods a thing.
func (s *Store) lock(n *sys.Narrator, exclusive bool) (func(), error) {
	if !exclusive {
		return s.lockExisting(n, false)
	}
	// Root's alone, as Docker's /var/lib/docker is: an image is someone
	// else's files, set-user-ID programs included, and nobody but root
	// should be able to reach them on the host.
	if err := state.MkdirPrivate(s.dir); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s.flock(n, f, true)
}

// lockExisting takes the lock of a store that exists, and makes nothing: a
// store never made holds no image, so there is nothing to lock, and the
// release does nothing. Its lock file is opened read-only (flock needs no
// more), so a student without the rights gets EACCES, not a store made or
// changed.
func (s *Store) lockExisting(n *sys.Narrator, exclusive bool) (func(), error) {
	f, err := s.openLock()
	if f == nil {
		return func() {}, err
	}
	return s.flock(n, f, exclusive)
}

// openLock opens the lock file of a store that exists, read-only. It
// returns nil and no error where there is none: the first addition makes
// the lock before its index and images, so without a lock there is nothing
// yet to read, tag or remove.
func (s *Store) openLock() (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return f, nil
}

// flock locks the open lock file f; closing it releases the lock.
//
// The lock is held for as long as another workshop adds an image (an
// import, or the first build of the base image: seconds); waiting for it
// stays interruptible (internal/flock).
func (s *Store) flock(n *sys.Narrator, f *os.File, exclusive bool) (func(), error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err := flock.Try(int(f.Fd()), how)
	say := n
	if s.Say != nil {
		say = s.Say
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		_, err = flock.Wait(int(f.Fd()), how, "the image store's lock", "nothing was made or changed", func() {
			say.Note("waiting for the image store's lock %s: another workshop holds it (adding an image takes a few seconds); Ctrl-C stops waiting", f.Name())
		})
	}
	if err != nil {
		f.Close()
		var coded *exit.Error
		if errors.As(err, &coded) {
			return nil, err
		}
		return nil, fmt.Errorf("image store: lock %s: %w", f.Name(), err)
	}
	if exclusive {
		s.removeStale(n)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// removeStale removes what an addition killed halfway left behind. Under
// the exclusive lock no addition is running, so every .new-* is stale.
func (s *Store) removeStale(n *sys.Narrator) {
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), newPrefix) {
			p := filepath.Join(s.dir, e.Name())
			n.Note("removing %s, what an addition to the store killed halfway left", p)
			if err := n.RemoveTree(p); err != nil {
				n.Note("could not remove it: %v ('workshop clean' will retry)", err)
			}
		}
	}
}

func (s *Store) readIndex() (index, error) {
	ix := index{Tags: map[string]string{}}
	b, err := os.ReadFile(filepath.Join(s.dir, IndexName))
	if errors.Is(err, os.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return ix, fmt.Errorf("image store: %w", err)
	}
	if err := json.Unmarshal(b, &ix); err != nil {
		return ix, fmt.Errorf("image store: %s, which names the images, is damaged (%v): 'workshop clean --images' removes the whole store, which begins anew (the base image is made again on first use)", filepath.Join(s.dir, IndexName), err)
	}
	if ix.Tags == nil {
		ix.Tags = map[string]string{}
	}
	for _, tag := range sortedTags(ix) {
		if r, err := ParseRef(tag); err != nil || r.String() != tag {
			return ix, s.damagedName(tag, fmt.Sprintf("%s holds %q, which is no name as workshop writes them (NAME:TAG, in lower case)", filepath.Join(s.dir, IndexName), tag))
		}
		if !validID(ix.Tags[tag]) {
			return ix, s.damagedName(tag, fmt.Sprintf("%s names %q, which is no image's id (64 hex digits)", filepath.Join(s.dir, IndexName), ix.Tags[tag]))
		}
	}
	return ix, nil
}

// validID reports whether id is an image's whole id: 64 hex digits.
func validID(id string) bool { return len(id) == 64 && idPrefix(id) == id }

// sortedTags are the names of ix, sorted: the same damage is named first
// every time.
func sortedTags(ix index) []string {
	tags := make([]string, 0, len(ix.Tags))
	for tag := range ix.Tags {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	return tags
}

// damagedName is the error for a name of the index that leads to no
// image (a hand-edited index.json, an image directory removed by hand):
// one sentence, exit 125, and how to be rid of the name.
func (s *Store) damagedName(tag, what string) error {
	return exit.Code(exit.ToolFailed, &damagedError{tag: tag,
		msg: fmt.Sprintf("image store: the name %s is damaged: %s; 'workshop image rm %s' removes the name", tag, what, hint.QuoteInQuotes(tag))})
}

// indexKey is the name of the index that ref is, as given ("Foo:latest",
// damaged) or as it parses ("foo" is foo:latest), or "".
func indexKey(ix index, ref string) string {
	if _, ok := ix.Tags[ref]; ok {
		return ref
	}
	if r, err := ParseRef(ref); err == nil {
		if _, ok := ix.Tags[r.String()]; ok {
			return r.String()
		}
	}
	return ""
}

// damagedError is damagedName's: the name it is about, for Remove.
type damagedError struct{ tag, msg string }

func (e *damagedError) Error() string { return e.msg }

// isDamaged reports whether err says that the name tag leads to no image.
func isDamaged(err error, tag string) bool {
	var d *damagedError
	return errors.As(err, &d) && d.tag == tag
}

// writeIndex replaces index.json all at once (write a new file, rename it),
// so a reader sees the old index or the new one, never half of one.
func (s *Store) writeIndex(ix index) error {
	return writeJSON(filepath.Join(s.dir, IndexName), ix)
}

func writeJSON(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmp) // half written (a full disk)
		return fmt.Errorf("image store: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("image store: %w", err)
	}
	return nil
}

// image reads the image with this id.
func (s *Store) image(id string, ref Ref) (Image, error) {
	dir := filepath.Join(s.dir, id)
	// What leads to no image, said for the name that leads there.
	damaged := func(what string) error {
		if ref.Name == "" {
			return exit.Errorf(exit.ToolFailed, "image store: image %s is damaged: %s", id[:12], what)
		}
		return s.damagedName(ref.String(), "image "+id[:12]+": "+what)
	}
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if errors.Is(err, os.ErrNotExist) {
		return Image{}, damaged(fmt.Sprintf("its %s is missing from %s", metaName, dir))
	}
	if err != nil {
		return Image{}, fmt.Errorf("image store: image %s: %w", id[:12], err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Image{}, damaged(fmt.Sprintf("%s is not what workshop wrote (%v)", filepath.Join(dir, metaName), err))
	}
	// Its unpacked root, the lower layer of every run: missing, a run's
	// overlay mount would fail with a word on overlayfs instead.
	if fi, err := os.Stat(s.RootfsOf(id)); errors.Is(err, os.ErrNotExist) || err == nil && !fi.IsDir() {
		return Image{}, damaged(fmt.Sprintf("its unpacked root %s is missing", s.RootfsOf(id)))
	} else if err != nil {
		return Image{}, fmt.Errorf("image store: image %s: %w", id[:12], err)
	}
	return Image{
		Ref: ref, ID: id, Rootfs: s.RootfsOf(id), Tar: filepath.Join(dir, tarName),
		Size: m.Size, Entries: m.Entries, Created: m.Created, Source: m.Source,
	}, nil
}

// Resolve finds an image by NAME[:TAG] or by its id (12 or 64 hex digits).
// An image that is not there is one sentence and exit 125; errors.Is(err,
// ErrNotFound) tells that case apart.
func (s *Store) Resolve(ref string) (Image, error) {
	unlock, err := s.lock(sys.Discard(), false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	return s.resolve(ref)
}

// ErrBusy is ResolveNoWait's answer while another workshop changes the store.
var ErrBusy = errors.New("the image store is being changed")

// ResolveNoWait is Resolve for a listing (`workshop ps`), which should not
// wait while another workshop adds an image (seconds): ErrBusy then.
func (s *Store) ResolveNoWait(ref string) (Image, error) {
	f, err := s.openLock()
	if err != nil {
		return Image{}, err
	}
	if f == nil {
		return s.resolve(ref) // no store yet: no image
	}
	defer f.Close() // closing it releases the lock
	if err := flock.Try(int(f.Fd()), unix.LOCK_SH); errors.Is(err, unix.EWOULDBLOCK) {
		return Image{}, ErrBusy
	} else if err != nil {
		return Image{}, fmt.Errorf("image store: lock %s: %w", f.Name(), err)
	}
	return s.resolve(ref)
}

// Hold is Resolve, and keeps the store's lock (shared) until release is
// called: a run holds its image so until its record names it, and `clean
// --images` and `image rm`, which take the lock exclusively before they
// read the records, either see that record or are done before Hold.
func (s *Store) Hold(ref string) (img Image, release func(), err error) {
	unlock, err := s.lock(sys.Discard(), false)
	if err != nil {
		return Image{}, nil, err
	}
	img, err = s.resolve(ref)
	if err != nil {
		unlock()
		return Image{}, nil, err
	}
	return img, unlock, nil
}

// resolve is Resolve with the lock held.
func (s *Store) resolve(ref string) (Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return Image{}, err
	}
	if hex := idPrefix(ref); hex != "" {
		// An image with several tags is found by its first.
		for _, tag := range sortedTags(ix) {
			if id := ix.Tags[tag]; strings.HasPrefix(id, hex) {
				r, _ := ParseRef(tag)
				return s.image(id, r)
			}
		}
		// One with no name left, kept while a container runs from it.
		for _, id := range s.unnamed(ix) {
			if strings.HasPrefix(id, hex) {
				return s.image(id, Ref{})
			}
		}
		return Image{}, exit.Code(exit.ToolFailed, &notFoundError{fmt.Sprintf("there is no image with the id %s in %s (see 'workshop image ls')", hex, s.dir)})
	}
	r, err := ParseRef(ref)
	if err != nil {
		return Image{}, exit.Code(exit.ToolFailed, err)
	}
	id, ok := ix.Tags[r.String()]
	if !ok {
		return Image{}, s.notFound(r.String())
	}
	return s.image(id, r)
}

// List returns one Image per tag, sorted by name and tag.
func (s *Store) List() ([]Image, error) {
	unlock, err := s.lock(sys.Discard(), false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Image
	for tag, id := range ix.Tags {
		r, _ := ParseRef(tag)
		img, err := s.image(id, r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	for _, id := range s.unnamed(ix) {
		if img, err := s.image(id, Ref{}); err == nil {
			out = append(out, img) // sorts first: an empty name
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ref.Name != out[j].Ref.Name {
			return out[i].Ref.Name < out[j].Ref.Name
		}
		return out[i].Ref.Tag < out[j].Ref.Tag
	})
	return out, nil
}

// Moved says what became of the image a name named before it was moved to
// another: From is its id ("" when the name is new), Removed whether it went
// with its last name, InUse whether it stays, unnamed, because a container
// runs from it (it goes once unused; `image ls` lists it as <none>).
type Moved struct {
	From           string
	Removed, InUse bool
}

// moveTag points tag at id in ix and says what it named before; call
// finishMove after the index is written and collected.
func moveTag(ix index, tag, id string) Moved {
	prev, had := ix.Tags[tag]
	ix.Tags[tag] = id
	if !had || prev == id {
		return Moved{}
	}
	return Moved{From: prev}
}

// finishMove fills in what collect did with the image the name left.
func (s *Store) finishMove(m Moved, ix index, gone map[string]bool) Moved {
	if m.From == "" {
		return m
	}
	for _, id := range ix.Tags {
		if id == m.From {
			return m // still named
		}
	}
	m.Removed = gone[m.From]
	m.InUse = !m.Removed && len(s.users(m.From)) > 0
	return m
}

// Tag gives the image src another reference dst, moving dst if it named
// another image (what became of that one is in Moved).
func (s *Store) Tag(n *sys.Narrator, src, dst string) (Image, Moved, error) {
	to, err := ParseRef(dst)
	if err != nil {
		return Image{}, Moved{}, exit.Code(exit.ToolFailed, err)
	}
	unlock, err := s.lockExisting(n, true)
	if err != nil {
		return Image{}, Moved{}, err
	}
	defer unlock()
	img, err := s.resolve(src)
	if err != nil {
		return Image{}, Moved{}, err
	}
	ix, err := s.readIndex()
	if err != nil {
		return Image{}, Moved{}, err
	}
	moved := moveTag(ix, to.String(), img.ID)
	if err := s.writeIndex(ix); err != nil {
		return Image{}, Moved{}, err
	}
	moved = s.finishMove(moved, ix, s.collect(n, ix))
	img.Ref = to
	return img, moved, nil
}

// Remove removes the reference ref, and the image itself once no reference
// is left to it. It reports whether the image's files were removed (an rm
// -rf narrated by n).
func (s *Store) Remove(n *sys.Narrator, ref string) (img Image, removed bool, err error) {
	unlock, err := s.lockExisting(n, true)
	if err != nil {
		return Image{}, false, err
	}
	defer unlock()
	img, err = s.resolve(ref)
	// The index as it is, damaged or not: readIndex returns it with its
	// error.
	ix, _ := s.readIndex()
	if key := indexKey(ix, ref); key != "" && isDamaged(err, key) {
		// A name that leads to no image goes by itself: nothing else
		// could remove it, and every use of the store would stop at it.
		// What it led to goes too, if it was an image no other name
		// holds (its unpacked root missing): made again, it would be
		// taken for the damaged one.
		id := ix.Tags[key]
		n.Note("the name %s leads to no image (%q): removing the name", key, id)
		delete(ix.Tags, key)
		if err := s.writeIndex(ix); err != nil {
			return Image{}, false, err
		}
		gone := s.collect(n, ix)
		r, _ := ParseRef(key)
		return Image{Ref: r, ID: id}, gone[id], nil
	}
	if err != nil {
		return Image{}, false, err
	}
	// By id, the image itself: with one name, that name goes; with more,
	// which one is meant cannot be told (docker rmi refuses too).
	if idPrefix(ref) != "" && ref != img.Ref.String() {
		var names []string
		for tag, id := range ix.Tags {
			if id == img.ID {
				names = append(names, tag)
			}
		}
		sort.Strings(names)
		if len(names) > 1 {
			return Image{}, false, exit.Errorf(exit.ToolFailed, "image %s has %d names (%s): remove them by name, one by one", img.ShortID(), len(names), strings.Join(names, ", "))
		}
	}
	if s.lastTag(ix, img) {
		what := img.Ref.String()
		if img.Ref.Name == "" {
			what = img.ShortID()
		}
		for _, r := range s.users(img.ID) {
			owned, forgotten := r.Ownership()
			switch {
			case forgotten:
				continue // ended since users read it
			case !owned && r.EndedWithLayerKept():
				return Image{}, false, exit.Errorf(exit.ToolFailed, "image %s is in use by container %s (%s), which has ended and whose writable layer was kept (--keep): 'workshop clean' removes that layer", what, r.ID, r.Name)
			case !owned:
				return Image{}, false, exit.Errorf(exit.ToolFailed, "image %s is in use by container %s (%s), whose workshop was killed: its overlay may still be mounted on the image; 'workshop clean' undoes that container", what, r.ID, r.Name)
			}
			return Image{}, false, exit.Errorf(exit.ToolFailed, "image %s is in use by container %s (%s): stop it first (workshop kill %s)", what, r.ID, r.Name, r.ID)
		}
	}
	delete(ix.Tags, img.Ref.String())
	if err := s.writeIndex(ix); err != nil {
		return Image{}, false, err
	}
	gone := s.collect(n, ix)
	return img, gone[img.ID], nil
}

// lastTag reports whether img's reference is the last one naming its image.
func (s *Store) lastTag(ix index, img Image) bool {
	for tag, id := range ix.Tags {
		if id == img.ID && tag != img.Ref.String() {
			return false
		}
	}
	return true
}

// users are the recorded containers (step 6) whose overlay has this image
// below it: running ones; stopped ones whose layer was kept (--keep),
// which workshop diff compares against the image; and those a killed
// workshop left, whose overlay may still be mounted on it until `workshop
// clean` undoes them.
func (s *Store) users(id string) []*state.Run {
	runs, _ := state.List(filepath.Dir(s.dir))
	rootfs := filepath.Join(s.dir, id, rootfsDir)
	var out []*state.Run
	for _, r := range runs {
		if r.Lower == rootfs && !r.Forgotten() {
			out = append(out, r)
		}
	}
	return out
}

// unnamed lists the images in the store that no name points to: kept
// because a container runs from them (collect removes the others).
func (s *Store) unnamed(ix index) []string {
	used := map[string]bool{}
	for _, id := range ix.Tags {
		used[id] = true
	}
	var ids []string
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 && idPrefix(e.Name()) != "" && !used[e.Name()] {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// collect removes the images no tag names any more (a tag moved away, the
// last tag removed), and reports which it removed. An image a container
// still runs on stays until a later collect finds it unused. The files go
// as rm -rf would, narrated by n; an image that could not be removed whole
// stays listed (as <none>), and a later collect tries again.
func (s *Store) collect(n *sys.Narrator, ix index) map[string]bool {
	gone, failed := s.removeUnused(n, ix)
	for _, f := range failed {
		n.Note("could not remove image %s: %v", f.id[:12], f.err)
	}
	return gone
}

// removal is an image removeUnused could not remove, and why.
type removal struct {
	id  string
	err error
}

// removeUnused removes the images no name points to and no container
// uses: those it removed, and those it could not.
func (s *Store) removeUnused(n *sys.Narrator, ix index) (gone map[string]bool, failed []removal) {
	gone = map[string]bool{}
	for _, id := range s.unnamed(ix) {
		if len(s.users(id)) > 0 {
			continue
		}
		if err := n.RemoveTree(filepath.Join(s.dir, id)); err != nil {
			failed = append(failed, removal{id, err})
			continue
		}
		gone[id] = true
	}
	return gone, failed
}

// Unused lists the images no name points to and no container uses: what
// collect would remove. It reads without the lock: a hint, for `workshop
// clean`, which takes the lock before it acts (CollectLocked).
func (s *Store) Unused() []string {
	ix, err := s.readIndex()
	if err != nil {
		return nil
	}
	var ids []string
	for _, id := range s.unnamed(ix) {
		if len(s.users(id)) == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// CollectLocked removes the images no name points to and no container uses
// any more, for `workshop clean`, which holds the store's lock exclusively:
// an image whose name moved while a container ran from it stays until the
// container is gone, and no change to the store may have come since. It
// returns the ids removed, sorted, and an error for each image it could not
// remove (it stays listed, as <none>, for a later clean).
func (s *Store) CollectLocked(n *sys.Narrator) ([]string, []error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, []error{err}
	}
	gone, failed := s.removeUnused(n, ix)
	var ids []string
	for id := range gone {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	for _, f := range failed {
		errs = append(errs, fmt.Errorf("image %s (<none>) of %s: %w", f.id[:12], s.dir, f.err))
	}
	return ids, errs
}

// Fate says what became of the image a moved name left.
func (m Moved) Fate() string {
	switch {
	case m.Removed:
		return "it had no other name, and was removed"
	case m.InUse:
		return "it has no name left, and stays while a container uses it (a running one, or an ended one whose layer --keep kept): 'workshop image ls' lists it as <none>, and once no container uses it, the next change to the store, or 'workshop clean', removes it"
	}
	return "it keeps its other names"
}
