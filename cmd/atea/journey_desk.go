package main

import "github.com/ateaidp/atea/idp"

// mountDesk mounts the desk journey (issue 5). Stub until the journey lands.
func mountDesk(srv *idp.Server, env journeyEnv) error {
	_, _ = srv, env
	return nil
}
