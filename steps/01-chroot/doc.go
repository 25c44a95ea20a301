// Package chroot is step 1 of the walkthrough: the jail.
//
// By hand the walkthrough types
//
//	mkdir my-new-root
//	chroot my-new-root bash
//
// and gets "chroot: failed to run command 'bash': No such file or
// directory". This package does the same as syscalls a student can read:
// mkdirat for the root, then, in a child process, chroot(root), chdir("/")
// and execve("/bin/bash"), which fails with ENOENT because after chroot every
// absolute path is looked up inside the root, and the root is empty.
//
// Run is the chroot(1) of the later steps: step 2 fills a root and runs a
// command in it with Run.
//
// Escape is the proof that chroot is not a security boundary: a root process
// inside a chroot makes a directory, chroots into it (its working directory
// is now above its root), climbs with chdir("..") to the real /, chroots
// there and runs the host's ls. A mount namespace and pivot_root (step 6)
// close the hole: the old root is unmounted, so there is nothing left above.
package chroot
