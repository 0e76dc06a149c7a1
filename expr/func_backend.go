package expr

import (
	"math"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Backends is what the server-signalling functions (PostgreSQL's
// pg_cancel_backend and pg_terminate_backend) call: the coordinator's
// control of its sessions, seen from the calling session. pid is a
// session's process ID (pg_backend_pid(), pg_stat_activity.pid).
// Implementations report an unknown pid by returning false (after telling
// the caller, as PostgreSQL's WARNING does), not by an error.
type Backends interface {
	// CancelBackend cancels the statement session pid is running, if any.
	CancelBackend(pid int32) (bool, error)
	// TerminateBackend ends session pid's connection. A positive timeout
	// waits that long for the session to end and reports false if it did
	// not; zero returns at once.
	TerminateBackend(pid int32, timeout time.Duration) (bool, error)
}

// errNoBackends is the error of the server-signalling functions where no
// session control is at hand (a maintained view, a constant folded at plan
// time: both are ruled out for volatile functions, so this is a bug).
func errNoBackends(name string) *pgcode.Error {
	return errorf(pgcode.FeatureNotSupported, "%s cannot be called in this context", name)
}

func init() {
	// Both are volatile: they act when a row is evaluated, never at plan
	// time (plan/rules_fold.go and Fold leave volatile calls alone), and
	// they may not appear in a maintained view.
	f := defFunc("pg_cancel_backend", ts(tInt4), tBool, func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if ctx.Backends == nil {
			return repr.Null, errNoBackends("pg_cancel_backend")
		}
		ok, err := ctx.Backends.CancelBackend(int32(a[0].Int()))
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(ok), nil
	})
	f.Volatility = Volatile
	terminate := func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		var timeout int64
		if len(a) > 1 {
			timeout = a[1].Int()
		}
		if timeout < 0 {
			return repr.Null, errorf(pgcode.InvalidParameterValue, `"timeout" must not be negative`)
		}
		if ctx.Backends == nil {
			return repr.Null, errNoBackends("pg_terminate_backend")
		}
		timeout = min(timeout, int64(math.MaxInt64/time.Millisecond))
		ok, err := ctx.Backends.TerminateBackend(int32(a[0].Int()), time.Duration(timeout)*time.Millisecond)
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(ok), nil
	}
	f = defFunc("pg_terminate_backend", ts(tInt4), tBool, terminate)
	f.Volatility = Volatile
	f = defFunc("pg_terminate_backend", ts(tInt4, tInt8), tBool, terminate)
	f.Volatility = Volatile
}
