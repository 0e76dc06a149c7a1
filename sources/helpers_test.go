package sources

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

func col(name string, t repr.ScalarType, nullable bool) (string, repr.ColumnType) {
	return name, repr.ColumnType{Type: t, Nullable: nullable}
}

// desc builds a RelationDesc from alternating names and types; pk lists
// primary key columns.
func mkDesc(pk []int, cols ...any) *repr.RelationDesc {
	d := &repr.RelationDesc{}
	for i := 0; i < len(cols); i += 2 {
		d.Names = append(d.Names, cols[i].(string))
		d.Types = append(d.Types, cols[i+1].(repr.ColumnType))
	}
	if pk != nil {
		d.Keys = [][]int{pk}
	}
	return d
}

func ct(t repr.ScalarType) repr.ColumnType  { return repr.ColumnType{Type: t} }
func nct(t repr.ScalarType) repr.ColumnType { return repr.ColumnType{Type: t, Nullable: true} }

// feed pushes messages (value only, offsets in order per topic partition 0)
// through a fresh assembler and returns what it releases.
type feeder struct {
	t    *testing.T
	a    *Assembler
	next map[string]int64
}

func newFeeder(t *testing.T, cfg Config) *feeder {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	a, err := NewAssembler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &feeder{t: t, a: a, next: map[string]int64{}}
}

func (f *feeder) push(topic string, key, value string) {
	m := Message{Topic: topic, Partition: 0, Offset: f.next[topic]}
	f.next[topic]++
	if key != "" {
		m.Key = []byte(key)
	}
	if value != "" {
		m.Value = []byte(value)
	}
	f.a.Push(&m)
}

// updates renders every update of units, one line per update, in unit
// order: "unit N coll C: (row) +1".
func renderUnits(units []Unit) string {
	var b strings.Builder
	for i, u := range units {
		all := u.All()
		ids := make([]int, 0, len(all))
		for id := range all {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		for _, id := range ids {
			for _, up := range all[CollectionID(id)] {
				fmt.Fprintf(&b, "unit %d coll %d: %s %+d\n", i, id, up.Row, up.Diff)
			}
		}
	}
	return b.String()
}

func renderErrs(errs []*SourceError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "%s\n", e.Error())
	}
	return b.String()
}

func expectText(t *testing.T, what, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
