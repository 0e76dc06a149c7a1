package coord

import (
	"context"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// sourceState is a source's ingestion state.
type sourceState struct {
	typ string
}

// pendingUnit is an upstream transaction waiting for the next tick: the
// updates of each source collection it touches.
type pendingUnit struct {
	updates map[*item][]repr.Update
	done    chan error
}

// applyUnitsLocked feeds pending source units at t: each unit lands whole
// at t.
func (c *Coordinator) applyUnitsLocked(ctx context.Context, t repr.Timestamp) error {
	units := c.pendingUnits
	c.pendingUnits = nil
	for _, u := range units {
		for it, ups := range u.updates {
			if it.rt == nil || it.rt.input == nil {
				continue
			}
			for _, up := range ups {
				up.Time = t
				if err := it.rt.input.Send(up); err != nil {
					return err
				}
			}
		}
		if u.done != nil {
			u.done <- nil
		}
	}
	return nil
}

func (c *Coordinator) createSource(ctx context.Context, p *sql.CreateSourcePlan, persist bool) error {
	return pgcode.New(pgcode.FeatureNotSupported, "CREATE SOURCE is not wired up yet")
}

// sourceStatusRows reports every source's state for mz_source_statuses.
func (c *Coordinator) sourceStatusRows() [][]repr.Datum { return nil }
