package xmlsig

import (
	"bytes"
	"crypto"
	"hash"
	"io"
	"sort"
)

// canonWriter buffers exclusive-C14N output in front of a sink (a digest, or a buffer).
type canonWriter struct {
	buf  []byte
	sink io.Writer
}

const canonFlushAt = 64 << 10

func newCanonWriter(sink io.Writer) *canonWriter {
	return &canonWriter{buf: make([]byte, 0, canonFlushAt+4096), sink: sink}
}

func (w *canonWriter) flush() {
	if len(w.buf) > 0 {
		_, _ = w.sink.Write(w.buf) // hashes and bytes.Buffer never fail
		w.buf = w.buf[:0]
	}
}

func (w *canonWriter) write(b []byte) {
	if len(b) > canonFlushAt {
		w.flush()
		_, _ = w.sink.Write(b)
		return
	}
	w.buf = append(w.buf, b...)
	if len(w.buf) >= canonFlushAt {
		w.flush()
	}
}

func (w *canonWriter) write3(a, b byte, name []byte, c byte) {
	w.buf = append(w.buf, a, b)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, c)
	if len(w.buf) >= canonFlushAt {
		w.flush()
	}
}

// escapeText writes decoded character data as C14N 1.0 §2.3 requires: & < > and CR escaped.
func (w *canonWriter) escapeText(b []byte) {
	start := 0
	for i, c := range b {
		var rep string
		switch c {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		w.buf = append(w.buf, b[start:i]...)
		w.buf = append(w.buf, rep...)
		start = i + 1
	}
	w.write(b[start:])
}

// escapeAttr writes a decoded attribute value as C14N 1.0 §2.3 requires: & < " TAB LF CR
// escaped.
func (w *canonWriter) escapeAttr(v string) { escapeAttrTo(w, v) }

func escapeAttrTo[T string | []byte](w *canonWriter, v T) {
	start := 0
	for i := 0; i < len(v); i++ {
		var rep string
		switch v[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '"':
			rep = "&quot;"
		case '\t':
			rep = "&#x9;"
		case '\n':
			rep = "&#xA;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		w.buf = append(w.buf, v[start:i]...)
		w.buf = append(w.buf, rep...)
		start = i + 1
	}
	w.buf = append(w.buf, v[start:]...)
	if len(w.buf) >= canonFlushAt {
		w.flush()
	}
}

// emitStart writes the canonical start tag of the current element (xml-exc-c14n §3): the
// namespace declarations of the visibly utilised prefixes that the output does not already have
// in scope with the same URI, sorted by prefix (default first), then the attributes sorted by
// namespace URI and local name (C14N 1.0 §2.2), each value escaped.
func (s *scanner) emitStart(ps, pe, le int, elemNS string) {
	raw := s.raw
	n0 := len(s.rendered)
	s.utilise(s.intern(raw[ps:pe]), elemNS, n0)
	for i := range s.attrs {
		a := &s.attrs[i]
		if a.uri == nsXMLNS || a.ps == a.pe || a.uri == nsXML {
			continue
		}
		s.utilise(s.intern(raw[a.ps:a.pe]), a.uri, n0)
	}
	newDecls := s.rendered[n0:]
	sort.Slice(newDecls, func(i, j int) bool { return newDecls[i].Prefix < newDecls[j].Prefix })

	w := s.out
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, raw[ps:le]...)
	for _, d := range newDecls {
		if d.Prefix == "" {
			w.buf = append(w.buf, ` xmlns="`...)
		} else {
			w.buf = append(w.buf, " xmlns:"...)
			w.buf = append(w.buf, d.Prefix...)
			w.buf = append(w.buf, `="`...)
		}
		w.escapeAttr(d.URI)
		w.buf = append(w.buf, '"')
	}
	// Attributes in canonical order; a start tag has few, so an insertion sort of indexes.
	var idx [16]int
	order := idx[:0]
	for i := range s.attrs {
		if s.attrs[i].uri == nsXMLNS {
			continue
		}
		order = append(order, i)
		for k := len(order) - 1; k > 0 && s.attrLess(order[k], order[k-1]); k-- {
			order[k], order[k-1] = order[k-1], order[k]
		}
	}
	if !s.goxmldsigOrderAgrees(order, newDecls) {
		s.orderErr = unsupported("namespaced attributes that goxmldsig orders differently")
	}
	for _, i := range order {
		a := &s.attrs[i]
		w.buf = append(w.buf, ' ')
		if a.ps != a.pe {
			w.buf = append(w.buf, raw[a.ps:a.le]...)
		} else {
			w.buf = append(w.buf, raw[a.ls:a.le]...)
		}
		w.buf = append(w.buf, `="`...)
		escapeAttrTo(w, s.val(a))
		w.buf = append(w.buf, '"')
	}
	w.buf = append(w.buf, '>')
	if len(w.buf) >= canonFlushAt {
		w.flush()
	}
}

// goxmldsigOrderAgrees reports whether goxmldsig's attribute order (etreeutils.SortedAttrs,
// which compares prefixed attributes by local name, and by namespace URI only when both
// prefixes are declared on the element) is the canonical order here. Where it is not, one of
// the two is wrong (C14N 1.0 §2.2 orders by namespace URI, then local name), and the stream
// path leaves the decision to VerifyEnveloped so that both paths always agree.
func (s *scanner) goxmldsigOrderAgrees(order []int, decls []Binding) bool {
	raw := s.raw
	declURI := func(a *rawAttr) string {
		for _, d := range decls {
			if d.Prefix == string(raw[a.ps:a.pe]) {
				return d.URI
			}
		}
		return ""
	}
	for k := 1; k < len(order); k++ {
		a, b := &s.attrs[order[k-1]], &s.attrs[order[k]]
		if a.ps == a.pe || b.ps == b.pe || bytes.Equal(raw[a.ps:a.pe], raw[b.ps:b.pe]) {
			continue // unprefixed first, then same prefix by local name: both agree
		}
		ka, kb := string(raw[a.ls:a.le]), string(raw[b.ls:b.le])
		var less bool
		if ka == kb {
			less = declURI(a) < declURI(b)
		} else {
			less = ka < kb
		}
		if !less {
			return false
		}
	}
	return true
}

func (s *scanner) attrLess(i, j int) bool {
	a, b := &s.attrs[i], &s.attrs[j]
	if a.uri != b.uri {
		return a.uri < b.uri
	}
	return string(s.raw[a.ls:a.le]) < string(s.raw[b.ls:b.le])
}

// utilise records that prefix (bound to uri in scope) is visibly utilised by the current
// element, and schedules its declaration unless the output already has it (n0: where this
// element's own new declarations start in s.rendered).
func (s *scanner) utilise(prefix, uri string, n0 int) {
	for _, d := range s.rendered[n0:] {
		if d.Prefix == prefix {
			return
		}
	}
	r, ok := "", false
	for i := n0 - 1; i >= 0; i-- {
		if s.rendered[i].Prefix == prefix {
			r, ok = s.rendered[i].URI, true
			break
		}
	}
	need := !ok || r != uri
	if prefix == "" && uri == "" && !ok {
		if _, declared := lookup(s.binds, nil); declared {
			// xmlns="" with no default namespace ever rendered: C14N writes nothing, goxmldsig
			// writes xmlns="" (it tells "never declared" from "declared empty"). Leave it to
			// VerifyEnveloped so that both paths agree.
			s.orderErr = unsupported(`xmlns="" where no default namespace was in scope`)
		}
	}
	if prefix == "" && uri == "" {
		// No default namespace: xmlns="" only undoes a default the output has in scope.
		need = ok && r != ""
	}
	if need {
		s.rendered = append(s.rendered, Binding{Prefix: prefix, URI: uri})
	}
}

// digestSink feeds canonical output to the Reference's digest. The digest algorithm is only
// known once the ds:Signature has been read, usually right after the root's start tag: until
// then output is kept, and past a few MiB it goes to every allowed digest at once.
type digestSink struct {
	h       hash.Hash
	pending []byte
	all     map[crypto.Hash]hash.Hash
}

const digestPendingMax = 4 << 20

var allowedDigests = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

func (d *digestSink) Write(b []byte) (int, error) {
	switch {
	case d.h != nil:
		d.h.Write(b)
	case d.all != nil:
		for _, h := range d.all {
			h.Write(b)
		}
	default:
		d.pending = append(d.pending, b...)
		if len(d.pending) > digestPendingMax {
			d.all = map[crypto.Hash]hash.Hash{}
			for _, c := range allowedDigests {
				h := c.New()
				h.Write(d.pending)
				d.all[c] = h
			}
			d.pending = nil
		}
	}
	return len(b), nil
}

// asyncDigest feeds a digestSink from another goroutine, in order: Write copies the bytes
// into one of a few buffers and queues them, choose is queued the same way.
type asyncDigest struct {
	queue   chan digestMsg
	free    chan []byte
	done    chan struct{}
	stopped bool
}

type digestMsg struct {
	b      []byte
	choose crypto.Hash // when non-zero, a choose call rather than bytes
}

const asyncDigestBuffers = 4

func startAsyncDigest(d *digestSink) *asyncDigest {
	a := &asyncDigest{
		queue: make(chan digestMsg, asyncDigestBuffers),
		free:  make(chan []byte, asyncDigestBuffers),
		done:  make(chan struct{}),
	}
	for range asyncDigestBuffers {
		a.free <- make([]byte, 0, canonFlushAt+4096)
	}
	go func() {
		defer close(a.done)
		for m := range a.queue {
			if m.choose != 0 {
				d.choose(m.choose)
				continue
			}
			_, _ = d.Write(m.b)
			a.free <- m.b[:0]
		}
	}()
	return a
}

func (a *asyncDigest) Write(b []byte) (int, error) {
	buf := <-a.free
	a.queue <- digestMsg{b: append(buf, b...)}
	return len(b), nil
}

func (a *asyncDigest) choose(c crypto.Hash) { a.queue <- digestMsg{choose: c} }

// stop waits until everything queued reached the digestSink. It may be called again.
func (a *asyncDigest) stop() {
	if !a.stopped {
		a.stopped = true
		close(a.queue)
		<-a.done
	}
}

// choose fixes the digest algorithm.
func (d *digestSink) choose(c crypto.Hash) {
	if d.h != nil {
		return
	}
	if d.all != nil {
		d.h = d.all[c]
		d.all = nil
		return
	}
	d.h = c.New()
	d.h.Write(d.pending)
	d.pending = nil
}

// Node is an element parsed by ParseCaptured: its namespace URI and local name, attributes
// (Attr: namespace declarations left out), child elements, and character data directly inside
// it, concatenated (as encoding/xml collects a string field's chardata).
type Node struct {
	Space, Local string
	Attrs        []Attr
	Kids         []*Node

	// The character data is text, or view when it is one long run of raw bytes that needed
	// no decoding (a base64 certificate): a view of the document, copied only if asked for.
	text     string
	view     []byte
	viewText bool

	comments   int // comments directly inside
	start, end int // raw[start:end] is the element
	scope      []Binding
}

// Text returns the character data directly inside n, concatenated (as encoding/xml collects
// a string field's chardata).
func (n *Node) Text() string {
	if n.viewText {
		return string(n.view)
	}
	return n.text
}

// TextBytes is Text without the copy where possible; the caller must not modify it. For a
// tree from a TreeParser it is valid only until the next Parse.
func (n *Node) TextBytes() []byte {
	if n.viewText {
		return n.view
	}
	return []byte(n.text)
}

// Attr returns the value of the attribute with namespace URI space and local name local.
func (n *Node) Attr(space, local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Space == space && a.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

type treeBuilder struct {
	stack     []*Node
	texts     []textAcc // character data of each open element, by depth
	top       *Node
	skipSig   bool // leave the top element's ds:Signature child out
	keepScope bool

	// Nodes come from chunks, reused by the next parse of a TreeParser.
	chunks [][]Node
	used   int // nodes handed out from chunks
}

const nodeChunk = 64

func (t *treeBuilder) node() *Node {
	c, i := t.used/nodeChunk, t.used%nodeChunk
	if c == len(t.chunks) {
		t.chunks = append(t.chunks, make([]Node, nodeChunk))
	}
	t.used++
	n := &t.chunks[c][i]
	*n = Node{Attrs: n.Attrs[:0], Kids: n.Kids[:0]}
	return n
}

func (t *treeBuilder) start(s *scanner, space string, ls, le, tagStart, nBinds int) {
	n := t.node()
	n.Space, n.Local, n.start = space, s.intern(s.raw[ls:le]), tagStart
	for i := range s.attrs {
		if a := &s.attrs[i]; a.uri != nsXMLNS {
			n.Attrs = append(n.Attrs, Attr{Space: a.uri, Local: s.intern(s.raw[a.ls:a.le]), Value: s.str(a)})
		}
	}
	if t.keepScope {
		n.scope = append([]Binding(nil), s.binds[:nBinds]...)
	}
	switch {
	case len(t.stack) == 0:
		t.top = n
	case len(t.stack) == 1 && t.skipSig && space == nsDSig && n.Local == "Signature":
		// Not attached: the enveloped signature is not part of what was signed (R5).
	default:
		p := t.stack[len(t.stack)-1]
		p.Kids = append(p.Kids, n)
	}
	t.stack = append(t.stack, n)
	if d := len(t.stack); d > len(t.texts) {
		t.texts = append(t.texts, textAcc{})
	}
	a := &t.texts[len(t.stack)-1]
	a.buf, a.view, a.segs = a.buf[:0], nil, 0
}

// textAcc collects one open element's character data: a single run of raw bytes is kept as
// a view (raw is not modified while it is parsed), anything else is copied into buf.
type textAcc struct {
	buf  []byte
	view []byte
	segs int
}

func (t *treeBuilder) end(s *scanner, pos int) {
	d := len(t.stack) - 1
	n := t.stack[d]
	n.end = pos
	switch a := &t.texts[d]; {
	case a.segs == 1 && a.view != nil && len(a.view) > internMaxLen:
		n.view, n.viewText = a.view, true
	case a.segs == 1 && a.view != nil:
		n.text = s.intern(a.view)
	default:
		n.text = s.intern(a.buf)
	}
	t.stack = t.stack[:d]
}

// text collects character data directly inside the innermost open element; it becomes the
// element's Text at its end, concatenated as encoding/xml collects a string field's chardata.
//
// inRaw tells that b is a slice of the document itself rather than of a scratch buffer.
func (t *treeBuilder) text(b []byte, inRaw bool) {
	d := len(t.stack) - 1
	if d < 0 || len(b) == 0 {
		return
	}
	a := &t.texts[d]
	if a.segs == 0 && inRaw {
		a.view, a.segs = b, 1
		return
	}
	if a.segs == 1 && a.view != nil {
		a.buf = append(a.buf, a.view...)
		a.view = nil
	}
	a.buf = append(a.buf, b...)
	a.segs++
}

func (t *treeBuilder) comment() {
	if len(t.stack) > 0 {
		t.stack[len(t.stack)-1].comments++
	}
}

// ParseCaptured parses an element Scan captured from raw into a tree, with the same tokenizer
// and in the namespace scope it had in the document. For the document element (c.Root) the
// enveloped ds:Signature child is left out.
func ParseCaptured(raw []byte, c Captured) (*Node, error) {
	return parseTree(raw, c.Start, c.End, c.Scope, c.Root, false)
}

func parseTree(raw []byte, start, end int, scope []Binding, skipSig, keepScope bool) (*Node, error) {
	var p TreeParser
	return p.parse(raw, start, end, scope, skipSig, keepScope)
}

// TreeParser is ParseCaptured for many elements in turn, such as the entities of an aggregate
// read by one worker: it reuses its buffers and nodes from one element to the next. The tree
// returned by Parse (nodes, their Attrs and Kids slices) is valid only until the next call;
// the strings in it stay valid. A TreeParser is not safe for concurrent use.
type TreeParser struct {
	s scanner
	t treeBuilder
}

// Parse is ParseCaptured(raw, c), reusing p's buffers.
func (p *TreeParser) Parse(raw []byte, c Captured) (*Node, error) {
	return p.parse(raw, c.Start, c.End, c.Scope, c.Root, false)
}

func (p *TreeParser) parse(raw []byte, start, end int, scope []Binding, skipSig, keepScope bool) (*Node, error) {
	s, t := &p.s, &p.t
	*s = scanner{
		raw: raw, pos: start, end: end, hDepth: 1 << 30, literalAttrWS: true,
		binds: append(s.binds[:0], scope...), frames: s.frames[:0], rendered: s.rendered[:0],
		attrs: s.attrs[:0], decls: s.decls[:0], vbuf: s.vbuf[:0], abuf: s.abuf[:0], names: s.names,
	}
	*t = treeBuilder{skipSig: skipSig, keepScope: keepScope, stack: t.stack[:0], texts: t.texts, chunks: t.chunks}
	s.tree = t
	if err := s.run(); err != nil {
		return nil, err
	}
	if t.top == nil || s.pos != end {
		return nil, gateErr("captured range is not one element")
	}
	return t.top, nil
}
