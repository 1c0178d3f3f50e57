package main

import "github.com/ateaidp/atea/idp"

// mountActivation mounts the activation journey (issue 5). Stub until the journey lands.
func mountActivation(srv *idp.Server, env journeyEnv) error {
	_, _ = srv, env
	return nil
}
