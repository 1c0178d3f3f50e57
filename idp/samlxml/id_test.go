package samlxml

import (
	"regexp"
	"testing"
)

// IDs are xs:NCNames (saml-core-2.0-os §1.3.4) with 160 random bits, never repeated.
func TestNewIDShapeAndUniqueness(t *testing.T) {
	shape := regexp.MustCompile(`^_[0-9a-f]{40}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID()
		if !shape.MatchString(id) {
			t.Fatalf("NewID() = %q, want _ and 40 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
