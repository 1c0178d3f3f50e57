package idp

import (
	"errors"
	"fmt"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/store"
)

// errNoLevel means no level Atea can reach satisfies the request.
var errNoLevel = errors.New("idp: requested authentication context cannot be met")

// acceptableLevels turns a RequestedAuthnContext into the list of levels an assertion may state,
// each with the AuthnContextClassRef to write (saml-core-2.0-os §3.3.2.2.1):
//   - no RequestedAuthnContext: the SP's default level or higher, stated as eIDAS URIs;
//   - exact (or no Comparison): one of the named classes; the assertion repeats the class the
//     SP named, so SPs that compare strings (legacy PasswordProtectedTransport) are satisfied;
//   - minimum: at least the weakest named class, stated as the eIDAS URI actually reached;
//   - better: stronger than every named class;
//   - maximum: as strong as possible without exceeding the strongest named class.
//
// Classes Atea does not know are ignored; if none is known the request cannot be met, and
// the caller answers Responder/NoAuthnContext rather than asserting a lower level (BRIEF.md).
func (s *Server) acceptableLevels(comparison string, classRefs []string, spDefault authn.Level) ([]store.LevelRef, error) {
	all := []authn.Level{authn.LevelLow, authn.LevelSubstantial, authn.LevelHigh}
	ref := func(l authn.Level) store.LevelRef { return store.LevelRef{Level: l.String(), ClassRef: l.URI()} }
	if len(classRefs) == 0 {
		var out []store.LevelRef
		for _, l := range all {
			if l >= spDefault {
				out = append(out, ref(l))
			}
		}
		return out, nil
	}
	var known []authn.Level
	exact := map[authn.Level]string{}
	for _, c := range classRefs {
		l, ok := authn.LevelFromEIDASURI(c)
		if !ok {
			l, ok = s.cfg.ClassMapping[c]
		}
		if !ok {
			continue
		}
		known = append(known, l)
		if _, dup := exact[l]; !dup {
			exact[l] = c
		}
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("%w: no known class among %d", errNoLevel, len(classRefs))
	}
	lo, hi := known[0], known[0]
	for _, l := range known {
		lo, hi = min(lo, l), max(hi, l)
	}
	var out []store.LevelRef
	switch comparison {
	case "", "exact":
		for _, l := range all {
			if c, ok := exact[l]; ok {
				out = append(out, store.LevelRef{Level: l.String(), ClassRef: c})
			}
		}
	case "minimum":
		for _, l := range all {
			if l >= lo {
				out = append(out, ref(l))
			}
		}
	case "better":
		for _, l := range all {
			if l > hi {
				out = append(out, ref(l))
			}
		}
	case "maximum":
		for _, l := range all {
			if l <= hi {
				out = append(out, ref(l))
			}
		}
	default:
		return nil, fmt.Errorf("%w: comparison %q", errNoLevel, comparison)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: comparison %s leaves nothing", errNoLevel, comparison)
	}
	return out, nil
}

// pickLevel returns the entry an assertion states for a session at level have: the strongest
// acceptable level not above what the citizen proved. ok is false when the session is too weak.
func pickLevel(acceptable []store.LevelRef, have authn.Level) (store.LevelRef, bool) {
	var best store.LevelRef
	found := false
	bestL := authn.LevelNone
	for _, e := range acceptable {
		l, err := authn.ParseLevel(e.Level)
		if err != nil || l > have {
			continue
		}
		if !found || l > bestL {
			best, bestL, found = e, l, true
		}
	}
	return best, found
}

// reachable reports whether some method Atea runs reaches one of the acceptable levels. Today
// that is the password (B@k, low); the B@kQ factors and certificates extend it.
func reachable(acceptable []store.LevelRef, methodLevels ...authn.Level) bool {
	for _, m := range methodLevels {
		if _, ok := pickLevel(acceptable, m); ok {
			return true
		}
	}
	return false
}
