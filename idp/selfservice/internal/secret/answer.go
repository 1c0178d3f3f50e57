package secret

import (
	"context"
	"maps"
	"strconv"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/store"
)

// Answer checks a typed one-time secret (an SMS code, a temporary password) against the MAC a
// journey keeps of it in its flow's Data. The attempt is counted and compared in one atomic
// flow update, so concurrent guesses cannot share an attempt (kratos code_login.go: "increment
// the submit count and check if we're being brute-forced" before comparing), and the MAC is
// compared in constant time. A right answer clears the secret, so it is used once.
type Answer struct {
	// State is the state the flow must be in; any other fails with the Stale error.
	State string
	// MACKey, AtKey and FailKey are the Data keys of the secret's MAC, of the time it was
	// made (cleared with it) and of the count of wrong answers.
	MACKey, AtKey, FailKey string
	// OnRight changes the flow when the answer is right (its next state, a mark); may be nil.
	// It runs inside the update: it must be pure.
	OnRight func(*store.Flow)
	// Stale is the error returned when the flow is no longer in State (the journey's own
	// sentinel, which its error handling already knows).
	Stale error
}

// Check compares mac, the journey's MAC of what was typed, with the one in flow flowID. It
// returns the flow as stored, whether the answer was right, and the wrong answers so far.
func (a Answer) Check(ctx context.Context, kit *idp.Kit, flowID, mac string) (store.Flow, bool, int, error) {
	var right bool
	var failures int
	f, err := kit.UpdateFlow(ctx, flowID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != a.State {
			return fl, a.Stale
		}
		fl.Data = maps.Clone(fl.Data)
		if fl.Data == nil {
			fl.Data = map[string]string{}
		}
		right = fl.Data[a.MACKey] != "" && idp.EqualMAC(mac, fl.Data[a.MACKey])
		failures, _ = strconv.Atoi(fl.Data[a.FailKey])
		if right {
			fl.Data[a.MACKey], fl.Data[a.AtKey] = "", ""
			if a.OnRight != nil {
				a.OnRight(&fl)
			}
			return fl, nil
		}
		failures++
		fl.Data[a.FailKey] = strconv.Itoa(failures)
		return fl, nil
	})
	return f, right, failures, err
}
