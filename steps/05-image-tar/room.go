package imagetar

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// ErrNoRoom is the error of an addition to the store that would leave its
// filesystem all but full.
var ErrNoRoom = errors.New("not enough room")

// room is what an addition to the store may still write on the store's
// filesystem: what was free when it began, less what it leaves free for
// everything else (a twentieth of the filesystem, at most 1 GB). workshop
// runs as root, which may fill a disk to its last block, and a
// decompression bomb (a few kilobytes of gzip that unpack to gigabytes of
// zeros), or an endless stream on standard input, would: the machine's
// other programs would find no room until the failed addition was
// removed. (statfs, a look that changes nothing: not narrated.)
//
// Others write to the filesystem meanwhile: a second import's standard
// input, saved before it takes the store's lock, another program. So the
// filesystem is looked at again each time half of what it keeps has been
// taken: what anyone wrote since then counts too.
type room struct {
	left, free, keep int64
	dir              string
	// sinceLook is what was taken since the filesystem was last looked at.
	sinceLook int64
}

func roomIn(dir string) (*room, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return nil, fmt.Errorf("the free space of %s: %w", dir, err)
	}
	free := int64(fs.Bavail) * fs.Bsize
	keep := min(int64(fs.Blocks)*fs.Bsize/20, 1e9)
	return &room{left: free - keep, free: free, keep: keep, dir: dir}, nil
}

// CheckRoom refuses (ErrNoRoom) need bytes to be written on dir's
// filesystem where they would leave less than an addition to the store
// leaves free: for an unpack whose size is known before it begins (image
// unpack, lab 5's check of a student's archive). A filesystem that counts
// no blocks (/proc, some FUSE ones) tells nothing of its room: the unpack
// goes on, and its calls say whatever fails.
func CheckRoom(dir string, need int64) error {
	r, err := roomIn(dir)
	if err != nil {
		return err
	}
	if r.keep > 0 && need > r.left {
		return fmt.Errorf("%w: it takes about %s, and the filesystem of %s has %s free, of which workshop leaves %s (a twentieth of a filesystem, up to 1 GB) to the rest of the machine",
			ErrNoRoom, HumanSize(need), dir, HumanSize(r.free), HumanSize(r.keep))
	}
	return nil
}

// freeNow is what is free on the filesystem now.
func (r *room) freeNow() (int64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(r.dir, &fs); err != nil {
		return 0, fmt.Errorf("the free space of %s: %w", r.dir, err)
	}
	return int64(fs.Bavail) * fs.Bsize, nil
}

// take counts n bytes about to be written, and refuses them where they
// would eat into what is left free.
func (r *room) take(n int64) error {
	if n > r.left {
		return fmt.Errorf("%w: the image would leave less than %s free on the filesystem of %s (%s were free when it began; workshop leaves a twentieth of a filesystem, up to 1 GB, to the rest of the machine)",
			ErrNoRoom, HumanSize(r.keep), r.dir, HumanSize(r.free))
	}
	if r.sinceLook += n; r.sinceLook >= r.keep/2 {
		free, err := r.freeNow()
		if err != nil {
			return err
		}
		// What was taken since the last look is written (or, the
		// unpack's estimate, about to be): free counts it already but
		// for n itself.
		if free-n < r.keep {
			return fmt.Errorf("%w: the image would leave less than %s free on the filesystem of %s (%s are free now, counting what others wrote meanwhile; workshop leaves a twentieth of a filesystem, up to 1 GB, to the rest of the machine)",
				ErrNoRoom, HumanSize(r.keep), r.dir, HumanSize(free))
		}
		r.sinceLook = 0
	}
	r.left -= n
	return nil
}

// writer is w, whose writes are taken from the room first.
func (r *room) writer(w io.Writer) io.Writer { return roomWriter{w, r} }

type roomWriter struct {
	w io.Writer
	r *room
}

func (w roomWriter) Write(p []byte) (int, error) {
	if err := w.r.take(int64(len(p))); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
