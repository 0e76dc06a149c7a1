package sources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// CollectionID names one source collection (one table of an upstream
// database, one subsource). The coordinator assigns IDs; sources only uses
// them as map keys.
type CollectionID uint64

// Update is one change to a collection: Row's multiplicity changes by Diff.
// The coordinator gives every Update of a Unit the Unit's timestamp.
type Update struct {
	Row  repr.Row
	Diff repr.Diff
}

// Position is an upstream position: the next offset to read from one
// partition of one topic. Restarting a source from a set of Positions
// re-reads everything at or after them.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

func (p Position) String() string { return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset) }

// Checkpoint is what the coordinator stores durably, bound to a Unit's
// timestamp, and hands back to resume a source: the positions to read from
// and an opaque token holding envelope progress that positions alone do not
// capture (for CockroachDB changefeeds, the resolved timestamp already
// released, used to drop re-delivered rows).
type Checkpoint struct {
	Positions []Position
	Token     string
}

// Unit is an atomic unit of ingestion: one upstream transaction (or a batch
// of records that carry no transaction). The coordinator applies all of a
// Unit's Updates at one timestamp, never splitting it, and stores
// Checkpoint durably with that timestamp. Units arrive in upstream commit
// order.
type Unit struct {
	// Updates holds the updates of each collection the unit touches,
	// consolidated per collection in upstream order.
	Updates map[CollectionID][]Update
	// Packed holds updates as Updates does, for collections whose rows
	// a producer packed back to back (the load generators): a sink can
	// take a collection's slab as it is, with no copy of its rows. A
	// collection is in Updates or in Packed, never in both; UpdatesOf
	// reads either.
	Packed map[CollectionID]*PackedRows
	// Checkpoint is the resume point once this Unit and every Unit before it
	// are durable: for every partition of the reader, the first offset not
	// yet covered by an emitted Unit.
	Checkpoint Checkpoint
	// TxnID is the upstream transaction id ("" for a batch of
	// non-transactional records), for logs and introspection.
	TxnID string
	// Records is the number of upstream records the unit covers.
	Records int
	// More marks a chunk of a transaction too large to be handed over
	// whole: the units that follow, up to and including the first without
	// More, are the rest of it. The coordinator applies them all at one
	// timestamp, makes none of them visible before the last has arrived,
	// and binds only the last one's Checkpoint (a chunk's is empty). A
	// reader that stops between the chunks and the last unit sends the
	// transaction again from its start; the coordinator drops the chunks
	// it had.
	More bool
	// Chunk numbers the units of a transaction sent in chunks: 0 for the
	// first chunk, n for the last unit after n chunks, 0 for a
	// transaction sent whole. A chunk 0 arriving while chunks are staged,
	// or a unit with Chunk 0 after them, means the reader started the
	// transaction again (it reconnected part way): the staged chunks are
	// dropped, never applied twice.
	Chunk int
	// SizeHint, on a first chunk, estimates the packed bytes of the whole
	// transaction (0: unknown), so that the sink can size what holds it
	// once instead of growing it by doubling.
	SizeHint int
}

// Len returns the number of updates in the unit.
func (u *Unit) Len() int {
	n := 0
	for _, us := range u.Updates {
		n += len(us)
	}
	for _, p := range u.Packed {
		n += p.Len()
	}
	return n
}

// empty reports whether the unit has no updates (finish drops empty
// collections).
func (u *Unit) empty() bool { return len(u.Updates) == 0 && len(u.Packed) == 0 }

// UpdatesOf returns collection id's updates, from Updates or Packed (whose
// rows the returned updates alias).
func (u *Unit) UpdatesOf(id CollectionID) []Update {
	if p := u.Packed[id]; p != nil {
		return p.Updates()
	}
	return u.Updates[id]
}

// All returns every collection's updates, from Updates and Packed (whose
// rows the returned updates alias).
func (u *Unit) All() map[CollectionID][]Update {
	if len(u.Packed) == 0 {
		return u.Updates
	}
	all := make(map[CollectionID][]Update, len(u.Updates)+len(u.Packed))
	for id, us := range u.Updates {
		all[id] = us
	}
	for id, p := range u.Packed {
		all[id] = p.Updates()
	}
	return all
}

// PackedRows is a run of updates of one collection whose rows are packed
// back to back in one slab: row i is Data[Ends[i-1]:Ends[i]] (from 0 for
// the first) with diff Diffs[i]. It is the layout of the dataflow's input
// queues, so the coordinator hands the slices over as they are
// (dataflow.Input.SendPacked): whoever builds a PackedRows gives it away
// with the Unit and never touches it again, and a sink that feeds it to
// an input does not read it after the step.
type PackedRows struct {
	Data  []byte
	Ends  []uint32
	Diffs []repr.Diff
}

// Len returns the number of updates.
func (p *PackedRows) Len() int { return len(p.Diffs) }

// Row returns row i; it aliases Data.
func (p *PackedRows) Row(i int) repr.Row {
	start := uint32(0)
	if i > 0 {
		start = p.Ends[i-1]
	}
	return repr.Row(p.Data[start:p.Ends[i]:p.Ends[i]])
}

// Updates returns the updates, their rows aliasing Data.
func (p *PackedRows) Updates() []Update {
	out := make([]Update, p.Len())
	for i := range out {
		out[i] = Update{Row: p.Row(i), Diff: p.Diffs[i]}
	}
	return out
}

// SourceError is a problem with the input of one collection, located at one
// upstream record. It puts the collection into the errored state.
type SourceError struct {
	Collection CollectionID
	Source     string // the source's name, for messages
	Topic      string
	Partition  int32
	Offset     int64
	// Where, when set, locates the error instead of topic, partition
	// and offset (PostgreSQL sources: "table s.t at LSN 0/16B3748").
	Where string
	Err   error
}

// Error renders the error with its location.
func (e *SourceError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("sources: source %q: %s: %v", e.Source, e.Where, e.Err)
	}
	return fmt.Sprintf("sources: source %q: %s partition %d offset %d: %v", e.Source, e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *SourceError) Unwrap() error { return e.Err }

// PgError returns the error as a user sees it when a query reads the
// collection: the cause's SQLSTATE (22000 data_exception when it has none)
// with the location as detail.
func (e *SourceError) PgError() *pgcode.Error {
	code := pgcode.DataException
	if c := pgcode.Of(e.Err); c != pgcode.InternalError {
		code = c
	}
	pe := pgcode.Wrap(e, code, fmt.Sprintf("source %q: %v", e.Source, e.Err))
	pe.Detail = "at " + e.Where
	if e.Where == "" {
		pe.Detail = fmt.Sprintf("at topic %s partition %d offset %d", e.Topic, e.Partition, e.Offset)
	}
	var cause *pgcode.Error
	if errors.As(e.Err, &cause) {
		pe.Hint = cause.Hint
	}
	return pe
}

// Sink receives what a reader produces. The coordinator implements it.
// Emit is called from one goroutine per reader, in commit order; it returns
// once the unit is durably bound to a timestamp (or fails, which stops the
// reader). For a chunk (Unit.More) it returns once the chunk is durably
// staged, bound to nothing yet. ReportError is called when a collection enters the errored
// state; it must not block for long.
type Sink interface {
	Emit(ctx context.Context, u Unit) error
	ReportError(e *SourceError)
}

// BatchSink is a Sink that can take several units at once: EmitAll applies
// them in order, each whole (a coordinator may give them one timestamp),
// and returns once all are durable. Readers use it when one poll releases
// several units, so a backlog is not ingested one unit per round trip.
type BatchSink interface {
	Sink
	EmitAll(ctx context.Context, us []Unit) error
}

// State is the lifecycle state of a collection.
type State string

// Collection states.
const (
	StateStarting State = "starting" // connecting, reading metadata
	StateRunning  State = "running"  // ingesting
	StateStalled  State = "stalled"  // upstream unreachable, or transactions held back waiting for their end
	StateErrored  State = "error"    // bad input: queries reading it must fail with LastError
)

// Status is one collection's state and statistics.
type Status struct {
	Collection     CollectionID
	Name           string
	State          State
	LastError      *SourceError
	MessagesRead   int64
	BytesRead      int64
	UpdatesEmitted int64
	UnitsEmitted   int64
	// PendingRecords and HeldTransactions count what the reader (shared
	// by related sources) has read but not yet released: records and
	// transactions waiting for their other records, END, commit or
	// resolved timestamp. Growth without release means upstream is
	// incomplete (a missing END, a lagging topic).
	PendingRecords   int
	HeldTransactions int
	// Offsets holds, per partition of the collection's topic, the next
	// offset to read and the lag (high watermark minus next offset).
	Offsets []PartitionStatus
	Updated time.Time
	// PostgreSQL sources: CommittedLSN is the frontier (every upstream
	// transaction that committed before it is durable in viewd),
	// UpstreamLSN the upstream's WAL end as last reported, LagBytes their
	// difference, LagTime the delay from the upstream commit of the last
	// ingested transaction to its being durable in viewd, SnapshotTime how
	// long the initial snapshot took.
	CommittedLSN uint64
	UpstreamLSN  uint64
	LagBytes     int64
	LagTime      time.Duration
	SnapshotTime time.Duration
}

// PartitionStatus is the read progress of one partition.
type PartitionStatus struct {
	Topic         string
	Partition     int32
	NextOffset    int64
	HighWatermark int64
	Lag           int64
}
