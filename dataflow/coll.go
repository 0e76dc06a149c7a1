package dataflow

import (
	"bytes"
	"slices"

	"github.com/viewd/viewd/repr"
)

// coll is a small collection as a map from packed row to multiplicity,
// used where a whole collection is re-derived (iterate) and by the tests'
// naive evaluator.
type coll map[string]repr.Diff

func (c coll) add(r repr.Row, d repr.Diff) {
	k := string(r)
	c[k] += d
	if c[k] == 0 {
		delete(c, k)
	}
}

func (c coll) clone() coll {
	o := coll{}
	for k, v := range c {
		o[k] = v
	}
	return o
}

// sortedKeys returns c's rows in byte order (deterministic iteration).
func (c coll) sortedKeys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) })
	return ks
}
