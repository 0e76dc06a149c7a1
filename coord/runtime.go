package coord

import (
	"syscall"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/repr"
)

// runtimeState is an item's compute state.
//
//   - table, source: input feeds graph, whose output out holds the rows.
//   - materialized view: graph computes the view; out holds its rows.
//   - index: graph arranges the indexed collection by key into arranged.
//   - view, connection: nil.
type runtimeState struct {
	graph *dataflow.Graph
	input *dataflow.Input
	out   *dataflow.Output
	// arranged is an index's arrangement (key columns, whole-row vals).
	arranged *dataflow.Arranged
	// indexHold keeps an index's history readable from the coordinator's
	// since.
	indexHold dataflow.TraceReader
	// sourceErr is set when a source has failed: reads of the source and
	// of everything built on it fail with it.
	sourceErr error
	// stop ends a source's ingestion.
	stop func()
}

// newInputDataflow builds the dataflow of a table or source: an input
// whose collection is materialized, readable from since.
func (c *Coordinator) newInputDataflow(name string, arity int, since repr.Timestamp) *runtimeState {
	g := dataflow.NewGraph(c.graphOptions())
	in := g.NewInput(name, arity)
	out := in.Collection().Materialize(since)
	return &runtimeState{graph: g, input: in, out: out}
}

func (c *Coordinator) graphOptions() dataflow.Options {
	return dataflow.Options{Workers: c.cfg.Workers, Logger: c.log}
}

// defaultQueryMemory is a quarter of the machine's memory (1 GiB when it
// cannot be read).
func defaultQueryMemory() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 1 << 30
	}
	return int64(si.Totalram) * int64(si.Unit) / 4
}
