package wire

import (
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

func TestTimestampTzText(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMicro()
	}
	cases := []struct {
		zone string
		ts   int64
		want string
	}{
		{"Europe/Paris", at("2024-07-01T12:00:00Z"), "2024-07-01 14:00:00+02"},
		{"America/New_York", at("2024-01-02T03:04:05.25Z"), "2024-01-01 22:04:05.25-05"},
		{"Asia/Kathmandu", at("2024-01-01T00:00:00Z"), "2024-01-01 05:45:00+05:45"},
		{"Europe/Amsterdam", at("1900-01-01T00:00:00Z"), "1900-01-01 00:19:32+00:19:32"},
		{"+02:30", at("2024-01-01T00:00:00Z"), "2024-01-01 02:30:00+02:30"},
		{"UTC-4", at("2024-01-01T00:00:00Z"), "2024-01-01 04:00:00+04"},
		{"<-03>+03", at("2024-01-01T00:00:00Z"), "2023-12-31 21:00:00-03"},
		{"UTC", at("2024-01-01T00:00:00Z"), "2024-01-01 00:00:00+00"},
		{"Europe/Paris", repr.TimestampTzDatum(0).Micros() - 2100*365*repr.MicrosPerDay, ""},
	}
	for _, c := range cases {
		var f textFormatter
		f.setTimeZone(c.zone)
		got := string(f.appendText(nil, repr.TimestampTzDatum(c.ts), repr.TypeTimestampTz))
		if c.want == "" {
			// BC dates keep " BC" last, after the offset.
			if len(got) < 3 || got[len(got)-3:] != " BC" {
				t.Errorf("%s: %q lacks a final BC", c.zone, got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.zone, got, c.want)
		}
	}
	if _, err := parseTimeZone("Not/AZone"); err == nil {
		t.Error("bad zone accepted")
	}
	var f textFormatter
	f.setTimeZone("Not/AZone")
	if got := string(f.appendText(nil, repr.TimestampTzDatum(0), repr.TypeTimestampTz)); got != "1970-01-01 00:00:00+00" {
		t.Errorf("unknown zone output %q", got)
	}
}
