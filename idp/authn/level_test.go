package authn

import "testing"

func TestLevelOrderAndURIs(t *testing.T) {
	t.Parallel()
	for _, l := range []Level{LevelLow, LevelSubstantial, LevelHigh} {
		got, ok := LevelFromEIDASURI(l.URI())
		if !ok || got != l {
			t.Errorf("LevelFromEIDASURI(%q) = %v, %v; want %v, true", l.URI(), got, ok, l)
		}
		p, err := ParseLevel(l.String())
		if err != nil || p != l {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", l.String(), p, err, l)
		}
	}
	if LevelLow.Satisfies(LevelSubstantial) {
		t.Error("low must not satisfy substantial")
	}
	if !LevelHigh.Satisfies(LevelSubstantial) {
		t.Error("high must satisfy substantial")
	}
	if LevelNone.Satisfies(LevelNone) {
		t.Error("LevelNone must never satisfy anything")
	}
	if _, ok := LevelFromEIDASURI("http://eidas.europa.eu/LoA/LOW"); ok {
		t.Error("LoA URIs are case-sensitive")
	}
	if _, err := ParseLevel("medium"); err == nil {
		t.Error("ParseLevel(medium) = nil error")
	}
}
