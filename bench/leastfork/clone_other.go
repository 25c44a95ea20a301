//go:build !amd64

package main

import "syscall"

// vforkClone has no assembly but amd64's: elsewhere leastfork builds (the
// repository builds for arm64 too) and says it cannot run, and
// bench/fullrun leaves it out.
//
//go:nosplit
func vforkClone(flags uintptr) (pid uintptr, errno syscall.Errno) { return 0, syscall.ENOSYS }
