package authn

import (
	"errors"
	"fmt"
)

// Level is a level of assurance. The zero value is LevelNone, below every real level, so an
// unset Level never satisfies a requirement.
type Level int

// The levels of eIDAS (Regulation 2015/1502), in order.
const (
	LevelNone Level = iota
	LevelLow
	LevelSubstantial
	LevelHigh
)

// The eIDAS notified LoA URIs (eIDAS SAML Attribute Profile §2.3; EIDAS-CLAVE.md §1.1), and the
// non-notified spellings Atea accepts in requests as the same order.
const (
	URILow         = "http://eidas.europa.eu/LoA/low"
	URISubstantial = "http://eidas.europa.eu/LoA/substantial"
	URIHigh        = "http://eidas.europa.eu/LoA/high"

	uriNNLow         = "http://eidas.europa.eu/NotNotified/LoA/low"
	uriNNSubstantial = "http://eidas.europa.eu/NotNotified/LoA/substantial"
	uriNNHigh        = "http://eidas.europa.eu/NotNotified/LoA/high"
)

// ErrUnknownLevel is returned by ParseLevel for a name that is not a level.
var ErrUnknownLevel = errors.New("authn: unknown level")

// String returns the short name used in config and logs: "low", "substantial", "high".
func (l Level) String() string {
	switch l {
	case LevelLow:
		return "low"
	case LevelSubstantial:
		return "substantial"
	case LevelHigh:
		return "high"
	default:
		return "none"
	}
}

// URI returns the eIDAS notified URI of the level ("" for LevelNone).
func (l Level) URI() string {
	switch l {
	case LevelLow:
		return URILow
	case LevelSubstantial:
		return URISubstantial
	case LevelHigh:
		return URIHigh
	default:
		return ""
	}
}

// Satisfies reports whether l is at least min.
func (l Level) Satisfies(min Level) bool { return l >= min && l != LevelNone }

// ParseLevel parses a short level name ("low", "substantial", "high").
func ParseLevel(s string) (Level, error) {
	switch s {
	case "low":
		return LevelLow, nil
	case "substantial":
		return LevelSubstantial, nil
	case "high":
		return LevelHigh, nil
	}
	return LevelNone, fmt.Errorf("%w: %q", ErrUnknownLevel, s)
}

// LevelFromEIDASURI maps the eIDAS notified and non-notified LoA URIs to a level. The comparison
// is exact and case-sensitive, as the eIDAS node does (EIDAS-CLAVE.md §1.1).
func LevelFromEIDASURI(uri string) (Level, bool) {
	switch uri {
	case URILow, uriNNLow:
		return LevelLow, true
	case URISubstantial, uriNNSubstantial:
		return LevelSubstantial, true
	case URIHigh, uriNNHigh:
		return LevelHigh, true
	}
	return LevelNone, false
}
