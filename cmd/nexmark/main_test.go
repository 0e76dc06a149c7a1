package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sources"
)

// TestEventsJSON: the produced messages are JSON objects with the
// generator's columns and values.
func TestEventsJSON(t *testing.T) {
	g, err := generator(1)
	if err != nil {
		t.Fatal(err)
	}
	names := collectionNames(g)
	seen := 0
	err = eachUnit(g, 200, func(u sources.Unit) error {
		for id, ups := range u.All() {
			c := names[id]
			for _, up := range ups {
				ds := up.Row.Datums()
				msg := appendJSON(nil, c.Desc, ds)
				var m map[string]any
				if err := json.Unmarshal(msg, &m); err != nil {
					t.Fatalf("%s: %v", msg, err)
				}
				for i, name := range c.Desc.Names {
					switch ds[i].Kind() {
					case repr.KindInt8:
						if m[name].(float64) != float64(ds[i].Int()) {
							t.Fatalf("%s.%s = %v, want %d", c.Name, name, m[name], ds[i].Int())
						}
					case repr.KindText:
						if m[name].(string) != ds[i].Str() {
							t.Fatalf("%s.%s = %q, want %q", c.Name, name, m[name], ds[i].Str())
						}
					case repr.KindTimestampTz:
						if !strings.HasPrefix(m[name].(string), "2024-01-01T00:00:0") {
							t.Fatalf("%s.%s = %v", c.Name, name, m[name])
						}
					}
				}
				seen++
			}
		}
		return nil
	})
	if err != nil || seen != 200 {
		t.Fatalf("%d events, %v", seen, err)
	}
	if got := string(appendJSONString(nil, "a\"b\\c\n")); got != `"a\"b\\c\u000a"` {
		t.Errorf("escaping: %s", got)
	}
}

func TestFlagsAndCheck(t *testing.T) {
	cfg, err := parseFlags([]string{"-events", "1000", "-queries", "q0,q7", "-paths", "kafka"})
	if err != nil || len(cfg.queries) != 2 || cfg.queries[1].name != "q7" || len(cfg.paths) != 1 {
		t.Fatalf("%+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"-queries", "q99"}); err == nil {
		t.Error("q99 accepted")
	}
	if n := diffCount([]string{"a", "b", "b", "c"}, []string{"b", "c", "d"}); n != 3 {
		t.Errorf("diffCount = %d, want 3", n)
	}
	for _, q := range queries {
		st := q.statements()
		if !strings.HasPrefix(st[len(st)-1], "CREATE MATERIALIZED VIEW "+q.name+" AS ") {
			t.Errorf("%s: %v", q.name, st)
		}
	}
}
