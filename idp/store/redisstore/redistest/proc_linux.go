package redistest

import "syscall"

// sysProcAttr makes the kernel kill redis-server when the test binary dies without running
// its cleanups (a test timeout panics and exits), so no orphan servers are left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
