package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Date and time arithmetic. viewd's session time zone is UTC: timestamptz
// values are UTC instants and print with +00, so calendar operations on
// timestamptz (adding months, date_trunc, extract) are done in UTC.
// EvalCtx.TimeZone is not consulted yet.

// Range of timestamps: from 4714-11-24 BC, as PostgreSQL, to the end of
// int64 microseconds since 1970 (294247 AD; PostgreSQL, counting from
// 2000, reaches 294276 AD).
var (
	minTimestampMicros       = repr.DaysFromCivil(-4713, 11, 24) * repr.MicrosPerDay
	maxTimestampMicros int64 = math.MaxInt64
)

// Range of dates: 4714-11-24 BC to 5874897-12-31.
var (
	minDateDays = repr.DaysFromCivil(-4713, 11, 24)
	maxDateDays = repr.DaysFromCivil(5874898, 1, 1) - 1
)

func checkTimestamp(k repr.Kind, us int64) (repr.Datum, error) {
	if us < minTimestampMicros {
		return repr.Null, errTimestampRange()
	}
	if k == repr.KindTimestampTz {
		return repr.TimestampTzDatum(us), nil
	}
	return repr.TimestampDatum(us), nil
}

// dateMicros converts days since 1970 to microseconds, 22008 on overflow.
func dateMicros(days int64) (int64, error) {
	us, ok := mulInt64(days, repr.MicrosPerDay)
	if !ok {
		return 0, errTimestampRange()
	}
	return us, nil
}

func checkDate(days int64) (repr.Datum, error) {
	if days < minDateDays || days > maxDateDays {
		return repr.Null, errDateRange()
	}
	return repr.DateDatum(int32(days)), nil
}

// splitTimestamp returns the calendar date and time of day of us.
func splitTimestamp(us int64) (y, m, d, tod int64) {
	days := floorDiv(us, repr.MicrosPerDay)
	tod = us - days*repr.MicrosPerDay
	y, m, d = repr.CivilFromDays(days)
	return
}

// addMonths adds months to a calendar date, clamping the day to the end of
// the resulting month (Jan 31 + 1 month = Feb 28/29).
func addMonths(y, m, d, months int64) (int64, int64, int64) {
	total := y*12 + (m - 1) + months
	y = floorDiv(total, 12)
	m = total - y*12 + 1
	if dim := repr.DaysInMonth(y, m); d > dim {
		d = dim
	}
	return y, m, d
}

// AddInterval adds an interval to a timestamp in microseconds: months
// first (calendar, clamping the day to the month's end), then days, then
// time, as PostgreSQL's timestamp_pl_interval. Overflow is 22008.
func AddInterval(us int64, iv repr.Interval) (int64, error) {
	if iv.Months != 0 {
		y, m, d, tod := splitTimestamp(us)
		y, m, d = addMonths(y, m, d, int64(iv.Months))
		days := repr.DaysFromCivil(y, m, d)
		if days > math.MaxInt64/repr.MicrosPerDay-1 || days < minDateDays {
			return 0, errTimestampRange()
		}
		us = days*repr.MicrosPerDay + tod
	}
	dayMicros, ok := mulInt64(int64(iv.Days), repr.MicrosPerDay)
	if !ok {
		return 0, errTimestampRange()
	}
	r, ok := addInt64(us, dayMicros)
	if !ok {
		return 0, errTimestampRange()
	}
	r, ok = addInt64(r, iv.Micros)
	if !ok || r < minTimestampMicros {
		return 0, errTimestampRange()
	}
	return r, nil
}

// addInt64 adds with overflow detection.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

// mulInt64 multiplies with overflow detection.
func mulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

func negInterval(iv repr.Interval) (repr.Interval, error) {
	if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Micros == math.MinInt64 {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}, nil
}

func addIntervals(a, b repr.Interval) (repr.Interval, error) {
	m := int64(a.Months) + int64(b.Months)
	d := int64(a.Days) + int64(b.Days)
	us := a.Micros + b.Micros
	if m > math.MaxInt32 || m < math.MinInt32 || d > math.MaxInt32 || d < math.MinInt32 ||
		(a.Micros > 0 && b.Micros > 0 && us < 0) || (a.Micros < 0 && b.Micros < 0 && us >= 0) {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(m), Days: int32(d), Micros: us}, nil
}

// mulInterval multiplies an interval by a float as PostgreSQL's
// interval_mul: fractional months spill into days (30 per month) and
// fractional days into time.
func mulInterval(iv repr.Interval, f float64) (repr.Interval, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return repr.Interval{}, errIntervalRange()
	}
	months := float64(iv.Months) * f
	days := float64(iv.Days) * f
	if math.Abs(months) > math.MaxInt32 || math.Abs(days) > math.MaxInt32 {
		return repr.Interval{}, errIntervalRange()
	}
	wm := math.Trunc(months)
	monthRemDays := (months - wm) * repr.DaysPerMonth
	wd := math.Trunc(days)
	secRem := (days - wd) * 86400
	wmr := math.Trunc(monthRemDays)
	secRem += (monthRemDays - wmr) * 86400
	wd += wmr
	// Round the spilled seconds to microseconds, and carry whole days.
	secRem = tsround(secRem)
	if math.Abs(secRem) >= 86400 {
		wd += math.Trunc(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	micros := float64(iv.Micros)*f + secRem*1e6
	if math.Abs(micros) > math.MaxInt64/2 || math.Abs(wd) > math.MaxInt32 {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(wm), Days: int32(wd), Micros: int64(math.RoundToEven(micros))}, nil
}

// IntervalLerp returns lo + (hi - lo) * f with PostgreSQL's interval
// arithmetic (interval_lerp, used by percentile_cont(interval)).
func IntervalLerp(lo, hi repr.Interval, f float64) (repr.Interval, error) {
	neg, err := negInterval(lo)
	if err != nil {
		return repr.Interval{}, err
	}
	diff, err := addIntervals(hi, neg)
	if err != nil {
		return repr.Interval{}, err
	}
	if diff, err = mulInterval(diff, f); err != nil {
		return repr.Interval{}, err
	}
	return addIntervals(lo, diff)
}

// tsround rounds seconds to microseconds, as PostgreSQL's TSROUND.
func tsround(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// divInterval divides an interval as PostgreSQL's interval_div: whole
// months and days divide apart, the remainders (rounded to microseconds)
// cascade into days and time.
func divInterval(iv repr.Interval, f float64) (repr.Interval, error) {
	if math.IsNaN(f) {
		return repr.Interval{}, errIntervalRange()
	}
	mf := float64(iv.Months) / f
	df := float64(iv.Days) / f
	if math.Abs(mf) > math.MaxInt32 || math.Abs(df) > math.MaxInt32 {
		return repr.Interval{}, errIntervalRange()
	}
	months, days := math.Trunc(mf), math.Trunc(df)
	monthRemDays := tsround((mf - months) * repr.DaysPerMonth)
	secRem := tsround((df - days + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		days += math.Trunc(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	days += math.Trunc(monthRemDays)
	micros := math.RoundToEven(float64(iv.Micros)/f + secRem*1e6)
	if math.Abs(micros) > math.MaxInt64/2 || math.Abs(days) > math.MaxInt32 {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(months), Days: int32(days), Micros: int64(micros)}, nil
}

// SumInterval is the interval of months, days and microseconds summed
// field by field (PostgreSQL's interval_pl, which sum(interval) applies
// row by row), or interval out of range when a field overflows.
func SumInterval(months, days, micros int64) (repr.Interval, error) {
	if months != int64(int32(months)) || days != int64(int32(days)) {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(months), Days: int32(days), Micros: micros}, nil
}

// AvgInterval is avg(interval): the sum divided by the count as
// PostgreSQL's interval_avg does (interval_div by a float8).
func AvgInterval(sum repr.Interval, n int64) (repr.Interval, error) {
	return divInterval(sum, float64(n))
}

func intervalDatum(iv repr.Interval, err error) (repr.Datum, error) {
	if err != nil {
		return repr.Null, err
	}
	return repr.IntervalDatum(iv), nil
}

func registerDatetimeArith() {
	// date ± integer, date - date.
	defBinOp("+", tDate, tInt4, tDate, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return checkDate(int64(a[0].Days()) + a[1].Int())
	})
	defBinOp("+", tInt4, tDate, tDate, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return checkDate(int64(a[1].Days()) + a[0].Int())
	})
	defBinOp("-", tDate, tInt4, tDate, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return checkDate(int64(a[0].Days()) - a[1].Int())
	})
	defBinOp("-", tDate, tDate, tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.Int4Datum(a[0].Days() - a[1].Days()), nil
	})
	// date + time, time + date -> timestamp.
	defBinOp("+", tDate, tTime, tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		us, err := dateMicros(int64(a[0].Days()))
		if err != nil {
			return repr.Null, err
		}
		return checkTimestamp(repr.KindTimestamp, us+a[1].Micros())
	})
	defBinOp("+", tTime, tDate, tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		us, err := dateMicros(int64(a[1].Days()))
		if err != nil {
			return repr.Null, err
		}
		return checkTimestamp(repr.KindTimestamp, us+a[0].Micros())
	})
	// date ± interval -> timestamp.
	defBinOp("+", tDate, tInterval, tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		base, err := dateMicros(int64(a[0].Days()))
		if err != nil {
			return repr.Null, err
		}
		us, err := AddInterval(base, a[1].Interval())
		if err != nil {
			return repr.Null, err
		}
		return repr.TimestampDatum(us), nil
	})
	defBinOp("+", tInterval, tDate, tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		base, err := dateMicros(int64(a[1].Days()))
		if err != nil {
			return repr.Null, err
		}
		us, err := AddInterval(base, a[0].Interval())
		if err != nil {
			return repr.Null, err
		}
		return repr.TimestampDatum(us), nil
	})
	defBinOp("-", tDate, tInterval, tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		n, err := negInterval(a[1].Interval())
		if err != nil {
			return repr.Null, err
		}
		base, err := dateMicros(int64(a[0].Days()))
		if err != nil {
			return repr.Null, err
		}
		us, err := AddInterval(base, n)
		if err != nil {
			return repr.Null, err
		}
		return repr.TimestampDatum(us), nil
	})
	for _, t := range []repr.ScalarType{tTimestamp, tTimestampTz} {
		k := t.Kind
		defBinOp("+", t, tInterval, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			us, err := AddInterval(a[0].Micros(), a[1].Interval())
			if err != nil {
				return repr.Null, err
			}
			return checkTimestamp(k, us)
		})
		defBinOp("+", tInterval, t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			us, err := AddInterval(a[1].Micros(), a[0].Interval())
			if err != nil {
				return repr.Null, err
			}
			return checkTimestamp(k, us)
		})
		defBinOp("-", t, tInterval, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			n, err := negInterval(a[1].Interval())
			if err != nil {
				return repr.Null, err
			}
			us, err := AddInterval(a[0].Micros(), n)
			if err != nil {
				return repr.Null, err
			}
			return checkTimestamp(k, us)
		})
		// timestamp - timestamp: days and time (justify_hours).
		defBinOp("-", t, t, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			x, y := a[0].Micros(), a[1].Micros()
			diff := x - y
			if (x >= 0) != (y >= 0) && (diff >= 0) != (x >= 0) {
				return repr.Null, errIntervalRange()
			}
			return repr.IntervalDatum(repr.Interval{Days: int32(diff / repr.MicrosPerDay), Micros: diff % repr.MicrosPerDay}), nil
		})
	}
	// time ± interval wraps around midnight; time - time.
	wrapTime := func(us int64) repr.Datum {
		us %= repr.MicrosPerDay
		if us < 0 {
			us += repr.MicrosPerDay
		}
		return repr.TimeDatum(us)
	}
	defBinOp("+", tTime, tInterval, tTime, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return wrapTime(a[0].Micros() + a[1].Interval().Micros%repr.MicrosPerDay), nil
	})
	defBinOp("+", tInterval, tTime, tTime, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return wrapTime(a[1].Micros() + a[0].Interval().Micros%repr.MicrosPerDay), nil
	})
	defBinOp("-", tTime, tInterval, tTime, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return wrapTime(a[0].Micros() - a[1].Interval().Micros%repr.MicrosPerDay), nil
	})
	defBinOp("-", tTime, tTime, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.IntervalDatum(repr.Interval{Micros: a[0].Micros() - a[1].Micros()}), nil
	})
	// interval arithmetic.
	defBinOp("+", tInterval, tInterval, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(addIntervals(a[0].Interval(), a[1].Interval()))
	})
	defBinOp("-", tInterval, tInterval, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		n, err := negInterval(a[1].Interval())
		if err != nil {
			return repr.Null, err
		}
		return intervalDatum(addIntervals(a[0].Interval(), n))
	})
	defUnOp("-", tInterval, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(negInterval(a[0].Interval()))
	})
	defUnOp("+", tInterval, tInterval, identityEval)
	defBinOp("*", tInterval, tFloat8, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(mulInterval(a[0].Interval(), a[1].Float()))
	})
	defBinOp("*", tFloat8, tInterval, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(mulInterval(a[1].Interval(), a[0].Float()))
	})
	defBinOp("/", tInterval, tFloat8, tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[1].Float() == 0 {
			return repr.Null, errDivByZero()
		}
		return intervalDatum(divInterval(a[0].Interval(), a[1].Float()))
	})
	defFunc("justify_hours", ts(tInterval), tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(justifyHours(a[0].Interval()))
	})
	defFunc("justify_days", ts(tInterval), tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(justifyDays(a[0].Interval()))
	})
	defFunc("justify_interval", ts(tInterval), tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intervalDatum(justifyInterval(a[0].Interval()))
	})
}

// justifyHours moves whole days of the time part into days, and gives
// the time the days' sign (PostgreSQL's interval_justify_hours: '1 day
// -1 hour' is '23:00:00').
func justifyHours(iv repr.Interval) (repr.Interval, error) {
	days, micros := carryUnits(int64(iv.Days), iv.Micros, repr.MicrosPerDay)
	if days != int64(int32(days)) {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: iv.Months, Days: int32(days), Micros: micros}, nil
}

// justifyDays moves whole 30-day months of the days into months, and
// gives the days the months' sign (interval_justify_days).
func justifyDays(iv repr.Interval) (repr.Interval, error) {
	months, days := carryUnits(int64(iv.Months), int64(iv.Days), repr.DaysPerMonth)
	if months != int64(int32(months)) {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(months), Days: int32(days), Micros: iv.Micros}, nil
}

// carryUnits moves whole units of lo (unit of them make one of hi) into
// hi, and gives lo hi's sign: the justify_* rule.
func carryUnits(hi, lo, unit int64) (int64, int64) {
	whole := lo / unit
	hi, lo = hi+whole, lo-whole*unit
	if hi > 0 && lo < 0 {
		lo += unit
		hi--
	} else if hi < 0 && lo > 0 {
		lo -= unit
		hi++
	}
	return hi, lo
}

// justifyInterval is justify_days of justify_hours with every field
// given one sign (interval_justify_interval).
func justifyInterval(iv repr.Interval) (repr.Interval, error) {
	months, days, micros := int64(iv.Months), int64(iv.Days), iv.Micros
	// Pre-justify days when days and time have one sign, as PostgreSQL
	// does to avoid an overflow.
	if (days > 0 && micros > 0) || (days < 0 && micros < 0) {
		whole := days / repr.DaysPerMonth
		days -= whole * repr.DaysPerMonth
		months += whole
	}
	whole := micros / repr.MicrosPerDay
	micros -= whole * repr.MicrosPerDay
	days += whole
	wholeMonths := days / repr.DaysPerMonth
	days -= wholeMonths * repr.DaysPerMonth
	months += wholeMonths
	if months > 0 && (days < 0 || (days == 0 && micros < 0)) {
		days += repr.DaysPerMonth
		months--
	} else if months < 0 && (days > 0 || (days == 0 && micros > 0)) {
		days -= repr.DaysPerMonth
		months++
	}
	if days > 0 && micros < 0 {
		micros += repr.MicrosPerDay
		days--
	} else if days < 0 && micros > 0 {
		micros -= repr.MicrosPerDay
		days++
	}
	if months != int64(int32(months)) || days != int64(int32(days)) {
		return repr.Interval{}, errIntervalRange()
	}
	return repr.Interval{Months: int32(months), Days: int32(days), Micros: micros}, nil
}

// Stable functions reading the statement time.
func registerNow() {
	now := func(ctx *EvalCtx, _ []repr.Datum) (repr.Datum, error) {
		return repr.TimestampTzDatum(ctx.StmtTime), nil
	}
	for _, name := range []string{"now", "current_timestamp", "transaction_timestamp", "statement_timestamp"} {
		f := defFunc(name, nil, tTimestampTz, now)
		f.Volatility = Stable
	}
	f := defFunc("localtimestamp", nil, tTimestamp, func(ctx *EvalCtx, _ []repr.Datum) (repr.Datum, error) {
		return repr.TimestampDatum(ctx.StmtTime), nil
	})
	f.Volatility = Stable
	f = defFunc("current_date", nil, tDate, func(ctx *EvalCtx, _ []repr.Datum) (repr.Datum, error) {
		return repr.DateDatum(int32(floorDiv(ctx.StmtTime, repr.MicrosPerDay))), nil
	})
	f.Volatility = Stable
	f = defFunc("clock_timestamp", nil, tTimestampTz, func(ctx *EvalCtx, _ []repr.Datum) (repr.Datum, error) {
		return repr.TimestampTzDatum(wallClockMicros()), nil
	})
	f.Volatility = Volatile
}

// truncTimestamp truncates us to unit, as date_trunc.
func truncTimestamp(unit string, us int64, forType repr.ScalarType) (int64, error) {
	y, m, d, tod := splitTimestamp(us)
	day := func(y, m, d int64) int64 { return repr.DaysFromCivil(y, m, d) * repr.MicrosPerDay }
	switch strings.ToLower(unit) {
	case "microseconds", "microsecond", "us":
		return us, nil
	case "milliseconds", "millisecond", "ms":
		return day(y, m, d) + tod/1000*1000, nil
	case "second", "seconds", "s", "sec":
		return day(y, m, d) + tod/repr.MicrosPerSecond*repr.MicrosPerSecond, nil
	case "minute", "minutes", "min":
		return day(y, m, d) + tod/repr.MicrosPerMinute*repr.MicrosPerMinute, nil
	case "hour", "hours", "h":
		return day(y, m, d) + tod/repr.MicrosPerHour*repr.MicrosPerHour, nil
	case "day", "days", "d":
		return day(y, m, d), nil
	case "week", "weeks", "w":
		days := floorDiv(us, repr.MicrosPerDay)
		dow := isoDow(days) // 1 = Monday
		return (days - (dow - 1)) * repr.MicrosPerDay, nil
	case "month", "months", "mon":
		return day(y, m, 1), nil
	case "quarter", "qtr":
		return day(y, (m-1)/3*3+1, 1), nil
	case "year", "years", "y":
		return day(y, 1, 1), nil
	case "decade", "decades":
		if y > 0 {
			return day(floorDiv(y, 10)*10, 1, 1), nil
		}
		return day(-(floorDiv(-y+1+9, 10)*10)+1, 1, 1), nil
	case "century", "centuries":
		if y > 0 {
			return day((y+99)/100*100-99, 1, 1), nil
		}
		return day(-((99-(y-1))/100*100 - 1), 1, 1), nil
	case "millennium", "millennia":
		if y > 0 {
			return day((y+999)/1000*1000-999, 1, 1), nil
		}
		return day(-((999-(y-1))/1000*1000 - 1), 1, 1), nil
	}
	return 0, errorf(pgcode.InvalidParameterValue, "unit %q not recognized for type %s", strings.ToLower(unit), forType)
}

// isoDow returns the ISO day of week of days since 1970-01-01 (a
// Thursday): 1 = Monday ... 7 = Sunday.
func isoDow(days int64) int64 {
	r := (days + 3) % 7
	if r < 0 {
		r += 7
	}
	return r + 1
}

// isoWeek returns the ISO 8601 year and week number of a date.
func isoWeek(days int64) (year, week int64) {
	// The Thursday of this week decides the year.
	thursday := days - isoDow(days) + 4
	y, _, _ := repr.CivilFromDays(thursday)
	jan1 := repr.DaysFromCivil(y, 1, 1)
	return y, (thursday-jan1)/7 + 1
}

// dateField computes an extract/date_part field of a timestamp as a
// decimal of value v*10^-scale.
func timestampField(field string, us int64, forType repr.ScalarType) (v int64, scale int32, err error) {
	y, m, d, tod := splitTimestamp(us)
	days := floorDiv(us, repr.MicrosPerDay)
	secMicros := tod % repr.MicrosPerMinute
	switch strings.ToLower(field) {
	case "microseconds", "microsecond", "us", "usec", "usecs":
		return secMicros, 0, nil
	case "milliseconds", "millisecond", "ms", "msec", "msecs":
		return secMicros, 3, nil
	case "second", "seconds", "s", "sec", "secs":
		return secMicros, 6, nil
	case "minute", "minutes", "m", "min", "mins":
		return tod / repr.MicrosPerMinute % 60, 0, nil
	case "hour", "hours", "h", "hr", "hrs":
		return tod / repr.MicrosPerHour, 0, nil
	case "day", "days", "d":
		return d, 0, nil
	case "month", "months", "mon", "mons":
		return m, 0, nil
	case "quarter", "qtr":
		return (m-1)/3 + 1, 0, nil
	case "year", "years", "y", "yr", "yrs":
		if y <= 0 {
			return y - 1, 0, nil
		}
		return y, 0, nil
	case "week", "weeks", "w":
		_, w := isoWeek(days)
		return w, 0, nil
	case "isoyear":
		iy, _ := isoWeek(days)
		if iy <= 0 {
			return iy - 1, 0, nil
		}
		return iy, 0, nil
	case "dow":
		return isoDow(days) % 7, 0, nil
	case "isodow":
		return isoDow(days), 0, nil
	case "doy":
		return days - repr.DaysFromCivil(y, 1, 1) + 1, 0, nil
	case "epoch":
		return us, 6, nil
	case "decade", "decades":
		if y > 0 {
			return floorDiv(y, 10), 0, nil
		}
		return -((8 - (y - 1)) / 10), 0, nil
	case "century", "centuries", "c":
		if y > 0 {
			return (y + 99) / 100, 0, nil
		}
		return -((99 - (y - 1)) / 100), 0, nil
	case "millennium", "millennia":
		if y > 0 {
			return (y + 999) / 1000, 0, nil
		}
		return -((999 - (y - 1)) / 1000), 0, nil
	case "julian":
		return days + 2440588, 0, nil
	case "timezone", "timezone_hour", "timezone_minute":
		if forType.Kind == repr.KindTimestampTz {
			return 0, 0, nil
		}
	}
	return 0, 0, errorf(pgcode.FeatureNotSupported, "unit %q not supported for type %s", strings.ToLower(field), forType)
}

func intervalField(field string, iv repr.Interval) (v int64, scale int32, err error) {
	switch strings.ToLower(field) {
	case "microseconds", "microsecond", "us":
		return iv.Micros % repr.MicrosPerMinute, 0, nil
	case "milliseconds", "millisecond", "ms":
		return iv.Micros % repr.MicrosPerMinute, 3, nil
	case "second", "seconds", "s", "sec":
		return iv.Micros % repr.MicrosPerMinute, 6, nil
	case "minute", "minutes", "m", "min":
		return iv.Micros / repr.MicrosPerMinute % 60, 0, nil
	case "hour", "hours", "h":
		return iv.Micros / repr.MicrosPerHour, 0, nil
	case "day", "days", "d":
		return int64(iv.Days), 0, nil
	case "month", "months", "mon":
		return int64(iv.Months % 12), 0, nil
	case "quarter":
		return int64(iv.Months%12)/3 + 1, 0, nil
	case "year", "years", "y":
		return int64(iv.Months / 12), 0, nil
	case "decade", "decades":
		return int64(iv.Months / 120), 0, nil
	case "century", "centuries":
		return int64(iv.Months / 1200), 0, nil
	case "millennium":
		return int64(iv.Months / 12000), 0, nil
	case "epoch":
		// 365.25 days per year, 30 per month, as PostgreSQL.
		years := int64(iv.Months / 12)
		months := int64(iv.Months % 12)
		secsYears := years * 36525 * 864 // 365.25 days in seconds
		us := secsYears*repr.MicrosPerSecond + months*repr.DaysPerMonth*repr.MicrosPerDay + int64(iv.Days)*repr.MicrosPerDay + iv.Micros
		return us, 6, nil
	}
	return 0, 0, errorf(pgcode.FeatureNotSupported, "unit %q not supported for type interval", strings.ToLower(field))
}

func timeField(field string, us int64) (v int64, scale int32, err error) {
	switch strings.ToLower(field) {
	case "microseconds", "microsecond", "us", "milliseconds", "millisecond", "ms", "second", "seconds", "s", "sec", "minute", "minutes", "m", "min", "hour", "hours", "h":
		return timestampField(field, us, tTime)
	case "epoch":
		return us, 6, nil
	}
	return 0, 0, errorf(pgcode.FeatureNotSupported, "unit %q not supported for type time without time zone", strings.ToLower(field))
}

func dateField(field string, days int32) (v int64, scale int32, err error) {
	switch strings.ToLower(field) {
	case "microseconds", "microsecond", "us", "milliseconds", "millisecond", "ms", "second", "seconds", "s", "sec",
		"minute", "minutes", "m", "min", "hour", "hours", "h", "timezone", "timezone_hour", "timezone_minute":
		return 0, 0, errorf(pgcode.FeatureNotSupported, "unit %q not supported for type date", strings.ToLower(field))
	case "epoch":
		return int64(days) * 86400, 0, nil
	}
	return timestampField(field, int64(days)*repr.MicrosPerDay, tDate)
}

func registerExtract() {
	type fieldFn func(field string, d repr.Datum) (int64, int32, error)
	sources := []struct {
		t repr.ScalarType
		f fieldFn
	}{
		{tTimestamp, func(f string, d repr.Datum) (int64, int32, error) { return timestampField(f, d.Micros(), tTimestamp) }},
		{tTimestampTz, func(f string, d repr.Datum) (int64, int32, error) { return timestampField(f, d.Micros(), tTimestampTz) }},
		{tInterval, func(f string, d repr.Datum) (int64, int32, error) { return intervalField(f, d.Interval()) }},
		{tTime, func(f string, d repr.Datum) (int64, int32, error) { return timeField(f, d.Micros()) }},
		{tDate, func(f string, d repr.Datum) (int64, int32, error) { return dateField(f, d.Days()) }},
	}
	for _, src := range sources {
		fn := src.f
		defFunc("extract", ts(tText, src.t), tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, scale, err := fn(a[0].Str(), a[1])
			if err != nil {
				return repr.Null, err
			}
			return repr.NumericDatum(apd.New(v, -scale)), nil
		})
		if src.t.Kind == repr.KindDate {
			// date_part(text, date) is date_part(text, $2::timestamp).
			defFunc("date_part", ts(tText, tDate), tFloat8, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				us, err := dateMicros(int64(a[1].Days()))
				if err != nil {
					return repr.Null, err
				}
				v, scale, err := timestampField(a[0].Str(), us, tTimestamp)
				if err != nil {
					return repr.Null, err
				}
				return repr.Float8Datum(float64(v) / math.Pow10(int(scale))), nil
			})
			continue
		}
		defFunc("date_part", ts(tText, src.t), tFloat8, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, scale, err := fn(a[0].Str(), a[1])
			if err != nil {
				return repr.Null, err
			}
			return repr.Float8Datum(float64(v) / math.Pow10(int(scale))), nil
		})
	}
	for _, t := range []repr.ScalarType{tTimestamp, tTimestampTz} {
		k, typ := t.Kind, t
		defFunc("date_trunc", ts(tText, t), t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			us, err := truncTimestamp(a[0].Str(), a[1].Micros(), typ)
			if err != nil {
				return repr.Null, err
			}
			return checkTimestamp(k, us)
		})
	}
	// date_bin(stride, source, origin): the start of the stride-wide bin
	// (counted from origin) that holds source, as PostgreSQL 14+: a stride
	// of days counts 24 hours; months are refused. Tumbling windows.
	for _, t := range []repr.ScalarType{tTimestamp, tTimestampTz} {
		k := t.Kind
		defFunc("date_bin", ts(tInterval, t, t), t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			iv := a[0].Interval()
			if iv.Months != 0 {
				return repr.Null, errorf(pgcode.FeatureNotSupported, "timestamps cannot be binned into intervals containing months or years")
			}
			stride := int64(iv.Days)*repr.MicrosPerDay + iv.Micros
			if stride <= 0 {
				return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "stride must be greater than zero")
			}
			d := a[1].Micros() - a[2].Micros()
			bin := d / stride * stride
			if d < 0 && bin != d {
				bin -= stride
			}
			return checkTimestamp(k, a[2].Micros()+bin)
		})
	}
	defFunc("date_trunc", ts(tText, tInterval), tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		iv := a[1].Interval()
		switch strings.ToLower(a[0].Str()) {
		case "microseconds", "microsecond":
		case "milliseconds", "millisecond":
			iv.Micros = iv.Micros / 1000 * 1000
		case "second", "seconds":
			iv.Micros = iv.Micros / repr.MicrosPerSecond * repr.MicrosPerSecond
		case "minute", "minutes":
			iv.Micros = iv.Micros / repr.MicrosPerMinute * repr.MicrosPerMinute
		case "hour", "hours":
			iv.Micros = iv.Micros / repr.MicrosPerHour * repr.MicrosPerHour
		case "day", "days":
			iv.Micros = 0
		case "month", "months":
			iv.Micros, iv.Days = 0, 0
		case "quarter":
			iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months/3*3
		case "year", "years":
			iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months/12*12
		case "decade", "decades":
			iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months/120*120
		case "century", "centuries":
			iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months/1200*1200
		case "millennium":
			iv.Micros, iv.Days, iv.Months = 0, 0, iv.Months/12000*12000
		default:
			return repr.Null, errorf(pgcode.InvalidParameterValue, "unit %q not recognized for type interval", strings.ToLower(a[0].Str()))
		}
		return repr.IntervalDatum(iv), nil
	})
	defFunc("make_date", ts(tInt4, tInt4, tInt4), tDate, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		y, m, d := a[0].Int(), a[1].Int(), a[2].Int()
		yy := y
		if y < 0 {
			yy = y + 1 // negative years are BC
		}
		if y == 0 || m < 1 || m > 12 || d < 1 || d > repr.DaysInMonth(yy, m) {
			return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, m, d)
		}
		return checkDate(repr.DaysFromCivil(yy, m, d))
	})
	defFunc("make_timestamp", ts(tInt4, tInt4, tInt4, tInt4, tInt4, tFloat8), tTimestamp, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		y, m, d, h, mi, sec := a[0].Int(), a[1].Int(), a[2].Int(), a[3].Int(), a[4].Int(), a[5].Float()
		if y <= 0 || m < 1 || m > 12 || d < 1 || d > repr.DaysInMonth(y, m) {
			return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", y, m, d)
		}
		if h < 0 || h > 24 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || math.IsNaN(sec) {
			return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "time field value out of range: %d:%02d:%s", h, mi, strconv.FormatFloat(sec, 'g', -1, 64))
		}
		us := repr.DaysFromCivil(y, m, d)*repr.MicrosPerDay + h*repr.MicrosPerHour + mi*repr.MicrosPerMinute + int64(math.Round(sec*1e6))
		return checkTimestamp(repr.KindTimestamp, us)
	})
	defFunc("to_timestamp", ts(tFloat8), tTimestampTz, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		f := a[0].Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "timestamp cannot be NaN or infinite")
		}
		us := f * 1e6
		if us < float64(minTimestampMicros) || us >= float64(maxTimestampMicros) {
			return repr.Null, errorf(pgcode.DatetimeFieldOverflow, "timestamp out of range: %q", strconv.FormatFloat(f, 'g', -1, 64))
		}
		return repr.TimestampTzDatum(int64(math.Round(us))), nil
	})
	for _, t := range []repr.ScalarType{tTimestamp, tTimestampTz} {
		defFunc("age", ts(t, t), tInterval, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.IntervalDatum(age(a[0].Micros(), a[1].Micros())), nil
		})
		f := defFunc("age", ts(t), tInterval, func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			today := floorDiv(ctx.StmtTime, repr.MicrosPerDay) * repr.MicrosPerDay
			return repr.IntervalDatum(age(today, a[0].Micros())), nil
		})
		f.Volatility = Stable
	}
	for _, t := range []repr.ScalarType{tTimestamp, tTimestampTz} {
		tz := t.Kind == repr.KindTimestampTz
		defFunc("to_char", ts(t, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.TextDatum(toCharTz(a[0].Micros(), a[1].Str(), tz)), nil
		})
	}
	defFunc("to_char", ts(tInterval, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		iv := a[0].Interval()
		return repr.TextDatum(toCharInterval(iv, a[1].Str())), nil
	})
}

// age computes x - y symbolically in years, months and days, as
// PostgreSQL's timestamp_age (borrowing from the larger fields).
func age(x, y int64) repr.Interval {
	neg := x < y
	if neg {
		x, y = y, x
	}
	y1, m1, d1, t1 := splitTimestamp(x)
	y2, m2, d2, t2 := splitTimestamp(y)
	years, months, days, micros := y1-y2, m1-m2, d1-d2, t1-t2
	if micros < 0 {
		micros += repr.MicrosPerDay
		days--
	}
	for days < 0 {
		// Borrow the length of the earlier timestamp's month, as
		// PostgreSQL does.
		days += repr.DaysInMonth(y2, m2)
		months--
	}
	if months < 0 {
		months += 12
		years--
	}
	iv := repr.Interval{Months: int32(years*12 + months), Days: int32(days), Micros: micros}
	if neg {
		iv = repr.Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}
	}
	return iv
}

var monthNamesFull = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNamesFull = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// toChar formats a timestamp with PostgreSQL's to_char template patterns:
// YYYY YYY YY Y, MM, DD, DDD, D, ID, HH HH12 HH24, MI, SS, MS, US, FF1-FF6,
// AM PM am pm A.M. P.M., Month MONTH month Mon MON mon, Day DAY day Dy DY
// dy, Q, WW, IW, IYYY, J, TZ tz OF, with the FM (fill mode) prefix, "quoted
// text" and backslash escapes. Other characters are copied.
func toChar(us int64, format string) string { return toCharTz(us, format, false) }

// toCharTz is toChar; tz says the value is a timestamptz (TZ and OF print
// the zone, UTC; for timestamp they print nothing).
func toCharTz(us int64, format string, tz bool) string {
	y, m, d, tod := splitTimestamp(us)
	days := floorDiv(us, repr.MicrosPerDay)
	year := y
	if year <= 0 {
		year = 1 - year
	}
	hour := tod / repr.MicrosPerHour
	minute := tod / repr.MicrosPerMinute % 60
	sec := tod / repr.MicrosPerSecond % 60
	frac := tod % repr.MicrosPerSecond
	dow := isoDow(days) % 7
	var b strings.Builder
	fm := false
	num := func(v int64, width int) {
		if fm {
			b.WriteString(strconv.FormatInt(v, 10))
		} else {
			fmt.Fprintf(&b, "%0*d", width, v)
		}
		fm = false
	}
	word := func(s string, width int) {
		if fm {
			b.WriteString(s)
		} else {
			fmt.Fprintf(&b, "%-*s", width, s)
		}
		fm = false
	}
	h12 := hour % 12
	if h12 == 0 {
		h12 = 12
	}
	for i := 0; i < len(format); {
		rest := format[i:]
		has := func(p string) bool { return strings.HasPrefix(rest, p) }
		switch {
		case has("FM") || has("fm"):
			fm = true
			i += 2
		case rest[0] == '"':
			j := strings.IndexByte(rest[1:], '"')
			if j < 0 {
				b.WriteString(rest[1:])
				i = len(format)
			} else {
				b.WriteString(rest[1 : 1+j])
				i += j + 2
			}
		case strings.HasPrefix(rest, `\"`):
			// Outside quotes only \" escapes; other backslashes are text.
			b.WriteByte('"')
			i += 2
		case has("YYYY"):
			num(year, 4)
			i += 4
		case has("IYYY"):
			iy, _ := isoWeek(days)
			num(iy, 4)
			i += 4
		case has("YYY"):
			num(year%1000, 3)
			i += 3
		case has("YY"):
			num(year%100, 2)
			i += 2
		case has("Y"):
			num(year%10, 1)
			i++
		case has("HH24"):
			num(hour, 2)
			i += 4
		case has("HH12"):
			num(h12, 2)
			i += 4
		case has("HH"):
			num(h12, 2)
			i += 2
		case has("MI"):
			num(minute, 2)
			i += 2
		case has("SS"):
			num(sec, 2)
			i += 2
		case has("MS"):
			num(frac/1000, 3)
			i += 2
		case has("US"):
			num(frac, 6)
			i += 2
		case len(rest) >= 3 && has("FF") && rest[2] >= '1' && rest[2] <= '6':
			n := int(rest[2] - '0')
			num(frac/int64(math.Pow10(6-n)), n)
			i += 3
		case has("AM") || has("PM"):
			if hour < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
			i += 2
		case has("am") || has("pm"):
			if hour < 12 {
				b.WriteString("am")
			} else {
				b.WriteString("pm")
			}
			i += 2
		case has("A.M.") || has("P.M."):
			if hour < 12 {
				b.WriteString("A.M.")
			} else {
				b.WriteString("P.M.")
			}
			i += 4
		case has("MONTH"):
			word(strings.ToUpper(monthNamesFull[m-1]), 9)
			i += 5
		case has("Month"):
			word(monthNamesFull[m-1], 9)
			i += 5
		case has("month"):
			word(strings.ToLower(monthNamesFull[m-1]), 9)
			i += 5
		case has("MON"):
			b.WriteString(strings.ToUpper(monthNamesFull[m-1][:3]))
			i += 3
		case has("Mon"):
			b.WriteString(monthNamesFull[m-1][:3])
			i += 3
		case has("mon"):
			b.WriteString(strings.ToLower(monthNamesFull[m-1][:3]))
			i += 3
		case has("MM"):
			num(m, 2)
			i += 2
		case has("DAY"):
			word(strings.ToUpper(dayNamesFull[dow]), 9)
			i += 3
		case has("Day"):
			word(dayNamesFull[dow], 9)
			i += 3
		case has("day"):
			word(strings.ToLower(dayNamesFull[dow]), 9)
			i += 3
		case has("DY"):
			b.WriteString(strings.ToUpper(dayNamesFull[dow][:3]))
			i += 2
		case has("Dy"):
			b.WriteString(dayNamesFull[dow][:3])
			i += 2
		case has("dy"):
			b.WriteString(strings.ToLower(dayNamesFull[dow][:3]))
			i += 2
		case has("DDD"):
			num(days-repr.DaysFromCivil(y, 1, 1)+1, 3)
			i += 3
		case has("DD"):
			num(d, 2)
			i += 2
		case has("ID"):
			num(isoDow(days), 1)
			i += 2
		case has("D"):
			num(dow+1, 1)
			i++
		case has("IW"):
			_, w := isoWeek(days)
			num(w, 2)
			i += 2
		case has("WW"):
			num((days-repr.DaysFromCivil(y, 1, 1))/7+1, 2)
			i += 2
		case has("Q"):
			num((m-1)/3+1, 1)
			i++
		case has("J"):
			num(days+2440588, 1)
			i++
		case has("TZ"):
			if tz {
				b.WriteString("UTC")
			}
			i += 2
		case has("tz"):
			if tz {
				b.WriteString("utc")
			}
			i += 2
		case has("OF"):
			b.WriteString("+00")
			i += 2
		case has("BC") || has("AD"):
			if y <= 0 {
				b.WriteString("BC")
			} else {
				b.WriteString("AD")
			}
			i += 2
		default:
			b.WriteByte(rest[0])
			i++
		}
	}
	return b.String()
}

// toCharInterval formats an interval's hours, minutes and seconds with the
// same patterns (HH24 may exceed 24; days and months are not shown).
func toCharInterval(iv repr.Interval, format string) string {
	us := iv.Micros
	s := toChar(us%repr.MicrosPerDay, format)
	if us >= repr.MicrosPerDay {
		// Replace the hour by the full hour count for HH24.
		h := us / repr.MicrosPerHour
		s = strings.Replace(s, fmt.Sprintf("%02d", (us%repr.MicrosPerDay)/repr.MicrosPerHour), fmt.Sprintf("%02d", h), 1)
	}
	return s
}

func init() {
	registerDatetimeArith()
	registerNow()
	registerExtract()
}
