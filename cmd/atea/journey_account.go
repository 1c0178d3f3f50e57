package main

import "github.com/ateaidp/atea/idp"

// mountAccount mounts the account journey (issue 5). Stub until the journey lands.
func mountAccount(srv *idp.Server, env journeyEnv) error {
	_, _ = srv, env
	return nil
}
