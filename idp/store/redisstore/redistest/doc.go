// Package redistest starts private redis-server processes for tests: a single server on a
// unix socket ([Start], or [StartMain] for a whole test binary), a three-node Cluster on
// loopback ports ([StartCluster]), a TLS-only server with a CA generated for it
// ([StartTLS]), a server whose default user is off and only an ACL user may log in
// ([StartACL]), and a master monitored by one sentinel ([StartSentinel]).
//
// It is responsible for never touching a server it did not start: every server runs from a
// fresh temporary directory, with persistence off (--save "" --appendonly no), no TCP port
// for the single and ACL servers (the others bind only 127.0.0.1), and is stopped and its
// directory removed when the test ends. Tests share one server by giving every store its own key prefix; nothing here flushes anything.
//
// When the redis-server binary is missing, tests skip locally but fail when the environment
// variable CI is "true", so CI cannot go green without testing Redis (STYLE §B10). The
// package is not responsible for the code under test, and it is not a general process
// supervisor: a server that dies on its own is reported by the next call that needs it.
package redistest
