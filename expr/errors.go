package expr

import "github.com/viewd/viewd/pgcode"

// Constructors of the common evaluation errors, with PostgreSQL's SQLSTATEs
// and wording. Each call returns a new error: callers may annotate it
// (WithPosition, WithDetail) without affecting others.

func errIntOutOfRange() error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "integer out of range")
}

func errSmallintOutOfRange() error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "smallint out of range")
}

func errBigintOutOfRange() error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "bigint out of range")
}

func errDivByZero() error { return pgcode.New(pgcode.DivisionByZero, "division by zero") }

func errFloatOverflow() error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "value out of range: overflow")
}

func errFloatUnderflow() error {
	return pgcode.New(pgcode.NumericValueOutOfRange, "value out of range: underflow")
}

func errTimestampRange() error {
	return pgcode.New(pgcode.DatetimeFieldOverflow, "timestamp out of range")
}

func errDateRange() error { return pgcode.New(pgcode.DatetimeFieldOverflow, "date out of range") }

func errIntervalRange() error {
	return pgcode.New(pgcode.DatetimeFieldOverflow, "interval out of range")
}

// errorf returns a new *pgcode.Error.
func errorf(code pgcode.Code, format string, args ...any) *pgcode.Error {
	return pgcode.New(code, format, args...)
}
