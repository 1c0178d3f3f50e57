package idp

import "sync/atomic"

// Stats counts what the server does, for the metrics listener (cmd/atea exposes them as
// Prometheus counters): assertions issued by level, signed error Responses by top-level
// status, failed sign-ins by method and single-logout outcomes per participant. Labels are
// small fixed sets, never an SP or a user, so a federation of 50,000 SPs cannot blow up a
// time-series database. Safe for concurrent use; the zero value is ready; a nil *Stats
// counts nothing.
type Stats struct {
	assertions     [3]atomic.Int64 // low, substantial, high
	errorResponses [4]atomic.Int64 // Requester, Responder, VersionMismatch, other
	signInFailures [3]atomic.Int64 // password, second factor, certificate
	logout         [7]atomic.Int64 // by statsLogoutOutcomes
}

// The label values of each counter, in the order of its array (read-only tables).
var (
	statsLevels         = []string{"low", "substantial", "high"}
	statsErrorStatuses  = []string{"Requester", "Responder", "VersionMismatch", "other"}
	statsSignInMethods  = []string{"password", "second_factor", "certificate"}
	statsLogoutOutcomes = []string{tOK, tFailed, tNoAnswer, tFrontOnly, tUnsupported, tSkipped, "other"}
)

// StatsSnapshot is a reading of Stats, each counter by its label value (every value present).
type StatsSnapshot struct {
	Assertions     map[string]int64 // by level
	ErrorResponses map[string]int64 // by top-level status, "other" for the rest
	SignInFailures map[string]int64 // by method
	Logout         map[string]int64 // by outcome (LogoutOutcome.State), "other" for the rest
}

// Snapshot reads every counter.
func (s *Stats) Snapshot() StatsSnapshot {
	read := func(labels []string, c []atomic.Int64) map[string]int64 {
		out := make(map[string]int64, len(labels))
		for i, l := range labels {
			out[l] = c[i].Load()
		}
		return out
	}
	return StatsSnapshot{
		Assertions: read(statsLevels, s.assertions[:]), ErrorResponses: read(statsErrorStatuses, s.errorResponses[:]),
		SignInFailures: read(statsSignInMethods, s.signInFailures[:]), Logout: read(statsLogoutOutcomes, s.logout[:]),
	}
}

func indexOr(values []string, v string) int {
	for i, x := range values {
		if x == v {
			return i
		}
	}
	return len(values) - 1
}

func (s *Stats) assertion(level string) {
	if s != nil {
		if i := indexOr(statsLevels, level); statsLevels[i] == level {
			s.assertions[i].Add(1)
		}
	}
}

func (s *Stats) errorResponse(code string) {
	if s != nil {
		const prefix = "urn:oasis:names:tc:SAML:2.0:status:"
		name := code
		if len(code) > len(prefix) && code[:len(prefix)] == prefix {
			name = code[len(prefix):]
		}
		s.errorResponses[indexOr(statsErrorStatuses, name)].Add(1)
	}
}

func (s *Stats) signInFailure(method string) {
	if s != nil {
		if i := indexOr(statsSignInMethods, method); statsSignInMethods[i] == method {
			s.signInFailures[i].Add(1)
		}
	}
}

func (s *Stats) logoutOutcome(state string) {
	if s != nil {
		s.logout[indexOr(statsLogoutOutcomes, state)].Add(1)
	}
}
