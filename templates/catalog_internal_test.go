package templates

import "testing"

func TestArgCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format string
		want   int
	}{
		{"", 0},
		{"no verbs", 0},
		{"100%% sure", 0},
		{"%s", 1},
		{"The letter for %s is %s", 2},
		{"%d errorea", 1},
		{"%[2]s zenbakiari %[1]s", 2},
		{"%[1]s and %[1]s again", 1},
		{"%-10s|%+.2f|%#x|%05d", 4},
		{"%*d", 2},
		{"%.*f", 2},
		{"%[3]*.[2]*[1]f", 3},
		{"trailing %", 0},
		{"%%%s%%", 1},
		{"%é", 1},
	} {
		if got := argCount(tc.format); got != tc.want {
			t.Errorf("argCount(%q) = %d, want %d", tc.format, got, tc.want)
		}
	}
}

func TestPrimaryTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tag, want string
		ok        bool
	}{
		{"eu", "eu", true}, {"EU", "eu", true}, {" eu-ES ", "eu", true}, {"es_ES", "es", true},
		{"e", "", false}, {"", "", false}, {"eu-", "", false}, {"e1", "", false}, {"eu-ES-x-toolongsubtag", "", false},
	} {
		got, ok := primaryTag(tc.tag)
		if got != tc.want || ok != tc.ok {
			t.Errorf("primaryTag(%q) = %q, %v, want %q, %v", tc.tag, got, ok, tc.want, tc.ok)
		}
	}
}
