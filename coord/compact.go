package coord

import (
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/storage"
)

// defaultCompactLogBytes is the log size past which the coordinator
// compacts the store (Config.CompactLogBytes).
const defaultCompactLogBytes = 64 << 20

// maybeCompactLocked compacts the durable log into a snapshot when it has
// grown past the threshold (after a failure, past twice the size that
// failed), so that a restart replays the tables' contents rather than
// their whole history. The tick loop calls it under the lock, between
// steps (not within the commit that grew the log, which would make that
// client wait): every durable table write and source update has then been
// applied to the inputs, so their contents as of now are exactly what the
// log holds (the store checks this against its digests and refuses a
// mismatch).
func (c *Coordinator) maybeCompactLocked() {
	size := c.store.LogSize()
	if size < c.cfg.CompactLogBytes || size < c.compactedBytes {
		return
	}
	var rows int64
	err := c.store.Compact(c.catalogRecs, func(emit func(storage.TableUpdate) error) error {
		for id, it := range c.cat.items {
			if it.rt == nil || it.rt.input == nil {
				continue
			}
			var ferr error
			err := it.rt.scan(c.now, func(row repr.Row, d repr.Diff) bool {
				rows++
				ferr = emit(storage.TableUpdate{Table: uint64(id), Row: row, Diff: d})
				return ferr == nil
			})
			if err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("coord: compacting the log failed; it keeps growing", "err", err, "log-bytes", size)
		// Do not try again at every step.
		c.compactedBytes = 2 * size
		c.compactFailures++
		return
	}
	c.compactedBytes = 0
	c.compactions++
	c.log.Info("coord: compacted the log into a snapshot", "log-bytes", size, "rows", rows)
}
