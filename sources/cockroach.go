package sources

import (
	"bytes"
	"cmp"
	"encoding/json"
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

func (h hlc) String() string { return fmt.Sprintf("%d.%010d", h.wall, h.logical) }

func (h hlc) isZero() bool { return h == hlc{} }

// cockroachEvent is a changefeed message with envelope=wrapped.
type cockroachEvent struct {
	After    json.RawMessage `json:"after"`
	Before   json.RawMessage `json:"before"`
	Key      json.RawMessage `json:"key"`
	Updated  string          `json:"updated"`
	Resolved string          `json:"resolved"`
}

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

func (cd *cockroachDecoder) decode(m *Message) (decoded, error) {
	if m.Value == nil {
		return decoded{skip: true, xoffset: -1}, nil
	}
	var ev cockroachEvent
	if err := unmarshalStrict(m.Value, &ev); err != nil {
		return decoded{}, err
	}
	out := decoded{xoffset: -1}
	if ev.Resolved != "" {
		h, err := parseHLC(ev.Resolved)
		if err != nil {
			return decoded{}, err
		}
		out.hlc, out.resolved = h, true
		return out, nil
	}
	if ev.Updated == "" {
		return decoded{}, pgcode.New(pgcode.DataException, "changefeed row without \"updated\"").
			WithHint("Create the changefeed WITH updated, resolved.")
	}
	h, err := parseHLC(ev.Updated)
	if err != nil {
		return decoded{}, err
	}
	out.hlc = h
	out.txnID = h.String()
	keyRaw := ev.Key
	if isNull(keyRaw) {
		keyRaw = m.Key
	}
	key, err := cd.key(keyRaw)
	if err != nil {
		return decoded{}, err
	}
	o := op{coll: cd.spec.ID, key: key, kind: opUpsert}
	if !isNull(ev.After) {
		if o.after, err = cd.rows.decodeObject(ev.After); err != nil {
			return decoded{}, err
		}
	}
	out.ops = []op{o}
	return out, nil
}

// key decodes a changefeed key, a JSON array of the primary key's values.
func (cd *cockroachDecoder) key(raw []byte) (repr.Row, error) {
	var elems []json.RawMessage
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &elems) != nil {
		return nil, pgcode.New(pgcode.InvalidJSONText, "changefeed key is not a JSON array: %s", abbreviate(t))
	}
	if len(elems) != len(cd.pk) {
		return nil, pgcode.New(pgcode.DatatypeMismatch, "changefeed key has %d values, the primary key %d columns", len(elems), len(cd.pk))
	}
	var p repr.Packer
	for i, c := range cd.pk {
		d, err := jsonDatum(elems[i], cd.d.Types[c], semantic{})
		if err != nil {
			return nil, fmt.Errorf("key column %q: %w", cd.d.Names[c], err)
		}
		p.Push(d)
	}
	return p.Clone(), nil
}
