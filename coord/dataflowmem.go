package coord

import (
	"errors"
	"fmt"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// The memory bound of materialized views (Config.MaxDataflowMemory).
//
// A view's dataflow is bounded twice: within a step by the dataflow's
// MemoryLimit (the bytes the step's operators produce, which stops a step
// that would blow up before it allocates), and after each step by the
// bytes its own arrangements and output, and its operators' group state
// (reduce, distinct, TopK), hold (dataflow.Graph.StateBytes), which catches state that grows step by step. Either way the view fails:
// its dataflow is closed (its state freed), its runtime keeps the error,
// and every read of it, or of anything built on it, returns that error
// with SQLSTATE 53200 (through sourceErrors, as for a failed source).
// Dataflows built on it fail with it at the next step. The server and the
// other views go on; DROP removes the failed view as any other.

// isOutOfMemory reports whether err is a 53200 error.
func isOutOfMemory(err error) bool {
	var pe *pgcode.Error
	return errors.As(err, &pe) && pe.Code == pgcode.OutOfMemory
}

// checkStateLocked returns a 53200 error when d's state holds more
// than Config.MaxDataflowMemory bytes.
func (c *Coordinator) checkStateLocked(d *dataflowState) error {
	limit := c.cfg.MaxDataflowMemory
	if limit <= 0 {
		return nil
	}
	if n := d.graph.StateBytes(); n > limit {
		return pgcode.New(pgcode.OutOfMemory, "its arrangements and group state hold %d MB", n>>20)
	}
	return nil
}

// failDataflowLocked fails d's view with cause: it closes the dataflow
// (d.graph becomes nil; the caller drops d from c.dataflows) and records
// the error that reads of the view will return.
func (c *Coordinator) failDataflowLocked(d *dataflowState, cause error) {
	it := c.cat.items[d.owner]
	name := fmt.Sprint(d.owner)
	if it != nil {
		name = it.Name.Item
	}
	err := cause
	if !isDependencyFailure(cause) {
		detail := cause.Error()
		var pe *pgcode.Error
		if errors.As(cause, &pe) {
			detail = pe.Message
		}
		err = pgcode.New(pgcode.OutOfMemory, "materialized view %q exceeded the dataflow memory limit of %d MB", name, c.cfg.MaxDataflowMemory>>20).
			WithDetail("%s", detail).
			WithHint("Raise --max-dataflow-memory, or drop the view and define it with less state.")
	}
	d.graph.Close()
	d.graph = nil
	if it != nil && it.rt != nil {
		it.rt.sourceErr = err
		it.rt.graph = nil
	}
	c.dataflowFailed = true
	c.log.Warn("materialized view failed; its dataflow is dropped", "view", name, "error", err)
	c.releaseMemorySoon()
}

// dependencyFailure marks the error of a view failed because one it reads
// failed: it is the original view's error, passed on unchanged.
type dependencyFailure struct{ error }

func (e dependencyFailure) Unwrap() error { return e.error }

func isDependencyFailure(err error) bool {
	var df dependencyFailure
	return errors.As(err, &df)
}

// failedDependency returns the error of a failed item that owner reads,
// directly or through other views, or nil.
func (c *Coordinator) failedDependency(owner plan.GlobalID) error {
	it := c.cat.items[owner]
	if it == nil {
		return nil
	}
	for _, d := range it.deps {
		dep := c.cat.items[d]
		if dep == nil {
			continue
		}
		if dep.rt != nil && dep.rt.sourceErr != nil && dep.rt.graph == nil {
			return dependencyFailure{dep.rt.sourceErr}
		}
		if err := c.failedDependency(d); err != nil {
			return err
		}
	}
	return nil
}

// dataflowMemoryDef is mz_internal.mz_dataflow_memory: for every table,
// materialized view and index, the bytes its dataflow's own arrangements
// and output, and its reduce, distinct/threshold, TopK and window group
// state, hold (dataflow.Graph.StateBytes; imported arrangements count for
// their owner), and whether it failed with the error its reads return.
func dataflowMemoryDef() builtinDef {
	return cols("id text, schema_name text, name text, type text, state_bytes int8, status text, error text").
		def("mz_internal", "mz_dataflow_memory", dataflowMemoryRows)
}

// dataflowMemoryRows lists the items with a dataflow (under the
// coordinator's lock, between steps).
func dataflowMemoryRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if it.rt == nil {
			continue
		}
		bytes, status, errText := repr.Null, "running", repr.Null
		if it.rt.graph != nil {
			bytes = repr.Int8Datum(it.rt.graph.StateBytes())
		}
		if it.rt.sourceErr != nil {
			status, errText = "failed", text(it.rt.sourceErr.Error())
		}
		out = append(out, []repr.Datum{text(formatID(it.ID)), text(it.Name.Schema), text(it.Name.Item), text(it.Kind.String()), bytes, text(status), errText})
	}
	return out
}
