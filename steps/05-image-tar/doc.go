// Package imagetar is step 5 of the walkthrough: a root directory becomes
// an image (a tar archive), the image is shipped, and it is unpacked
// elsewhere into a root a container can run from.
//
// The walkthrough does it with tar by hand:
//
//	tar cvf dockercontainer.tar my-new-root
//	mkdir container-root
//	tar xf dockercontainer.tar -C container-root/
//	unshare … chroot container-root bash
//
// and falls into tar's classic pitfall: the entries are stored under
// my-new-root/, so the bash lands at container-root/my-new-root/bin/bash and
// the chroot finds none. Images store their entries relative to the root
// ("./bin/bash"); Pack does that, and the store strips a lone top-level
// directory when it imports an archive made the walkthrough's way.
//
// An image comes from elsewhere, so unpacking it is an attack surface: a tar
// can name "../../etc/passwd", plant a symlink to /etc and then write
// "link/shadow", hardlink a host file, or hold device nodes. Unpack places
// every entry with *at syscalls relative to a directory handle that
// github.com/cyphar/filepath-securejoin's pathrs-lite resolved inside the
// new root (symlinks, absolute ones included, resolve as if the root were /,
// exactly as they will inside the container), never follows a symlink in
// the last component, and unpacks into a temporary directory beside the
// destination that is renamed into place only when every entry is in.
//
// The image store (Store) keeps each image once under <state>/images/<id>:
// its tar and the root unpacked from it, which step 6 mounts read-only as
// the lower layer of each container's overlay.
package imagetar
