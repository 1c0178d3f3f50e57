package redistest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ACLUser is the name of the one enabled user of an [ACLServer].
const ACLUser = "atea"

// ACLServer is a private redis-server on a unix socket whose default user is off: only
// [ACLUser] with Password may connect, with every key, channel and command (~* &* +@all).
type ACLServer struct {
	// Socket is the path of the server's unix socket, also its go-redis address.
	Socket string
	// Username is [ACLUser].
	Username string
	// Password is ACLUser's password, random for each server.
	Password string
}

// StartACL starts a private ACL-protected redis-server for t and stops it, removing its
// directory, when t ends. If redis-server is missing it skips t, or fails it when CI=true.
//
// The users come from an --aclfile in the server's directory, which holds only the SHA-256
// of the password ("#<hex>"), not the password itself.
func StartACL(t testing.TB) *ACLServer {
	t.Helper()
	bin := binary(t)
	dir := newDir(t)
	pw := make([]byte, 16)
	_, _ = rand.Read(pw) // crypto/rand does not fail on supported platforms (Go 1.24+)
	s := &ACLServer{Socket: filepath.Join(dir, "redis.sock"), Username: ACLUser, Password: hex.EncodeToString(pw)}
	sum := sha256.Sum256([]byte(s.Password))
	acl := fmt.Sprintf("user default off\nuser %s on #%s ~* &* +@all\n", ACLUser, hex.EncodeToString(sum[:]))
	aclFile := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(aclFile, []byte(acl), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	p, err := startProc(bin, dir, "redis.log", append([]string{
		"--port", "0",
		"--unixsocket", s.Socket,
		"--unixsocketperm", "700",
		"--aclfile", aclFile,
	}, baseArgs(dir)...)...)
	if err != nil {
		t.Fatalf("redistest: ACL server: %v", err)
	}
	c := redis.NewClient(&redis.Options{
		Network: "unix", Addr: s.Socket, Username: s.Username, Password: s.Password,
		MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second,
	})
	err = p.waitReady(c)
	_ = c.Close()
	if err != nil {
		p.stop()
		t.Fatalf("redistest: ACL server: %v", err)
	}
	t.Cleanup(p.stop)
	return s
}
