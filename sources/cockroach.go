package sources

import (
	"bytes"
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// hlc is a CockroachDB hybrid logical clock timestamp: wall nanoseconds and
// a logical counter, written "1712345678901234567.0000000001".
type hlc struct {
	wall    int64
	logical int32
}

func parseHLC(s string) (hlc, error) {
	w, l, _ := strings.Cut(s, ".")
	wall, err := strconv.ParseInt(w, 10, 64)
	if err != nil || wall < 0 {
		return hlc{}, pgcode.New(pgcode.InvalidTextRepresentation, "invalid HLC timestamp %q", s)
	}
	var logical int64
	if l != "" {
		if logical, err = strconv.ParseInt(l, 10, 32); err != nil || logical < 0 {
			return hlc{}, pgcode.New(pgcode.InvalidTextRepresentation, "invalid HLC timestamp %q", s)
		}
	}
	return hlc{wall: wall, logical: int32(logical)}, nil
}

func (h hlc) compare(o hlc) int {
	if c := cmp.Compare(h.wall, o.wall); c != 0 {
		return c
	}
	return cmp.Compare(h.logical, o.logical)
}

func (h hlc) String() string { return string(h.appendText(nil)) }

// appendText appends the HLC as CockroachDB writes it, wall.logical with
// ten logical digits.
func (h hlc) appendText(b []byte) []byte {
	b = strconv.AppendInt(b, h.wall, 10)
	b = append(b, '.')
	var l [10]byte
	v := h.logical
	for i := len(l) - 1; i >= 0; i-- {
		l[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, l[:]...)
}

func (h hlc) isZero() bool { return h == hlc{} }

// cockroachDecoder decodes ENVELOPE COCKROACHDB (a changefeed with the
// wrapped envelope and the updated and resolved options).
type cockroachDecoder struct {
	spec *SourceSpec
	rows *rowDecoder
	d    repr.RelationDesc
	pk   []int
}

func newCockroachDecoder(spec *SourceSpec) (*cockroachDecoder, error) {
	if spec.Desc == nil || len(spec.Desc.Keys) == 0 {
		return nil, pgcode.New(pgcode.InvalidObjectDefinition, "sources: ENVELOPE COCKROACHDB needs declared columns with a PRIMARY KEY")
	}
	return &cockroachDecoder{spec: spec, rows: newRowDecoder(*spec.Desc), d: *spec.Desc, pk: spec.Desc.Keys[0]}, nil
}

func (cd *cockroachDecoder) desc() (repr.RelationDesc, bool) { return cd.d, true }
func (cd *cockroachDecoder) keyCols() []int                  { return cd.pk }
func (cd *cockroachDecoder) tracked() bool                   { return true }

func (cd *cockroachDecoder) decode(m *Message, w *workspace) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true, xoffset: -1}, nil
	}
	s := w.begin(m.Value)
	if s.peek() != '{' {
		return decoded{}, notObject(bytes.TrimSpace(m.Value))
	}
	// The fields encoding/json would fill in cockroachEvent.
	var after objSpans
	var key []byte
	var updated, resolved string
	var typeErr error
	if err := s.objectFields(&typeErr, "changefeed message", func(k []byte) (bool, error) {
		switch {
		case fieldIs(k, "after"):
			return true, cd.rows.scan(s, w, &after)
		case fieldIs(k, "key"):
			v, err := s.value()
			key = v
			return true, err
		case fieldIs(k, "updated"):
			return true, s.strField(&updated, &typeErr, "updated")
		case fieldIs(k, "resolved"):
			return true, s.strField(&resolved, &typeErr, "resolved")
		}
		return false, nil
	}); err != nil {
		return decoded{}, err
	}
	if err := s.atEnd(); err != nil {
		return decoded{}, err
	}
	if typeErr != nil {
		return decoded{}, pgcode.Wrap(typeErr, pgcode.InvalidJSONText, "invalid JSON: "+typeErr.Error())
	}
	out := decoded{xoffset: -1}
	if resolved != "" {
		h, err := parseHLC(resolved)
		if err != nil {
			return decoded{}, err
		}
		out.hlc, out.resolved = h, true
		return out, nil
	}
	if updated == "" {
		return decoded{}, pgcode.New(pgcode.DataException, "changefeed row without \"updated\"").
			WithHint("Create the changefeed WITH updated, resolved.")
	}
	h, err := parseHLC(updated)
	if err != nil {
		return decoded{}, err
	}
	out.hlc = h
	w.tmp = h.appendText(w.tmp[:0])
	out.txnID = w.intern(aliasString(w.tmp))
	if key == nil || isNullText(key) {
		key = m.Key
	}
	k, err := cd.key(w, key)
	if err != nil {
		return decoded{}, err
	}
	o := op{coll: cd.spec.ID, key: k, kind: opUpsert}
	if !after.null() {
		if o.after, err = cd.rows.pack(w, &after, nil); err != nil {
			return decoded{}, err
		}
	}
	out.ops = w.oneOp(o)
	return out, nil
}

// key decodes a changefeed key, a JSON array of the primary key's values.
// It has its own scanner: the value's spans and text stay valid.
func (cd *cockroachDecoder) key(w *workspace, raw []byte) (repr.Row, error) {
	var ks jsonScanner
	ks.reset(raw)
	bad := func() (repr.Row, error) {
		return nil, pgcode.New(pgcode.InvalidJSONText, "changefeed key is not a JSON array: %s", abbreviate(bytes.TrimSpace(raw)))
	}
	if ks.peek() != '[' {
		return bad()
	}
	// Validate the whole key and count its values before converting any.
	if _, err := ks.value(); err != nil || ks.atEnd() != nil {
		return bad()
	}
	n := 0
	for pass := 0; pass < 2; pass++ {
		w.pk.Reset()
		ks.reset(raw)
		ks.peek()
		ks.pos++
		for i, first := 0, true; ; i, first = i+1, false {
			if ok, _ := ks.element(first); !ok {
				break
			}
			v, _ := ks.value()
			if pass == 0 {
				n++
				continue
			}
			c := cd.pk[i]
			d, err := ks.datum(v, cd.d.Types[c], semantic{})
			if err != nil {
				return nil, fmt.Errorf("key column %q: %w", cd.d.Names[c], err)
			}
			w.pk.Push(d)
		}
		if n != len(cd.pk) {
			return nil, pgcode.New(pgcode.DatatypeMismatch, "changefeed key has %d values, the primary key %d columns", n, len(cd.pk))
		}
	}
	return w.pk.Clone(), nil
}
