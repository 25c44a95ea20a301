// Package container is step 6, the last one: it composes the five before it
// into a small working runtime, `workshop full run`.
//
// A run, in order: the image (step 5) is unpacked once and used read-only as
// the lower layer of an overlay whose upper layer is the container's own
// writable layer; a cgroup with the limits (step 4); the namespaces and the
// uid maps (step 3); inside, pivot_root instead of chroot, with the old root
// detached (step 1's escape shows why); /proc, a minimal /dev, the hostname;
// then exec. Everything the run made is recorded first (internal/state) and
// removed when it ends, however it ends.
package container
