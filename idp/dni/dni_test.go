package dni_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ateaidp/atea/idp/dni"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"dni", "48151623L", "48151623L"},
		{"lower-case letter", "48151623l", "48151623L"},
		{"separators", " 48.151.623-L ", "48151623L"},
		{"inner spaces", "48 151 623 L", "48151623L"},
		{"tab and nbsp", "\t48151623\u00a0L\n", "48151623L"},
		{"zero", "00000000T", "00000000T"},
		{"seven-digit dni padded", "1234567L", "01234567L"},
		{"nie x", "X1234567L", "X1234567L"},
		{"nie y lower", "y1234567x", "Y1234567X"},
		{"nie z separators", "Z-1234567-R", "Z1234567R"},
		{"max", "99999999R", "99999999R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := dni.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v, want nil", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"spaces only", "   "},
		{"no letter", "48151623"},
		{"nine digits", "481516231"},
		{"too short", "123456L"},
		{"too long", "481516230L"},
		{"letter in the middle", "4815A623L"},
		{"nie with 8 digits", "X12345678L"},
		{"nie with 6 digits", "X123456L"},
		{"seven-digit nie is not padded", "X123456L"},
		{"unknown prefix", "W1234567L"},
		{"two prefixes", "XY123456L"},
		{"unicode digit", "48151623L\u0661"},
		{"long s is not S", "12345678\u017f"},
		{"dotless i is not I", "1234567\u0131"},
		{"other punctuation", "48151623/L"},
		{"overlong input", strings.Repeat(" ", 70) + "48151623L"},
		{"letters only", "ABCDEFGHI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := dni.Parse(tt.in)
			if !errors.Is(err, dni.ErrFormat) {
				t.Fatalf("Parse(%q) = %q, %v; want an error wrapping ErrFormat", tt.in, got, err)
			}
			if got != "" {
				t.Errorf("Parse(%q) returned %q with an error, want \"\"", tt.in, got)
			}
		})
	}
}

func TestParseCheckLetter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		got, want rune
	}{
		{"dni", "48151623X", 'X', 'L'},
		{"dni lower", "48151623t", 'T', 'L'},
		{"letter not in the table", "48151623I", 'I', 'L'},
		{"nie x", "X1234567A", 'A', 'L'},
		{"nie y", "Y1234567L", 'L', 'X'},
		{"nie z", "Z1234567L", 'L', 'R'},
		{"padded dni", "1234567T", 'T', 'L'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dni.Parse(tt.in)
			var cle *dni.CheckLetterError
			if !errors.As(err, &cle) {
				t.Fatalf("Parse(%q) error = %v, want *CheckLetterError", tt.in, err)
			}
			if cle.Got != tt.got || cle.Want != tt.want {
				t.Errorf("Parse(%q) letters = got %q want %q; want got %q want %q", tt.in, cle.Got, cle.Want, tt.got, tt.want)
			}
			if errors.Is(err, dni.ErrFormat) {
				t.Errorf("Parse(%q): a wrong letter also matches ErrFormat; callers could not tell it apart", tt.in)
			}
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, tt.in)
			if msg := err.Error(); strings.Contains(msg, digits[len(digits)-3:]) {
				t.Errorf("error text %q contains the number", msg)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"48151623L", "***623L"},
		{"48.151.623-l", "***623L"},
		{"X1234567L", "***567L"},
		{"1234567L", "***567L"},
		{"48151623X", "***"}, // wrong letter: not a known shape
		{"not a number", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := dni.Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// checkLetter recomputes the letter independently of the package, for the fuzz property.
func checkLetter(canonical string) byte {
	n := 0
	for i, c := range canonical[:8] {
		switch {
		case i == 0 && c >= 'X' && c <= 'Z':
			n = int(c - 'X')
		default:
			n = n*10 + int(c-'0')
		}
	}
	return "TRWAGMYFPDXBNJZSQVHLCKE"[n%23]
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"48151623L", "48151623X", "x1234567l", "Y-1234567-X", " 48.151.623 L ", "1234567L",
		"", "0", "ZZZZZZZZZ", "12345678\u017f", "\u00a048151623L", "X12345678L", "99999999R",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := dni.Parse(s)
		if err != nil {
			var cle *dni.CheckLetterError
			if !errors.Is(err, dni.ErrFormat) && !errors.As(err, &cle) {
				t.Fatalf("Parse(%q) error %v is neither ErrFormat nor *CheckLetterError", s, err)
			}
			if got != "" {
				t.Fatalf("Parse(%q) = %q with error %v", s, got, err)
			}
			if m := dni.Mask(s); m != "***" {
				t.Fatalf("Mask(%q) = %q for a rejected number, want ***", s, m)
			}
			return
		}
		if len(got) != 9 {
			t.Fatalf("Parse(%q) = %q, want 9 characters", s, got)
		}
		for i := 1; i < 8; i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("Parse(%q) = %q: position %d is not a digit", s, got, i)
			}
		}
		if c := got[0]; (c < '0' || c > '9') && c != 'X' && c != 'Y' && c != 'Z' {
			t.Fatalf("Parse(%q) = %q: bad first character", s, got)
		}
		if want := checkLetter(got); got[8] != want {
			t.Fatalf("Parse(%q) = %q accepted with letter %c, want %c", s, got, got[8], want)
		}
		again, err := dni.Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse(Parse(%q)) = %q, %v; want %q, nil", s, again, err, got)
		}
		if m := dni.Mask(got); m != "***"+got[5:] {
			t.Fatalf("Mask(%q) = %q, want %q", got, m, "***"+got[5:])
		}
	})
}
