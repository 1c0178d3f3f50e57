package redisstore

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
)

// TestACL checks the store against a server whose default user is off: only the ACL user
// with its password is served, and every other login is reported as ErrUnavailable with
// Redis's auth error inside, never as a store answer.
func TestACL(t *testing.T) {
	t.Parallel()
	srv := redistest.StartACL(t)
	for _, tc := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"right user and password", srv.Username, srv.Password, true},
		{"wrong password", srv.Username, srv.Password + "x", false},
		{"unknown user", "nobody", srv.Password, false},
		{"default user, no password", "", "", false},
		{"default user, the ACL user's password", "", srv.Password, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newDeployStore(t, ClientConfig{Addrs: []string{srv.Socket}, Username: tc.user, Password: tc.password})
			if tc.ok {
				smoke(t, st)
				return
			}
			err := st.Ping(t.Context())
			refused(t, "Ping", err)
			if !redis.IsAuthError(err) {
				t.Errorf("Ping error = %v, want a Redis auth error (NOAUTH or WRONGPASS)", err)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("Ping error %q contains the password", err)
			}
		})
	}
}
