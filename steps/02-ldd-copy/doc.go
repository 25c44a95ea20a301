// Package lddcopy is step 2 of the walkthrough: fill a root with what a
// program needs, so that chroot can run it.
//
// By hand the walkthrough types
//
//	ldd /bin/bash
//	cp /bin/bash my-new-root/bin/
//	cp /lib/x86_64-linux-gnu/libc.so.6 … my-new-root/lib/…
//	chroot my-new-root bash
//
// This package does the same for any list of programs: it asks the dynamic
// loader which libraries each needs (u-root's pkg/ldd runs `ld.so --list`,
// as ldd(1) does), prints that list the way ldd does, and copies each
// program and library to the same path inside the root. Nothing is copied
// blindly:
//
//   - Library names are symlinks on a real system (libtinfo.so.6 ->
//     libtinfo.so.6.4), and on a merged-/usr system so are /bin and /lib.
//     Each symlink is made again as a symlink, and each file is copied once.
//   - The ELF interpreter (/lib64/ld-linux-x86-64.so.2), which the kernel
//     runs to load the libraries, is copied like a library.
//   - A static binary (busybox) needs nothing but itself.
//   - A script's "#!" line names its interpreter, which comes along.
//   - A file already in the root with the same size and modification time
//     is up to date and is not copied again; a copy keeps the time (cp -p)
//     so that the next run can tell.
//
// Every call that changes the root is narrated: mkdirat, symlinkat, and for
// each file openat, copy_file_range (or read and write where the kernel
// cannot copy between the two filesystems), fchmod, utimensat and close.
// The stat(2) and readlink(2) calls that look before changing anything are
// not narrated.
package lddcopy
