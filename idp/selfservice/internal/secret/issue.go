package secret

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/store"
)

// Issue records a new one-time secret (its MAC) in a flow before it is sent, counting the
// send atomically with the maximum and, on a resend, the cooldown checks; Undo takes a send
// back when delivery failed, so the citizen may ask again at once. Answer checks what comes
// back.
type Issue struct {
	// State is the state the flow must be in; Ready, when set, must also hold. Otherwise
	// Reserve fails with Stale.
	State string
	Ready func(store.Flow) bool
	// MACKey, AtKey and SendsKey are the Data keys of the secret's MAC, of the time it was
	// made and of the number of sends.
	MACKey, AtKey, SendsKey string
	MaxSends                int
	Cooldown                time.Duration
	// Stale, ErrMax and ErrWait are the journey's own errors for a flow that moved on, for
	// the maximum of sends reached and for a resend within the cooldown.
	Stale, ErrMax, ErrWait error
}

// Reserve stores mac as the flow's live secret, made at now, and returns the flow as stored.
func (i Issue) Reserve(ctx context.Context, kit *idp.Kit, flowID, mac string, now time.Time, resend bool) (store.Flow, error) {
	return kit.UpdateFlow(ctx, flowID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != i.State || (i.Ready != nil && !i.Ready(fl)) {
			return fl, i.Stale
		}
		sends, _ := strconv.Atoi(fl.Data[i.SendsKey])
		if sends >= i.MaxSends {
			return fl, i.ErrMax
		}
		at, _ := strconv.ParseInt(fl.Data[i.AtKey], 10, 64)
		if resend && at != 0 && now.Sub(time.Unix(0, at)) < i.Cooldown {
			return fl, i.ErrWait
		}
		fl.Data = maps.Clone(fl.Data)
		if fl.Data == nil {
			fl.Data = map[string]string{}
		}
		fl.Data[i.SendsKey] = strconv.Itoa(sends + 1)
		fl.Data[i.MACKey] = mac
		fl.Data[i.AtKey] = strconv.FormatInt(now.UnixNano(), 10)
		return fl, nil
	})
}

// Undo takes back the send Reserve counted and clears the secret.
func (i Issue) Undo(ctx context.Context, kit *idp.Kit, flowID string) (store.Flow, error) {
	return kit.UpdateFlow(ctx, flowID, func(fl store.Flow) (store.Flow, error) {
		fl.Data = maps.Clone(fl.Data)
		if fl.Data == nil {
			fl.Data = map[string]string{}
		}
		sends, _ := strconv.Atoi(fl.Data[i.SendsKey])
		fl.Data[i.SendsKey] = strconv.Itoa(max(0, sends-1))
		fl.Data[i.MACKey], fl.Data[i.AtKey] = "", ""
		return fl, nil
	})
}
