// Package dni validates and normalises Spanish identity numbers: the DNI (Documento Nacional de
// Identidad: 8 digits and a check letter) and the NIE (Número de Identidad de Extranjero: X, Y or
// Z, 7 digits and a check letter). The check letter is "TRWAGMYFPDXBNJZSQVHLCKE"[number mod 23],
// where a NIE's X, Y and Z count as the digits 0, 1 and 2 (Real Decreto 1553/2005 and the
// Ministerio del Interior's published algorithm).
//
// Parse turns what a citizen typed into the one canonical form every other package keys on (the
// directory, attempt counters: SECURITY.md §4.7 asks for counters keyed by the canonical
// identifier). Mask shortens a number for logs and audit records (SECURITY.md §4.22).
//
// The package is not responsible for deciding whether a number belongs to anyone, nor for the
// document's expiry date or support number: a well-formed number with a correct letter is all
// it checks.
package dni
