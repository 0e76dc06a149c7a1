package differential

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
	"github.com/viewd/viewd/repr"
)

// jsonGen builds random JSON documents from small alphabets, so that
// values often tie or differ late: equal numbers of different text (1,
// 1.0, 1e0), strings that are prefixes of each other, keys of different
// lengths, nested containers of equal sizes.
type jsonGen struct{ r *rand.Rand }

func (g jsonGen) value(depth int) string {
	r := g.r
	kinds := 6
	if depth >= 3 {
		kinds = 4 // scalars only
	}
	switch r.IntN(kinds) {
	case 0:
		return []string{"null", "true", "false"}[r.IntN(3)]
	case 1:
		return []string{"0", "0.0", "1", "1.0", "1e0", "-1", "-0.5", "10", "2.50", "1e2", "100", "0.125", "-100"}[r.IntN(13)]
	case 2, 3:
		return strconv.Quote([]string{"", "a", "ab", "b", "A", "a b", "é", "z", "aa"}[r.IntN(9)])
	case 4:
		n := r.IntN(4)
		elems := make([]string, n)
		for i := range elems {
			elems[i] = g.value(depth + 1)
		}
		return "[" + strings.Join(elems, ", ") + "]"
	}
	n := r.IntN(4)
	pairs := make([]string, n)
	for i := range pairs {
		k := []string{"", "a", "b", "aa", "ab", "c", "bb"}[r.IntN(7)]
		pairs[i] = strconv.Quote(k) + ": " + g.value(depth+1)
	}
	return "{" + strings.Join(pairs, ", ") + "}"
}

// TestJSONBOrder: random jsonb values are ranked (dense_rank() OVER (ORDER
// BY x)) by PostgreSQL and by viewd, and sorted by repr's memcomparable
// key; the three orders must agree value for value, ties (equal values,
// such as 1 and 1.0) included. VIEWD_JSONB_ROUNDS rounds (default 4) of
// 300 values each.
func TestJSONBOrder(t *testing.T) {
	seed := envInt(t, "VIEWD_DIFF_SEED", 1)
	rounds := int(envInt(t, "VIEWD_JSONB_ROUNDS", 4))
	pgSrv := pgtest.Start(t)
	vdSrv := viewdtest.Start(t, viewdtest.Options{})
	p := pair{pg: connect(t, pgSrv.URL()), vd: connect(t, vdSrv.URL())}
	g := jsonGen{r: rand.New(rand.NewPCG(seed, 0x1503))}
	for round := range rounds {
		const n = 300
		docs := make([]string, n)
		rows := make([]string, n)
		for i := range docs {
			docs[i] = g.value(0)
			rows[i] = fmt.Sprintf("(%d, '%s'::jsonb)", i, strings.ReplaceAll(docs[i], "'", "''"))
		}
		sql := "SELECT i, dense_rank() OVER (ORDER BY x) FROM (VALUES " + strings.Join(rows, ", ") + ") t(i, x) ORDER BY i"
		ctx, cancel := context.WithTimeout(context.Background(), 2*queryTimeout)
		pgRes, err := query(ctx, p.pg, sql)
		if err != nil {
			cancel()
			t.Fatalf("round %d: PostgreSQL: %v", round, err)
		}
		vdRes, err := query(ctx, p.vd, sql)
		cancel()
		if err != nil {
			t.Fatalf("round %d: viewd: %v", round, err)
		}
		want, got := rankColumn(pgRes), rankColumn(vdRes)
		keyRanks := jsonbKeyRanks(t, docs)
		for i := range docs {
			if got[i] != want[i] || keyRanks[i] != want[i] {
				// Report the pair that repr or viewd orders differently.
				for j := range docs {
					pw, _ := strconv.Atoi(want[i])
					qw, _ := strconv.Atoi(want[j])
					pg, _ := strconv.Atoi(got[i])
					qg, _ := strconv.Atoi(got[j])
					pk, _ := strconv.Atoi(keyRanks[i])
					qk, _ := strconv.Atoi(keyRanks[j])
					if cmp.Compare(pw, qw) != cmp.Compare(pg, qg) || cmp.Compare(pw, qw) != cmp.Compare(pk, qk) {
						t.Fatalf("round %d: %s vs %s: PostgreSQL orders %d, viewd %d, repr keys %d",
							round, docs[i], docs[j], cmp.Compare(pw, qw), cmp.Compare(pg, qg), cmp.Compare(pk, qk))
					}
				}
				t.Fatalf("round %d: %s: rank %s in PostgreSQL, %s in viewd, %s by repr keys", round, docs[i], want[i], got[i], keyRanks[i])
			}
		}
	}
}

// rankColumn returns the second column of res's rows.
func rankColumn(res *result) []string {
	out := make([]string, len(res.rows))
	for i, row := range res.rows {
		out[i] = row[1]
	}
	return out
}

// jsonbKeyRanks returns each document's dense rank among docs by repr's
// memcomparable key (repr.AppendKey), as text.
func jsonbKeyRanks(t *testing.T, docs []string) []string {
	t.Helper()
	keys := make([][]byte, len(docs))
	for i, d := range docs {
		canon, err := repr.CanonicalJSON(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		keys[i] = repr.AppendKey(nil, repr.JsonbDatum(canon), repr.SortOrder{})
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, bytes.Compare)
	sorted = slices.CompactFunc(sorted, func(a, b []byte) bool { return bytes.Equal(a, b) })
	out := make([]string, len(docs))
	for i, k := range keys {
		r, _ := slices.BinarySearchFunc(sorted, k, bytes.Compare)
		out[i] = strconv.Itoa(r + 1)
	}
	return out
}
