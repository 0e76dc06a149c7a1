package coord

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/viewd/viewd/pgcode"
)

// sessionVar describes one session variable: its default, how a new value
// is checked and normalised, and whether a change is reported to the client
// in a ParameterStatus message.
type sessionVar struct {
	name     string
	def      string
	desc     string
	reported bool
	readOnly bool
	check    func(v string) (string, error)
}

func anyValue(v string) (string, error) { return v, nil }

func boolValue(name string) func(string) (string, error) {
	return func(v string) (string, error) {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "on", "true", "yes", "1", "t", "y":
			return "on", nil
		case "off", "false", "no", "0", "f", "n":
			return "off", nil
		}
		return "", pgcode.New(pgcode.InvalidParameterValue, "parameter %q requires a Boolean value", name)
	}
}

func oneOf(name string, values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, ok := range values {
			if strings.EqualFold(strings.TrimSpace(v), ok) {
				return ok, nil
			}
		}
		return "", pgcode.New(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v).
			WithHint("Available values: %s.", strings.Join(values, ", "))
	}
}

func intRange(name string, lo, hi int) func(string) (string, error) {
	return func(v string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "", pgcode.New(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v)
		}
		if n < lo || n > hi {
			return "", pgcode.New(pgcode.InvalidParameterValue, "%d is outside the valid range for parameter %q (%d .. %d)", n, name, lo, hi)
		}
		return strconv.Itoa(n), nil
	}
}

// durationValue accepts PostgreSQL's time units for statement_timeout
// (milliseconds when bare) and normalises to e.g. "5s" or "0".
func durationValue(name string) func(string) (string, error) {
	return func(v string) (string, error) {
		d, err := parseTimeout(v)
		if err != nil {
			return "", pgcode.New(pgcode.InvalidParameterValue, "invalid value for parameter %q: %q", name, v)
		}
		if d == 0 {
			return "0", nil
		}
		return d.String(), nil
	}
}

// parseTimeout parses "500", "500ms", "5s", "5 s", "1min", "2h".
func parseTimeout(v string) (time.Duration, error) {
	s := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(v), " ", ""))
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, strconv.ErrSyntax
	}
	unit := time.Millisecond
	switch s[i:] {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "min":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		return 0, strconv.ErrSyntax
	}
	return time.Duration(n * float64(unit)), nil
}

func timeZoneValue(v string) (string, error) {
	s := strings.TrimSpace(v)
	switch strings.ToLower(s) {
	case "utc", "gmt", "z", "zulu", "etc/utc", "default", "local":
		return "UTC", nil
	}
	if _, err := time.LoadLocation(s); err == nil {
		return s, nil
	}
	if _, ok := parseOffsetZone(s); ok {
		return s, nil
	}
	return "", pgcode.New(pgcode.InvalidParameterValue, "invalid value for parameter \"TimeZone\": %q", v)
}

// parseOffsetZone parses a numeric zone such as "+05:30" or "-3" into
// seconds east of UTC (POSIX-style signs are not inverted: "+05" is east).
func parseOffsetZone(s string) (int, bool) {
	if s == "" || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	h, m, _ := strings.Cut(s[1:], ":")
	hh, err := strconv.Atoi(h)
	if err != nil || hh > 15 {
		return 0, false
	}
	mm := 0
	if m != "" {
		if mm, err = strconv.Atoi(m); err != nil || mm >= 60 {
			return 0, false
		}
	}
	return sign * (hh*3600 + mm*60), true
}

func dateStyleValue(v string) (string, error) {
	out := "ISO, MDY"
	for _, p := range strings.Split(v, ",") {
		switch strings.ToUpper(strings.TrimSpace(p)) {
		case "ISO", "MDY", "":
		default:
			return "", pgcode.New(pgcode.FeatureNotSupported, "setting DateStyle to %q is not supported", v).
				WithHint("Only ISO, MDY is supported.")
		}
	}
	return out, nil
}

var sessionVars = func() map[string]*sessionVar {
	vars := []*sessionVar{
		{name: "application_name", def: "", desc: "Sets the application name to be reported in statistics and logs.", reported: true, check: anyValue},
		{name: "client_encoding", def: "UTF8", desc: "Sets the client's character set encoding.", reported: true, check: oneOf("client_encoding", "UTF8")},
		{name: "client_min_messages", def: "notice", desc: "Sets the message levels that are sent to the client.", check: oneOf("client_min_messages", "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error")},
		{name: "cluster", def: "default", desc: "Sets the current cluster (viewd has one).", check: anyValue},
		{name: "database", def: "viewd", desc: "Sets the current database.", check: anyValue},
		{name: "DateStyle", def: "ISO, MDY", desc: "Sets the display format for date and time values.", reported: true, check: dateStyleValue},
		{name: "default_transaction_isolation", def: "strict serializable", desc: "Sets the transaction isolation level of each new transaction.", check: oneOf("default_transaction_isolation", "strict serializable", "serializable", "repeatable read", "read committed")},
		{name: "default_transaction_read_only", def: "off", desc: "Sets the default read-only status of new transactions.", reported: true, check: boolValue("default_transaction_read_only")},
		{name: "extra_float_digits", def: "1", desc: "Sets the number of digits displayed for floating-point values.", check: intRange("extra_float_digits", -15, 3)},
		{name: "idle_in_transaction_session_timeout", def: "0", desc: "Sets the maximum allowed idle time in a transaction.", check: durationValue("idle_in_transaction_session_timeout")},
		{name: "in_hot_standby", def: "off", desc: "Shows whether hot standby is currently active.", reported: true, readOnly: true, check: anyValue},
		{name: "integer_datetimes", def: "on", desc: "Shows whether datetimes are integer based.", reported: true, readOnly: true, check: anyValue},
		{name: "IntervalStyle", def: "postgres", desc: "Sets the display format for interval values.", reported: true, check: oneOf("IntervalStyle", "postgres")},
		{name: "is_superuser", def: "on", desc: "Shows whether the current user is a superuser.", reported: true, readOnly: true, check: anyValue},
		{name: "max_identifier_length", def: "63", desc: "Shows the maximum identifier length.", readOnly: true, check: anyValue},
		{name: "max_index_keys", def: "32", desc: "Shows the maximum number of index keys.", readOnly: true, check: anyValue},
		{name: "role", def: "none", desc: "Sets the current role (SET ROLE).", readOnly: true, check: anyValue},
		{name: "real_time_recency", def: "off", desc: "Makes each read wait until PostgreSQL sources have ingested everything their upstream had committed when the read began.", check: boolValue("real_time_recency")},
		{name: "search_path", def: "public", desc: "Sets the schema search order for names that are not schema-qualified.", check: searchPathValue},
		{name: "server_encoding", def: "UTF8", desc: "Shows the server (database) character set encoding.", reported: true, readOnly: true, check: anyValue},
		{name: "server_version", def: "15.0.0", desc: "Shows the PostgreSQL server version viewd is compatible with.", reported: true, readOnly: true, check: anyValue},
		{name: "server_version_num", def: "150000", desc: "Shows the server version as an integer.", readOnly: true, check: anyValue},
		{name: "session_authorization", def: "viewd", desc: "Sets the session user name.", reported: true, readOnly: true, check: anyValue},
		{name: "standard_conforming_strings", def: "on", desc: "Causes '...' strings to treat backslashes literally.", reported: true, check: oneOf("standard_conforming_strings", "on")},
		{name: "statement_timeout", def: "0", desc: "Sets the maximum allowed duration of any statement.", check: durationValue("statement_timeout")},
		{name: "TimeZone", def: "UTC", desc: "Sets the time zone for displaying and interpreting time stamps.", reported: true, check: timeZoneValue},
		{name: "transaction_isolation", def: "strict serializable", desc: "Sets the current transaction's isolation level.", check: oneOf("transaction_isolation", "strict serializable", "serializable", "repeatable read", "read committed")},
		{name: "transaction_read_only", def: "off", desc: "Shows whether the current transaction is read-only.", check: boolValue("transaction_read_only")},
		{name: "mz_version", def: "viewd v0.1.0", desc: "Shows the viewd version.", readOnly: true, check: anyValue},
	}
	m := make(map[string]*sessionVar, len(vars))
	for _, v := range vars {
		m[strings.ToLower(v.name)] = v
	}
	return m
}()

func searchPathValue(v string) (string, error) {
	var parts []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		} else {
			p = strings.ToLower(p)
		}
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", "), nil
}

// vars holds a session's variable values (only those that differ from the
// defaults).
type vars struct {
	values map[string]string
	// snap is every variable's value by lower-case name, as planning
	// reads them; built on demand and dropped by set and reset.
	snap map[string]string
	// gen counts set and reset calls: a plan made at one gen is planned
	// with the values of that gen.
	gen uint64
}

// snapshot returns every variable's value by lower-case name. The map is
// shared: callers must not change it.
func (vs *vars) snapshot() map[string]string {
	if vs.snap == nil {
		m := make(map[string]string, len(sessionVars))
		for _, v := range sessionVars {
			val, _ := vs.get(v.name)
			m[strings.ToLower(v.name)] = val
		}
		vs.snap = m
	}
	return vs.snap
}

func newVars() *vars { return &vars{values: map[string]string{}} }

func lookupVar(name string) (*sessionVar, error) {
	v, ok := sessionVars[strings.ToLower(name)]
	if !ok {
		return nil, pgcode.New(pgcode.UndefinedObject, "unrecognized configuration parameter %q", name)
	}
	return v, nil
}

// get returns a variable's current value.
func (vs *vars) get(name string) (string, error) {
	v, err := lookupVar(name)
	if err != nil {
		return "", err
	}
	if val, ok := vs.values[strings.ToLower(v.name)]; ok {
		return val, nil
	}
	return v.def, nil
}

// must returns a known variable's value.
func (vs *vars) must(name string) string {
	val, err := vs.get(name)
	if err != nil {
		return ""
	}
	return val
}

// set validates and sets a variable, returning the normalised value and
// whether the client must be told (ParameterStatus).
func (vs *vars) set(name, value string) (canonical string, val string, reported bool, err error) {
	v, norm, err := validate(name, value)
	if err != nil {
		return "", "", false, err
	}
	vs.values[strings.ToLower(v.name)] = norm
	vs.snap = nil
	vs.gen++
	return v.name, norm, v.reported, nil
}

// validate checks that a variable exists, may be set, and accepts value;
// it returns the variable and the normalised value.
func validate(name, value string) (*sessionVar, string, error) {
	v, err := lookupVar(name)
	if err != nil {
		return nil, "", err
	}
	if v.readOnly {
		return nil, "", pgcode.New(pgcode.CantChangeRuntimeParam, "parameter %q cannot be changed", v.name)
	}
	norm, err := v.check(value)
	if err != nil {
		return nil, "", err
	}
	return v, norm, nil
}

// reset restores a variable's default.
func (vs *vars) reset(name string) (canonical string, val string, reported bool, err error) {
	v, err := lookupVar(name)
	if err != nil {
		return "", "", false, err
	}
	delete(vs.values, strings.ToLower(v.name))
	vs.snap = nil
	vs.gen++
	return v.name, v.def, v.reported, nil
}

// restore sets a variable's entry in values to v (nil: its default), as
// RESET ALL and the end of a transaction block do.
func (vs *vars) restore(lower string, v *string) {
	if v == nil {
		delete(vs.values, lower)
	} else {
		vs.values[lower] = *v
	}
	vs.snap = nil
	vs.gen++
}

// all returns every variable's name, value and description, sorted by
// name, for SHOW ALL.
func (vs *vars) all() [][3]string {
	out := make([][3]string, 0, len(sessionVars))
	for _, v := range sessionVars {
		val, _ := vs.get(v.name)
		out = append(out, [3]string{v.name, val, v.desc})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i][0]) < strings.ToLower(out[j][0]) })
	return out
}

// searchPath returns the schemas of search_path in order.
func (vs *vars) searchPath() []string {
	var out []string
	for _, p := range strings.Split(vs.must("search_path"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// realTimeRecency reports whether real_time_recency is on.
func (s *session) realTimeRecency() bool {
	v, err := s.vars.get("real_time_recency")
	return err == nil && v == "on"
}
