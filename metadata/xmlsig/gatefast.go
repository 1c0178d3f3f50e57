package xmlsig

import (
	"encoding/xml"

	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// GateFast reports whether the streaming scanner alone can accept raw under lim: true only for
// documents xmlgate.Check(raw, lim) accepts too. False says nothing (a rule broken, or a
// construct the scanner leaves to the gate): the caller must then run xmlgate.Check, which
// decides and words the error. GateCheck does both.
//
// It exists because xmlgate.Check runs the round-trip validator's CheckToken on every token (an
// encoder, a buffer and a decoder each), the dominant cost of gating a small protocol message.
// The scanner applies the gate's other rules in one allocation-light pass (SECURITY.md R1 is
// unchanged: nothing reaches a parser that Check would refuse). For the validator it relies on
// this: on what the scanner accepts, CheckToken can only fail on a start tag with a prefixed
// attribute other than a namespace declaration, where encoding/xml's re-encoding invents
// prefixes and the validator's repair of them can pair the wrong attributes
// (<r xmlns:_xmlns="urn:a" _xmlns:b="1" xmlns:c="urn:c" c:d="2"/> fails). Such tags, rare in
// requests, get the real CheckToken (roundTripStart); FuzzGateFastAgrees checks the rest.
func GateFast(raw []byte, lim xmlgate.Limits) bool {
	s := newScanner(raw, lim)
	// Read attribute values as encoding/xml does (literal TAB, LF kept, CR normalised), so
	// the value-length limit counts what Check counts.
	s.literalAttrWS = true
	s.roundTrip = true
	// Nothing is kept past the call: interning would only cost its table.
	s.noIntern = true
	return s.run() == nil
}

// GateCheck is xmlgate.Check(raw, lim) with GateFast in front: the same verdict for every input
// (FuzzGateFastAgrees), the same error for every refusal (Check produces it), and the scanner's
// speed for what it accepts.
func GateCheck(raw []byte, lim xmlgate.Limits) error {
	if GateFast(raw, lim) {
		return nil
	}
	return xmlgate.Check(raw, lim)
}

// roundTripStart runs the round-trip validator on the current start tag, rebuilt as the
// xml.StartElement encoding/xml's RawToken returns for it (raw prefixes in Name.Space, decoded
// values, document order), when it has a prefixed attribute that is not a namespace
// declaration; without one the validator's round trip is exact and the call is skipped.
func (s *scanner) roundTripStart(ps, pe, ls, le int) error {
	risky := false
	for i := range s.attrs {
		if a := &s.attrs[i]; a.ps != a.pe && a.uri != nsXMLNS {
			risky = true
			break
		}
	}
	if !risky {
		return nil
	}
	raw := s.raw
	// CheckToken depends on the token alone (names and decoded values), so a verdict can be
	// reused for an identical tag: an aggregate repeats <mdui:DisplayName xml:lang="es"> in
	// every entity. Only passes are kept, at most maxRoundTripCache of them per scan.
	s.rtKey = s.rtKey[:0]
	s.rtKey = append(append(append(s.rtKey, raw[ps:pe]...), 0), raw[ls:le]...)
	for i := range s.attrs {
		a := &s.attrs[i]
		s.rtKey = append(append(append(append(append(s.rtKey, 0), raw[a.ps:a.pe]...), 0), raw[a.ls:a.le]...), 0)
		s.rtKey = append(s.rtKey, s.val(a)...)
	}
	if _, ok := s.rtOK[string(s.rtKey)]; ok {
		return nil
	}
	tok := xml.StartElement{
		Name: xml.Name{Space: string(raw[ps:pe]), Local: string(raw[ls:le])},
		Attr: make([]xml.Attr, len(s.attrs)),
	}
	for i := range s.attrs {
		a := &s.attrs[i]
		tok.Attr[i] = xml.Attr{
			Name:  xml.Name{Space: string(raw[a.ps:a.pe]), Local: string(raw[a.ls:a.le])},
			Value: string(s.val(a)),
		}
	}
	if err := xrv.CheckToken(tok); err != nil {
		return gateErr("XML round-trip validation failed")
	}
	if s.rtOK == nil {
		s.rtOK = map[string]struct{}{}
	}
	if len(s.rtOK) < maxRoundTripCache {
		s.rtOK[string(s.rtKey)] = struct{}{}
	}
	return nil
}

// maxRoundTripCache bounds the round-trip verdicts one scan keeps (a crafted document with
// endless distinct tags only loses the cache, not memory).
const maxRoundTripCache = 4096
