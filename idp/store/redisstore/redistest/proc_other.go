//go:build !linux

package redistest

import "syscall"

// sysProcAttr is nil where there is no parent-death signal; cleanups stop the servers.
func sysProcAttr() *syscall.SysProcAttr { return nil }
