package main

import "syscall"

// vforkClone is clone(2) with flags and no stack for the child (see
// clone_amd64.s).
func vforkClone(flags uintptr) (pid uintptr, errno syscall.Errno)
