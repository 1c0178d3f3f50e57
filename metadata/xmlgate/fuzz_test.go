package xmlgate

import (
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/beevik/etree"
)

// FuzzCheck: Check never panics, and when it accepts a document, etree and encoding/xml agree on
// the resolved name of every element and attribute (the parser-differential invariant of
// SECURITY.md §5.8 FuzzGate).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		authnRequest,
		spMetadata,
		readTestdata(f, "spid_authnrequest_signed_spid-sp-test.xml"),
		readTestdata(f, "eidas-node-2.9_authnrequest_unsigned.xml"),
		`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "v">]><r>&e;</r>`,
		`<r ID="a"><c ID="a"/></r>`,
		`<s:r xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion"><s:x xmlns:s="urn:evil"/></s:r>`,
		`<r xmlns="urn:a" xmlns:a="urn:a" a:x="1" x="2"><c xmlns=""/></r>`,
		`<r><![CDATA[x]]><!--c--><?pi x?></r>`,
		`<x::Root/>`,
		`<Root xmlns="x" xmlns:="y"></Root>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := MetadataLimits()
		lim.MaxBytes = 64 << 10
		if err := Check(raw, lim); err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check() = %v, does not wrap ErrRejected", err)
			}
			return
		}
		want, err := stdNames(raw)
		if err != nil {
			t.Fatalf("encoding/xml fails on an accepted document: %v", err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(raw); err != nil {
			t.Fatalf("etree fails on an accepted document: %v", err)
		}
		var got []string
		walkEtree(doc.Root(), &got)
		if len(got) != len(want) {
			t.Fatalf("etree saw %d names, encoding/xml %d:\n%q\n%q", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("name %d: etree %q, encoding/xml %q", i, got[i], want[i])
			}
		}
	})
}

// stdNames lists, in document order, each element's {URI}local and each of its ordinary
// attributes' {URI}local=value as encoding/xml's namespace-aware Token resolves them.
func stdNames(raw []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	var out []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		out = append(out, fmt.Sprintf("E{%s}%s", se.Name.Space, se.Name.Local))
		for _, a := range se.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == nsXML {
				continue
			}
			out = append(out, fmt.Sprintf("A{%s}%s=%s", a.Name.Space, a.Name.Local, a.Value))
		}
	}
}

func walkEtree(e *etree.Element, out *[]string) {
	if e == nil {
		return
	}
	*out = append(*out, fmt.Sprintf("E{%s}%s", e.NamespaceURI(), e.Tag))
	for i := range e.Attr {
		a := &e.Attr[i]
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") || a.Space == "xml" {
			continue
		}
		*out = append(*out, fmt.Sprintf("A{%s}%s=%s", a.NamespaceURI(), a.Key, a.Value))
	}
	for _, c := range e.ChildElements() {
		walkEtree(c, out)
	}
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzInflate: Inflate never panics, never returns more than max bytes, and every failure is a
// rejection.
func FuzzInflate(f *testing.F) {
	f.Add(deflate(f, []byte(authnRequest)), 1<<10)
	f.Add(deflate(f, []byte(authnRequest)), 64<<10)
	f.Add(deflate(f, bytes.Repeat([]byte("A"), 1<<20)), 64<<10)
	f.Add([]byte{0xff, 0x00, 0x12}, 100)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max > 1<<20 {
			max = 1 << 20
		}
		out, err := Inflate(in, max)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Inflate() = %v, does not wrap ErrRejected", err)
			}
			if out != nil {
				t.Fatalf("Inflate() returned %d bytes with an error", len(out))
			}
			return
		}
		if len(out) > max && max >= 0 {
			t.Fatalf("Inflate() returned %d bytes, max %d", len(out), max)
		}
	})
}
