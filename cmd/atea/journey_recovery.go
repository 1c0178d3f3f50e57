package main

import "github.com/ateaidp/atea/idp"

// mountRecovery mounts the recovery journey (issue 5). Stub until the journey lands.
func mountRecovery(srv *idp.Server, env journeyEnv) error {
	_, _ = srv, env
	return nil
}
