package idp

import (
	"strings"
	"sync/atomic"
)

// Stats counts what the server does, for the metrics listener (cmd/atea exposes them as
// Prometheus counters): assertions issued by level, signed error Responses by top-level
// status, failed sign-ins by method and single-logout outcomes per participant. Labels are
// small fixed sets, never an SP or a user, so a federation of 50,000 SPs cannot blow up a
// time-series database. Safe for concurrent use; the zero value is ready; a nil *Stats
// counts nothing.
type Stats struct {
	assertions     counts
	errorResponses counts
	signInFailures counts
	logout         counts
}

// The label values of each counter (read-only tables). A value outside the table counts
// as "other" where the table has it, and is dropped where it has not.
var (
	statsLevels         = []string{"low", "substantial", "high"}
	statsErrorStatuses  = []string{"Requester", "Responder", "VersionMismatch", "other"}
	statsSignInMethods  = []string{"password", "second_factor", "certificate"}
	statsLogoutOutcomes = []string{tOK, tFailed, tNoAnswer, tFrontOnly, tUnsupported, tSkipped, "other"}
)

// counts is one counter per label value of a table, by position; the zero value is ready.
type counts struct {
	n [8]atomic.Int64 // enough for the longest table
}

func (c *counts) add(labels []string, v string) {
	for i, l := range labels {
		if l == v {
			c.n[i].Add(1)
			return
		}
	}
	if last := len(labels) - 1; labels[last] == "other" {
		c.n[last].Add(1)
	}
}

func (c *counts) read(labels []string) map[string]int64 {
	out := make(map[string]int64, len(labels))
	for i, l := range labels {
		out[l] = c.n[i].Load()
	}
	return out
}

// StatsSnapshot is a reading of Stats, each counter by its label value (every value present).
type StatsSnapshot struct {
	Assertions     map[string]int64 // by level
	ErrorResponses map[string]int64 // by top-level status, "other" for the rest
	SignInFailures map[string]int64 // by method
	Logout         map[string]int64 // by outcome (LogoutOutcome.State), "other" for the rest
}

// Snapshot reads every counter.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Assertions: s.assertions.read(statsLevels), ErrorResponses: s.errorResponses.read(statsErrorStatuses),
		SignInFailures: s.signInFailures.read(statsSignInMethods), Logout: s.logout.read(statsLogoutOutcomes),
	}
}

func (s *Stats) assertion(level string) {
	if s != nil {
		s.assertions.add(statsLevels, level)
	}
}

func (s *Stats) errorResponse(code string) {
	if s != nil {
		s.errorResponses.add(statsErrorStatuses, strings.TrimPrefix(code, "urn:oasis:names:tc:SAML:2.0:status:"))
	}
}

func (s *Stats) signInFailure(method string) {
	if s != nil {
		s.signInFailures.add(statsSignInMethods, method)
	}
}

func (s *Stats) logoutOutcome(state string) {
	if s != nil {
		s.logout.add(statsLogoutOutcomes, state)
	}
}
