package secret

import (
	"strings"
	"testing"
)

func TestRandomUsesOnlyAlphabetAndVaries(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 200 {
		s, err := Random(Alphabet, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 10 || strings.Trim(s, Alphabet) != "" {
			t.Fatalf("Random = %q: not 10 characters of the alphabet", s)
		}
		seen[s] = true
		for _, r := range s {
			counts[r]++
		}
	}
	if len(seen) < 200 || len(counts) != len(Alphabet) {
		t.Errorf("200 draws gave %d distinct strings using %d of %d characters", len(seen), len(counts), len(Alphabet))
	}
}

func TestNormalise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"abcd-efgh 23\t45": "ABCDEFGH2345", "ÑA": "ÑA", strings.Repeat("a", 65): strings.Repeat("a", 65)} {
		if got := Normalise(in); got != want {
			t.Errorf("Normalise(%q) = %q, want %q", in, got, want)
		}
	}
}
