package xmlsig

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// ErrUnsupported means the streaming scanner met a construct it does not handle (a non-ASCII
// name, a literal tab or line break inside an attribute value, an InclusiveNamespaces
// PrefixList, …). Nothing was accepted: callers fall back to the DOM path (VerifyEnveloped,
// xmlgate.Check), which decides.
var ErrUnsupported = errors.New("xmlsig: construct not supported by the streaming scanner")

// Namespaces the scanner enforces rules on (Namespaces in XML 1.0 §3; SECURITY.md §2.10).
const (
	nsXML      = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS    = "http://www.w3.org/2000/xmlns/"
	nsSAMLAsrt = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsSAMLProt = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsSAMLMD   = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsXMLEnc   = "http://www.w3.org/2001/04/xmlenc#"
)

// gateErr is a rule of xmlgate broken: it wraps xmlgate.ErrRejected, so callers treat it like
// the gate's own refusal (and may ask xmlgate.Check for its exact wording).
func gateErr(rule string) error { return fmt.Errorf("%w: %s", xmlgate.ErrRejected, rule) }

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }

// Action tells Scan what to do with an element reported to a ScanHandler.
type Action int

const (
	// Descend reports the element's child elements to the handler too.
	Descend Action = iota
	// Capture hands the whole element to ScanHandler.Captured once its end tag is read; its
	// descendants are not reported.
	Capture
	// Skip reports nothing inside the element.
	Skip
)

// Attr is an attribute of a scanned element: Space is the namespace URI ("" for an unprefixed
// attribute), Value is decoded (character and entity references resolved, line ends
// normalised to LF) exactly as encoding/xml decodes it. Namespace declarations are not Attrs.
type Attr struct {
	Space, Local, Value string
}

// Element is a start tag reported by Scan: its namespace URI, local name, attributes and depth
// (the root element has depth 1).
type Element struct {
	Space, Local string
	Attrs        []Attr
	Depth        int
}

// Binding is a namespace declaration in scope: Prefix "" is the default namespace.
type Binding struct {
	Prefix, URI string
}

// Captured is an element Scan handed over whole: raw[Start:End] is the element, Scope the
// namespaces in scope at its parent (shared, read-only), Seq its rank among captures.
type Captured struct {
	Seq        int
	Start, End int
	Scope      []Binding
	// Root is set when the captured element is the document element: its enveloped
	// ds:Signature child is not part of what was signed and ParseCaptured leaves it out.
	Root bool

	// Tree is the element parsed as ParseCaptured would, when the scan was ScanTrees; it
	// is valid until Release.
	Tree  *Node
	arena *treeArena
}

// Release gives the memory of c.Tree back to the scan for a later capture; c.Tree must not
// be used after. It may be called from another goroutine, and does nothing without a Tree.
func (c Captured) Release() {
	if c.arena != nil {
		select {
		case c.arena.free <- c.arena:
		default: // enough spare arenas already
		}
	}
}

// treeArena is the memory of one captured tree of ScanTrees, recycled through free.
type treeArena struct {
	t    treeBuilder
	free chan *treeArena
}

// ScanHandler receives what Scan reports. Start is called for the root and for the children of
// every element it returned Descend for; End for the end of every element it returned Descend
// for. An error from Start aborts the scan and is returned by Scan unchanged.
type ScanHandler interface {
	Start(e *Element) (Action, error)
	End(depth int)
	Captured(c Captured)
}

// Scan tokenises raw with the same rules as xmlgate.Check under lim (well-formed UTF-8 XML, no
// DTD or processing instruction, the limits, no duplicate attribute or ID value, no undeclared
// prefix, no rebinding of SAML/DSig/XMLEnc prefixes) and reports elements to h. It does not
// verify anything. Errors wrap xmlgate.ErrRejected (a rule broken; xmlgate.ErrTooLarge for the
// size) or ErrUnsupported (xmlgate might accept it: ask it), or are h's.
//
// Scan is the tokenizer VerifyEnvelopedStream digests with, so a document it verified reads
// the same through Scan and ParseCaptured (SECURITY.md R5: the data read is what was digested).
func Scan(raw []byte, lim xmlgate.Limits, h ScanHandler) error {
	s := newScanner(raw, lim)
	s.handler = h
	s.literalAttrWS = true
	return s.run()
}

// ScanTrees is Scan that also hands over the tree of every captured element (Captured.Tree,
// what ParseCaptured would return for it), built during the same pass: a consumer on
// another goroutine then need not tokenise the element again. The consumer calls
// Captured.Release when done with a tree, so that its memory serves a later capture.
func ScanTrees(raw []byte, lim xmlgate.Limits, h ScanHandler) error {
	s := newScanner(raw, lim)
	s.handler = h
	s.literalAttrWS = true
	s.arenas = make(chan *treeArena, 64)
	return s.run()
}

// scanner is one pass over a document (global rules on) or over one captured element (tree
// mode, global rules off: they were checked when the whole document was scanned).
type scanner struct {
	raw    []byte
	pos    int
	end    int
	lim    xmlgate.Limits
	global bool

	binds    []Binding // namespace declarations in scope
	bindGen  int       // bumped when binds change, to reuse scope copies
	rendered []Binding // exclusive-C14N output: declarations the output has in scope
	frames   []frame
	tokens   int
	rootSeen bool
	rootDone bool

	ids      map[string]struct{}
	prefixes map[string]*prefixUse

	attrs []rawAttr // scratch for the current start tag
	decls []Binding // scratch: this start tag's declarations
	vbuf  []byte    // scratch for decoding
	abuf  []byte    // scratch: this start tag's decoded attribute values

	// names interns the short strings an aggregate repeats in every entity (names, namespace
	// URIs, Binding values, indentation): one copy each instead of one per element.
	names *internTable

	// roundTrip: start tags are also held to the round-trip validator's verdict (GateFast).
	roundTrip bool
	rtKey     []byte              // the current tag as a cache key (roundTripStart)
	rtOK      map[string]struct{} // tags the round-trip validator passed in this scan

	// noIntern: intern makes plain copies (GateFast keeps no string past the scan, so the
	// table would be pure cost).
	noIntern bool

	// literalAttrWS: a literal tab, CR or LF in an attribute value is read as encoding/xml
	// reads it (parsing). When false (digesting) it is ErrUnsupported: XML 1.0 §3.3.3 makes it
	// a space in the canonical form, goxmldsig keeps it, and we must agree with both.
	literalAttrWS bool

	out     *canonWriter // exclusive-C14N output; nil when not canonicalising
	outSkip int          // depth at which output is suppressed (enveloped signature); 0 = none

	handler    ScanHandler
	hDepth     int // elements deeper than this are not reported (inside Capture/Skip)
	capSeq     int
	scopeCache []Binding
	scopeGen   int

	// Enveloped-signature bookkeeping (digesting only).
	sigCount    int
	sigStart    int
	sigEnd      int
	sigDone     func(start, end int, scope []Binding) error
	sigNotChild bool
	rootID      string
	rootPrefID  bool
	rootElem    *Element
	keepRoot    bool

	// Tree mode.
	tree *treeBuilder

	// ScanTrees: spare arenas, and the one of the capture being read.
	arenas chan *treeArena
	arena  *treeArena

	orderErr error // set by emitStart; reported at the end of the start tag
}

type frame struct {
	start              int // offset of '<'
	nameStart, nameEnd int
	nBinds, nRendered  int
	action             Action
	reported           bool
	capture            bool
	sig                bool
	scope              []Binding // for captures
}

type rawAttr struct {
	ps, pe, ls, le int // prefix and local name ranges (ps == pe: no prefix)
	vs, ve         int // raw value range (between the quotes)
	uri            string
	// The decoded value is raw[vs:ve] when it needed no decoding, else abuf[bs:be]; the
	// string is made only when something keeps it (value, hasValue).
	bs, be   int
	inBuf    bool
	value    string
	hasValue bool
}

// val is a's decoded value; valid until the next start tag.
func (s *scanner) val(a *rawAttr) []byte {
	if a.inBuf {
		return s.abuf[a.bs:a.be]
	}
	return s.raw[a.vs:a.ve]
}

// str is a's decoded value as a string.
func (s *scanner) str(a *rawAttr) string {
	if !a.hasValue {
		a.value, a.hasValue = s.intern(s.val(a)), true
	}
	return a.value
}

// internTable is a direct-mapped cache of short strings: a slot per cheap hash of the bytes,
// the last string seen there kept. A string that is not repeated costs one look-up and the
// copy it would cost anyway; one that is (an aggregate's vocabulary) is found again unless a
// colliding string took its slot in between. Its size is fixed whatever the document holds.
type internTable [internSlots]string

const (
	internSlots  = 4096
	internMaxLen = 96
)

// intern returns b as a string, shared with earlier equal short strings.
func (s *scanner) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen || s.noIntern {
		return string(b)
	}
	if s.names == nil {
		s.names = new(internTable)
	}
	n := len(b)
	h := uint32(n)*0x9E3779B1 ^ uint32(b[0])<<5 ^ uint32(b[n-1])<<11 ^ uint32(b[n/2])<<17 ^ uint32(b[n/3])*0x85EBCA6B ^ uint32(b[2*n/3])<<23
	slot := &s.names[(h^h>>15)%internSlots]
	if *slot == string(b) {
		return *slot
	}
	v := string(b)
	*slot = v
	return v
}

type prefixUse struct {
	first     string
	multi     bool
	protected bool
}

func newScanner(raw []byte, lim xmlgate.Limits) *scanner {
	return &scanner{
		raw:      raw,
		end:      len(raw),
		lim:      lim,
		global:   true,
		ids:      map[string]struct{}{},
		prefixes: map[string]*prefixUse{},
		hDepth:   1 << 30,
	}
}

func protectedNS(uri string) bool {
	switch uri {
	case nsSAMLAsrt, nsSAMLProt, nsSAMLMD, nsDSig, nsXMLEnc:
		return true
	}
	return false
}

// byte classes for text and attribute scanning.
const (
	clNone = iota
	clCtl  // a C0 control other than TAB, LF, CR: not an XML Char
	clAmp
	clGT
	clCR
	clWS // TAB or LF
	clLT
	clQuot
	clApos
	clEF // first byte of U+FFFE / U+FFFF candidates
	clHi // other non-ASCII lead or continuation byte
)

var byteClass = func() (t [256]uint8) {
	for i := 0; i < 0x20; i++ {
		t[i] = clCtl
	}
	t['\t'], t['\n'] = clWS, clWS
	t['\r'] = clCR
	t['&'] = clAmp
	t['>'] = clGT
	t['<'] = clLT
	t['"'] = clQuot
	t['\''] = clApos
	for i := 0x80; i < 0x100; i++ {
		t[i] = clHi
	}
	t[0xEF] = clEF
	return t
}()

// plainText marks the ASCII bytes that character data holds as they are: not a control other
// than TAB and LF, not & < > or CR.
var plainText = func() (t [256]bool) {
	for i := 0; i < 0x80; i++ {
		switch byteClass[i] {
		case clNone, clWS, clQuot, clApos:
			t[i] = true
		}
	}
	return t
}()

// plainWord reports whether the eight bytes of x are all printable ASCII other than & < >
// (so plainText; a TAB or LF makes it false, and the caller goes byte by byte).
func plainWord(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	if x&hi != 0 {
		return false
	}
	// With every byte below 0x80, (x - n·lo) &^ x & hi is non-zero exactly when some byte is
	// below n (n ≤ 0x80), and (v - lo) &^ v & hi exactly when some byte of v is zero.
	zero := func(v uint64) uint64 { return (v - lo) &^ v & hi }
	return (x-0x20*lo)&^x&hi|zero(x^0x26*lo)|zero(x^0x3C*lo)|zero(x^0x3E*lo) == 0
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) run() error {
	if s.global {
		if len(s.raw) > s.lim.MaxBytes {
			return fmt.Errorf("%w: %d bytes exceed the limit of %d", xmlgate.ErrTooLarge, len(s.raw), s.lim.MaxBytes)
		}
		if !utf8.Valid(s.raw) {
			return gateErr("invalid UTF-8")
		}
	}
	raw := s.raw
	for s.pos < s.end {
		if raw[s.pos] != '<' {
			if err := s.text(); err != nil {
				return err
			}
			continue
		}
		if s.pos+1 >= s.end {
			return gateErr("malformed XML")
		}
		var err error
		switch raw[s.pos+1] {
		case '/':
			err = s.endTag()
		case '!':
			err = s.bang()
		case '?':
			err = s.procInst()
		default:
			err = s.startTag()
		}
		if err != nil {
			return err
		}
	}
	if s.global {
		if !s.rootSeen {
			return gateErr("no root element")
		}
	}
	if len(s.frames) != 0 {
		return gateErr("unclosed element")
	}
	return nil
}

func (s *scanner) token() error {
	s.tokens++
	if s.global && s.tokens > s.lim.MaxTokens {
		return gateErr(fmt.Sprintf("more than %d tokens", s.lim.MaxTokens))
	}
	return nil
}

// text handles character data up to the next '<' (or the end).
func (s *scanner) text() error {
	raw := s.raw
	i := bytes.IndexByte(raw[s.pos:s.end], '<')
	stop := s.end
	if i >= 0 {
		stop = s.pos + i
	}
	seg := raw[s.pos:stop]
	start := s.pos
	s.pos = stop
	if err := s.token(); err != nil {
		return err
	}
	if len(s.frames) == 0 {
		for _, c := range seg {
			if !isSpace(c) {
				if s.rootDone {
					return gateErr("content after the root element")
				}
				return gateErr("content before the root element")
			}
		}
		return nil
	}
	special := false
	// Most character data (indentation, base64) is plain ASCII: skip it eight bytes at a
	// time, else a byte at a time, and classify only from the first other byte on.
	j0 := 0
	for j0 < len(seg) {
		if j0+8 <= len(seg) && plainWord(binary.LittleEndian.Uint64(seg[j0:])) {
			j0 += 8
			continue
		}
		if !plainText[seg[j0]] {
			break
		}
		j0++
	}
	for j := j0; j < len(seg); j++ {
		c := seg[j]
		switch byteClass[c] {
		case clNone, clWS, clHi, clLT, clQuot, clApos:
		case clCtl:
			return gateErr("malformed XML: illegal character")
		case clEF:
			if j+2 < len(seg) && seg[j+1] == 0xBF && (seg[j+2] == 0xBE || seg[j+2] == 0xBF) {
				return gateErr("malformed XML: illegal character")
			}
		case clGT:
			if j >= 2 && seg[j-1] == ']' && seg[j-2] == ']' {
				// "]]>" outside CDATA is not well-formed (XML 1.0 §2.4); encoding/xml lets it
				// through, so this is stricter than the gate.
				return unsupported("]]> in character data")
			}
			special = true
		default:
			special = true
		}
	}
	emit := s.out != nil && s.outSkip == 0
	if !special {
		if emit {
			s.out.write(seg)
		}
		if s.tree != nil {
			s.tree.text(seg, true)
		}
		return nil
	}
	dec, err := s.decode(start, stop, false)
	if err != nil {
		return err
	}
	if emit {
		s.out.escapeText(dec)
	}
	if s.tree != nil {
		s.tree.text(dec, false)
	}
	return nil
}

// decode resolves references in raw[a:b] and normalises line ends (XML 1.0 §2.11). In an
// attribute value a literal TAB, CR or LF is ErrUnsupported unless literalAttrWS.
func (s *scanner) decode(a, b int, inAttr bool) ([]byte, error) {
	raw := s.raw
	out := s.vbuf[:0]
	for i := a; i < b; {
		c := raw[i]
		switch byteClass[c] {
		case clAmp:
			r, n, err := reference(raw[i:b])
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		case clCR:
			if inAttr && !s.literalAttrWS {
				return nil, unsupported("literal line break in an attribute value")
			}
			out = append(out, '\n')
			if i+1 < b && raw[i+1] == '\n' {
				i++
			}
		case clWS:
			if inAttr && !s.literalAttrWS {
				return nil, unsupported("literal tab or line break in an attribute value")
			}
			out = append(out, c)
		case clCtl:
			return nil, gateErr("malformed XML: illegal character")
		case clLT:
			return nil, gateErr("malformed XML: < in an attribute value")
		case clEF:
			if i+2 < b && raw[i+1] == 0xBF && (raw[i+2] == 0xBE || raw[i+2] == 0xBF) {
				return nil, gateErr("malformed XML: illegal character")
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
		i++
	}
	s.vbuf = out
	return out, nil
}

// reference decodes the reference at the start of b ("&amp;", "&#x41;", …): the five predefined
// entities and character references only (there is no DTD to declare others).
func reference(b []byte) (rune, int, error) {
	semi := bytes.IndexByte(b[:min(len(b), 12)], ';')
	if semi < 0 {
		return 0, 0, gateErr("malformed XML: bad reference")
	}
	name := b[1:semi]
	switch string(name) {
	case "amp":
		return '&', semi + 1, nil
	case "lt":
		return '<', semi + 1, nil
	case "gt":
		return '>', semi + 1, nil
	case "quot":
		return '"', semi + 1, nil
	case "apos":
		return '\'', semi + 1, nil
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, 0, gateErr("malformed XML: bad reference")
	}
	var r rune
	digits := name[1:]
	base := rune(10)
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, 0, gateErr("malformed XML: bad character reference")
	}
	for _, d := range digits {
		var v rune
		switch {
		case d >= '0' && d <= '9':
			v = rune(d - '0')
		case base == 16 && d >= 'a' && d <= 'f':
			v = rune(d-'a') + 10
		case base == 16 && d >= 'A' && d <= 'F':
			v = rune(d-'A') + 10
		default:
			return 0, 0, gateErr("malformed XML: bad character reference")
		}
		r = r*base + v
	}
	if !isXMLChar(r) {
		return 0, 0, gateErr("malformed XML: illegal character reference")
	}
	return r, semi + 1, nil
}

// isXMLChar is the Char production of XML 1.0 §2.2.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// qname reads Prefix:Local or Local at s.pos (ASCII names only; others are ErrUnsupported).
func (s *scanner) qname() (ps, pe, ls, le int, err error) {
	raw := s.raw
	i := s.pos
	if i >= s.end || !isNameStart(raw[i]) {
		if i < s.end && raw[i] >= 0x80 {
			return 0, 0, 0, 0, unsupported("non-ASCII name")
		}
		return 0, 0, 0, 0, gateErr("malformed XML: bad name")
	}
	a := i
	for i < s.end && isNameChar(raw[i]) {
		i++
	}
	ps, pe, ls, le = a, a, a, i
	if i < s.end && raw[i] == ':' {
		i++
		if i >= s.end || !isNameStart(raw[i]) {
			return 0, 0, 0, 0, gateErr("name is not a QName")
		}
		b := i
		for i < s.end && isNameChar(raw[i]) {
			i++
		}
		ps, pe, ls, le = a, le, b, i
	}
	if i < s.end && (raw[i] >= 0x80 || raw[i] == ':') {
		if raw[i] == ':' {
			return 0, 0, 0, 0, gateErr("name is not a QName")
		}
		return 0, 0, 0, 0, unsupported("non-ASCII name")
	}
	if s.global && (pe-ps)+(le-ls)+1 > s.lim.MaxNameLen {
		return 0, 0, 0, 0, gateErr(fmt.Sprintf("name longer than %d bytes", s.lim.MaxNameLen))
	}
	s.pos = i
	return ps, pe, ls, le, nil
}

func (s *scanner) skipSpace() bool {
	moved := false
	for s.pos < s.end && isSpace(s.raw[s.pos]) {
		s.pos++
		moved = true
	}
	return moved
}

func (s *scanner) is(ps, pe int, lit string) bool { return string(s.raw[ps:pe]) == lit }

// lookup resolves a prefix against the declarations in scope.
func lookup(binds []Binding, prefix []byte) (string, bool) {
	for i := len(binds) - 1; i >= 0; i-- {
		if binds[i].Prefix == string(prefix) {
			return binds[i].URI, true
		}
	}
	return "", false
}

func (s *scanner) startTag() error {
	raw := s.raw
	tagStart := s.pos
	if s.global && s.rootDone {
		return gateErr("more than one root element")
	}
	s.pos++
	ps, pe, ls, le, err := s.qname()
	if err != nil {
		return err
	}
	s.attrs = s.attrs[:0]
	s.decls = s.decls[:0]
	s.abuf = s.abuf[:0]
	selfClose := false
	for {
		sp := s.skipSpace()
		if s.pos >= s.end {
			return gateErr("malformed XML: unexpected end")
		}
		c := raw[s.pos]
		if c == '>' {
			s.pos++
			break
		}
		if c == '/' {
			if s.pos+1 >= s.end || raw[s.pos+1] != '>' {
				return gateErr("malformed XML")
			}
			s.pos += 2
			selfClose = true
			break
		}
		if !sp {
			return unsupported("attributes not separated by white space")
		}
		var a rawAttr
		if a.ps, a.pe, a.ls, a.le, err = s.qname(); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= s.end || raw[s.pos] != '=' {
			return gateErr("malformed XML: attribute without value")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= s.end || (raw[s.pos] != '"' && raw[s.pos] != '\'') {
			return gateErr("malformed XML: unquoted attribute value")
		}
		q := raw[s.pos]
		s.pos++
		j := bytes.IndexByte(raw[s.pos:s.end], q)
		if j < 0 {
			return gateErr("malformed XML: unterminated attribute value")
		}
		a.vs, a.ve = s.pos, s.pos+j
		s.pos += j + 1
		s.attrs = append(s.attrs, a)
	}
	if s.global && len(s.attrs) > s.lim.MaxAttrs {
		return gateErr(fmt.Sprintf("more than %d attributes on one element", s.lim.MaxAttrs))
	}
	if err := s.token(); err != nil {
		return err
	}
	depth := len(s.frames) + 1
	if s.global {
		s.rootSeen = true
		if depth > s.lim.MaxDepth {
			return gateErr(fmt.Sprintf("nesting deeper than %d", s.lim.MaxDepth))
		}
	}

	// Values, and namespace declarations first (Namespaces in XML 1.0 §6).
	f := frame{start: tagStart, nameStart: ps, nameEnd: le, nBinds: len(s.binds), nRendered: len(s.rendered)}
	for i := range s.attrs {
		a := &s.attrs[i]
		if err := s.attrValue(a); err != nil {
			return err
		}
		prefix, isDecl := "", false
		switch {
		case a.ps == a.pe && s.is(a.ls, a.le, "xmlns"):
			isDecl = true
		case a.ps != a.pe && s.is(a.ps, a.pe, "xmlns"):
			prefix, isDecl = s.intern(raw[a.ls:a.le]), true
		}
		if !isDecl {
			continue
		}
		if s.global && len(s.decls)+1 > s.lim.MaxNSDecls {
			return gateErr(fmt.Sprintf("more than %d namespace declarations on one element", s.lim.MaxNSDecls))
		}
		for _, d := range s.decls {
			if d.Prefix == prefix {
				return gateErr("duplicate namespace declaration")
			}
		}
		// xmlgate caps every attribute value, namespace declarations included.
		if s.global && len(s.val(a)) > s.lim.MaxAttrValueLen {
			return gateErr(fmt.Sprintf("attribute value longer than %d bytes", s.lim.MaxAttrValueLen))
		}
		uri := s.str(a)
		if err := s.declare(prefix, uri); err != nil {
			return err
		}
		s.decls = append(s.decls, Binding{Prefix: prefix, URI: uri})
		a.uri = nsXMLNS
	}
	if len(s.decls) > 0 {
		s.binds = append(s.binds, s.decls...)
		s.bindGen++
	}

	// The element's namespace.
	var elemNS string
	switch {
	case ps == pe:
		elemNS, _ = lookup(s.binds, nil)
	case s.is(ps, pe, "xml"):
		return unsupported("element in the xml namespace")
	default:
		u, ok := lookup(s.binds, raw[ps:pe])
		if !ok {
			return gateErr("element prefix not declared")
		}
		elemNS = u
	}

	// Attributes: resolve, duplicates, IDs.
	for i := range s.attrs {
		a := &s.attrs[i]
		if a.uri == nsXMLNS {
			continue
		}
		switch {
		case a.ps == a.pe:
			a.uri = ""
		case s.is(a.ps, a.pe, "xml"):
			a.uri = nsXML
		default:
			u, ok := lookup(s.binds, raw[a.ps:a.pe])
			if !ok {
				return gateErr("attribute prefix not declared")
			}
			a.uri = u
		}
		if s.global && s.lim.MaxAttrValueLen < len(s.val(a)) {
			return gateErr(fmt.Sprintf("attribute value longer than %d bytes", s.lim.MaxAttrValueLen))
		}
		if a.ps == a.pe && s.is(a.ls, a.le, "ID") && s.global {
			if _, dup := s.ids[string(s.val(a))]; dup {
				return gateErr("duplicate ID value")
			}
			s.ids[string(s.val(a))] = struct{}{}
		}
	}
	for i := range s.attrs {
		a := &s.attrs[i]
		for j := 0; j < i; j++ {
			b := &s.attrs[j]
			if bytes.Equal(raw[a.ps:a.pe], raw[b.ps:b.pe]) && bytes.Equal(raw[a.ls:a.le], raw[b.ls:b.le]) {
				return gateErr("duplicate attribute")
			}
			if a.uri != nsXMLNS && b.uri != nsXMLNS && a.uri == b.uri && bytes.Equal(raw[a.ls:a.le], raw[b.ls:b.le]) {
				return gateErr("duplicate attribute")
			}
		}
	}
	if s.roundTrip {
		if err := s.roundTripStart(ps, pe, ls, le); err != nil {
			return err
		}
	}
	isSig := elemNS == nsDSig && s.is(ls, le, "Signature")
	if s.global && isSig {
		s.sigCount++
		if depth != 2 {
			s.sigNotChild = true
		}
	}
	if depth == 1 && s.global {
		for i := range s.attrs {
			a := &s.attrs[i]
			if !s.is(a.ls, a.le, "ID") || a.uri == nsXMLNS {
				continue
			}
			if a.ps == a.pe {
				s.rootID = s.str(a)
			} else {
				s.rootPrefID = true
			}
		}
	}

	// Exclusive C14N output (xml-exc-c14n §3; C14N 1.0 §2.3 for the rest).
	if s.out != nil && s.outSkip == 0 {
		if s.sigDone != nil && depth == 2 && isSig && s.sigStart == 0 {
			f.sig = true
			s.sigStart = tagStart
			s.outSkip = depth
		} else {
			s.emitStart(ps, pe, le, elemNS)
			if s.orderErr != nil {
				return s.orderErr
			}
		}
	}

	if s.handler != nil && depth <= s.hDepth {
		e := &Element{Space: elemNS, Local: s.intern(raw[ls:le]), Depth: depth, Attrs: s.elemAttrs()}
		if depth == 1 && s.keepRoot {
			s.rootElem = e
		}
		act, err := s.handler.Start(e)
		if err != nil {
			return err
		}
		f.action, f.reported = act, true
		switch act {
		case Capture:
			f.capture = true
			f.scope = s.scope(f.nBinds)
			s.hDepth = depth - 1
			if s.arenas != nil {
				s.startCaptureTree(depth == 1)
			}
		case Skip:
			s.hDepth = depth - 1
		}
	} else if depth == 1 && s.keepRoot {
		s.rootElem = &Element{Space: elemNS, Local: s.intern(raw[ls:le]), Depth: 1, Attrs: s.elemAttrs()}
	}

	if s.tree != nil {
		s.tree.start(s, elemNS, ls, le, tagStart, f.nBinds)
	}

	s.frames = append(s.frames, f)
	if selfClose {
		if err := s.token(); err != nil { // encoding/xml reports <a/> as two tokens
			return err
		}
		return s.closeElement()
	}
	return nil
}

// startCaptureTree starts building the tree of the element being captured (ScanTrees), in an
// arena given back by an earlier capture's consumer if there is one.
func (s *scanner) startCaptureTree(root bool) {
	var a *treeArena
	select {
	case a = <-s.arenas:
	default:
		a = &treeArena{free: s.arenas}
	}
	t := &a.t
	*t = treeBuilder{skipSig: root, stack: t.stack[:0], texts: t.texts, chunks: t.chunks}
	s.arena, s.tree = a, t
}

// elemAttrs returns the current start tag's attributes (namespace declarations left out).
func (s *scanner) elemAttrs() []Attr {
	n := 0
	for i := range s.attrs {
		if s.attrs[i].uri != nsXMLNS {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Attr, 0, n)
	for i := range s.attrs {
		if a := &s.attrs[i]; a.uri != nsXMLNS {
			out = append(out, Attr{Space: a.uri, Local: s.intern(s.raw[a.ls:a.le]), Value: s.str(a)})
		}
	}
	return out
}

// attrValue decodes a's value (into s.abuf when it needs decoding).
func (s *scanner) attrValue(a *rawAttr) error {
	v := s.raw[a.vs:a.ve]
	plain := true
	for _, c := range v {
		if k := byteClass[c]; k != clNone && k != clHi && k != clGT && k != clQuot && k != clApos {
			plain = false
			break
		}
	}
	if plain {
		if bytes.IndexByte(v, 0xEF) >= 0 {
			plain = false
		}
	}
	if plain {
		return nil
	}
	dec, err := s.decode(a.vs, a.ve, true)
	if err != nil {
		return err
	}
	a.bs = len(s.abuf)
	s.abuf = append(s.abuf, dec...)
	a.be, a.inBuf = len(s.abuf), true
	return nil
}

// declare applies xmlgate's declaration rules (Namespaces in XML 1.0 §3; SECURITY.md §2.10).
func (s *scanner) declare(prefix, uri string) error {
	switch {
	case prefix == "xmlns":
		return gateErr("the xmlns prefix must not be declared")
	case prefix == "xml" && uri != nsXML, prefix != "xml" && uri == nsXML:
		return gateErr("the xml prefix or namespace rebound")
	case uri == nsXMLNS:
		return gateErr("the xmlns namespace must not be bound")
	case prefix != "" && uri == "":
		return gateErr("empty namespace URI for a prefix")
	}
	if prefix == "xml" {
		// Declaring xml with its own URI is allowed and means nothing; the canonical form
		// never shows it, which is easier to get wrong than to refuse.
		return unsupported("declaration of the xml prefix")
	}
	if prefix == "" || !s.global {
		return nil
	}
	u := s.prefixes[prefix]
	if u == nil {
		s.prefixes[prefix] = &prefixUse{first: uri, protected: protectedNS(uri)}
		return nil
	}
	if uri != u.first {
		u.multi = true
	}
	u.protected = u.protected || protectedNS(uri)
	if u.multi && u.protected && !s.lim.AllowPrefixRebinding {
		return gateErr("SAML, DSig or XMLEnc namespace prefix rebound")
	}
	return nil
}

// scope returns a read-only copy of the first n bindings, reusing the last copy while the
// bindings have not changed (every entity of an aggregate shares the root's).
func (s *scanner) scope(n int) []Binding {
	if s.scopeCache != nil && s.scopeGen == s.bindGen && len(s.scopeCache) == n {
		return s.scopeCache
	}
	c := append([]Binding(nil), s.binds[:n]...)
	s.scopeCache, s.scopeGen = c, s.bindGen
	return c
}

func (s *scanner) endTag() error {
	raw := s.raw
	s.pos += 2
	ps, pe, ls, le, err := s.qname()
	if err != nil {
		return err
	}
	s.skipSpace()
	if s.pos >= s.end || raw[s.pos] != '>' {
		return gateErr("malformed XML: bad end tag")
	}
	s.pos++
	if err := s.token(); err != nil {
		return err
	}
	if len(s.frames) == 0 {
		return gateErr("unexpected end element")
	}
	f := &s.frames[len(s.frames)-1]
	_, _ = pe, ls
	if !bytes.Equal(raw[ps:le], raw[f.nameStart:f.nameEnd]) {
		return gateErr("mismatched end element")
	}
	return s.closeElement()
}

// closeElement ends the innermost element (after its end tag, or for <a/>).
func (s *scanner) closeElement() error {
	f := s.frames[len(s.frames)-1]
	depth := len(s.frames)
	if s.out != nil {
		if s.outSkip == 0 {
			s.out.write3('<', '/', s.raw[f.nameStart:f.nameEnd], '>')
		} else if s.outSkip == depth {
			s.outSkip = 0
			if f.sig {
				s.sigEnd = s.pos
				if err := s.sigDone(f.start, s.pos, s.scope(f.nBinds)); err != nil {
					return err
				}
			}
		}
	}
	if s.tree != nil {
		s.tree.end(s, s.pos)
	}
	if f.reported {
		switch f.action {
		case Descend:
			s.handler.End(depth)
		case Capture:
			c := Captured{Seq: s.capSeq, Start: f.start, End: s.pos, Scope: f.scope, Root: depth == 1}
			if s.arena != nil {
				c.Tree, c.arena = s.arena.t.top, s.arena
				s.arena, s.tree = nil, nil
			}
			s.handler.Captured(c)
			s.capSeq++
			s.hDepth = 1 << 30
		case Skip:
			s.hDepth = 1 << 30
		}
	}
	if len(s.binds) != f.nBinds {
		s.binds = s.binds[:f.nBinds]
		s.bindGen++
	}
	s.rendered = s.rendered[:f.nRendered]
	s.frames = s.frames[:len(s.frames)-1]
	if s.global && len(s.frames) == 0 {
		s.rootDone = true
	}
	return nil
}

// bang handles "<!": comments, CDATA sections; DOCTYPE and other declarations are refused.
func (s *scanner) bang() error {
	raw := s.raw
	rest := raw[s.pos:s.end]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		j := bytes.Index(rest[4:], []byte("--"))
		if j < 0 {
			return gateErr("malformed XML: unterminated comment")
		}
		if 4+j+2 >= len(rest) || rest[4+j+2] != '>' {
			return gateErr("malformed XML: -- in a comment")
		}
		body := rest[4 : 4+j]
		for _, c := range body {
			if byteClass[c] == clCtl {
				return gateErr("malformed XML: illegal character")
			}
		}
		s.pos += 4 + j + 3
		if err := s.token(); err != nil {
			return err
		}
		if s.global && !s.lim.AllowComments {
			return gateErr("comments not allowed")
		}
		if s.tree != nil {
			s.tree.comment()
		}
		return nil
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		if len(s.frames) == 0 {
			return gateErr("content outside the root element")
		}
		j := bytes.Index(rest[9:], []byte("]]>"))
		if j < 0 {
			return gateErr("malformed XML: unterminated CDATA section")
		}
		a, b := s.pos+9, s.pos+9+j
		if j == 0 {
			// xmlgate's round-trip check refuses an empty character-data token.
			return gateErr("empty CDATA section")
		}
		s.pos = b + 3
		if err := s.token(); err != nil {
			return err
		}
		body := raw[a:b]
		out := s.vbuf[:0]
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch byteClass[c] {
			case clCtl:
				return gateErr("malformed XML: illegal character")
			case clCR:
				out = append(out, '\n')
				if i+1 < len(body) && body[i+1] == '\n' {
					i++
				}
				continue
			case clEF:
				if i+2 < len(body) && body[i+1] == 0xBF && (body[i+2] == 0xBE || body[i+2] == 0xBF) {
					return gateErr("malformed XML: illegal character")
				}
			}
			out = append(out, c)
		}
		s.vbuf = out
		if s.out != nil && s.outSkip == 0 {
			s.out.escapeText(out)
		}
		if s.tree != nil {
			s.tree.text(out, false)
		}
		return nil
	case bytes.HasPrefix(rest, []byte("<!DOCTYPE")) || bytes.HasPrefix(rest, []byte("<!doctype")):
		return gateErr("DOCTYPE not allowed")
	}
	return gateErr("directive not allowed")
}

// procInst allows the XML declaration only, as the very first bytes, declaring UTF-8 if it
// declares an encoding (XML 1.0 §2.8, §4.3.3), as xmlgate does.
func (s *scanner) procInst() error {
	raw := s.raw
	rest := raw[s.pos:s.end]
	isDecl := len(rest) > 6 && strings.EqualFold(string(rest[2:5]), "xml") && isSpace(rest[5])
	if !isDecl || !s.global {
		return gateErr("processing instruction not allowed")
	}
	if s.pos != 0 || s.tokens != 0 {
		return gateErr("XML declaration not at the start of the document")
	}
	if string(rest[2:5]) != "xml" {
		return unsupported("XML declaration not in lower case")
	}
	j := bytes.Index(rest, []byte("?>"))
	if j < 0 {
		return gateErr("malformed XML declaration")
	}
	if err := checkXMLDecl(string(rest[5:j])); err != nil {
		return err
	}
	s.pos += j + 2
	return s.token()
}

// checkXMLDecl reads the pseudo-attributes of the XML declaration: version, if given, must be
// 1.0 (encoding/xml refuses others), encoding, if given, UTF-8.
func checkXMLDecl(inst string) error {
	rest := inst
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" {
			return nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return gateErr("malformed XML declaration")
		}
		key := strings.TrimRight(rest[:eq], " \t\r\n")
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return gateErr("malformed XML declaration")
		}
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return gateErr("malformed XML declaration")
		}
		val := rest[1 : 1+end]
		rest = rest[end+2:]
		// encoding/xml finds "version=" and "encoding=" anywhere in the declaration, inside
		// another pseudo-attribute's value too (standalone="encoding='x'" is an encoding to
		// it): values other than plain names (VersionNum, EncName, yes/no: XML 1.0 §2.8,
		// §4.3.3) are left to xmlgate.
		if !plainDeclValue(val) {
			return unsupported("XML declaration value not a plain name")
		}
		switch key {
		case "version":
			if val != "1.0" {
				return gateErr("unsupported XML version")
			}
		case "encoding":
			if !strings.EqualFold(val, "utf-8") {
				return gateErr("encoding other than UTF-8 declared")
			}
		case "standalone":
		default:
			return unsupported("unknown pseudo-attribute in the XML declaration")
		}
	}
}

// plainDeclValue reports whether v is non-empty and made only of the characters of VersionNum,
// EncName and "yes"/"no" (XML 1.0 §2.8, §4.3.3).
func plainDeclValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isNameChar(v[i]) {
			return false
		}
	}
	return true
}
