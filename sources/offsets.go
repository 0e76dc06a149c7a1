package sources

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/viewd/viewd/pgcode"
)

// A partition's offsets can move under a reader: a topic deleted and
// created again restarts at offset 0 (and gets a new topic ID), a
// truncation lowers the high-water mark, retention or DeleteRecords raises
// the log start. Reading on from the reader's position would then skip
// records (the new topic's first ones, or the deleted unread ones) or read
// another topic's records as if they followed, and franz-go's default
// recovery (reset to the log start, whose records a resumed reader drops as
// already read) hides it. The reader therefore compares, at start before
// the first fetch and then every CheckInterval and after every fetch error,
// each partition's position with its log start offset and high-water mark:
//
//   - position > high-water mark: the partition lost records it had (topic
//     recreated or truncated);
//   - position < log start: records not yet read were deleted;
//   - the partition or its topic no longer exists, or the topic's ID changed
//     while reading (deleted and recreated).
//
// Each is an error of every collection the partition feeds (every
// collection, for a transaction metadata topic): the collection goes to
// StateErrored, reads of it fail, and the partition is no longer read. The
// position is the stored resume offset at start and the next offset to read
// afterwards. To read the topic again knowingly, drop the source and create
// it again (it starts at the log start, or at its START OFFSET).
//
// A fresh partition (no stored position) starts at its START OFFSET, or 0,
// raised to the log start when retention has removed the records before
// it; a START OFFSET past the high-water mark is an error, as it would be
// for Kafka's consumers with auto.offset.reset=none.

// partBounds are a partition's log start offset and high-water mark.
type partBounds struct {
	logStart, hwm int64
}

// topicMeta is what Metadata says of a topic.
type topicMeta struct {
	exists     bool // false: UNKNOWN_TOPIC_OR_PARTITION
	id         [16]byte
	partitions int32
}

// errOffsets is the SQLSTATE of a partition whose offsets moved under the
// reader.
const errOffsets = pgcode.ObjectNotInPrerequisiteState

const resumeHint = "The records the source had not read are gone or were replaced. To read the topic again from its start, DROP SOURCE and CREATE SOURCE again (views over it must be created again too)."

// offsetProblem says why reading partition p of topic from next would skip
// or misread records, or returns nil. what names next ("resume offset",
// "next offset to read", "START OFFSET").
func offsetProblem(topic string, p int32, what string, next int64, b partBounds) error {
	switch {
	case b.hwm < next:
		return pgcode.New(errOffsets, "topic %q partition %d: high-water mark %d is below the %s %d (the topic was deleted and recreated, or truncated)", topic, p, b.hwm, what, next).
			WithHint(resumeHint)
	case b.logStart > next:
		return pgcode.New(errOffsets, "topic %q partition %d: log start offset %d is above the %s %d (records %d to %d were deleted before they were read)", topic, p, b.logStart, what, next, next, b.logStart-1).
			WithHint(resumeHint)
	}
	return nil
}

func partitionGone(topic string, p int32, what string, next int64) error {
	return pgcode.New(errOffsets, "topic %q partition %d no longer exists (%s %d)", topic, p, what, next).WithHint(resumeHint)
}

// fetchBounds asks the cluster for the topics' metadata and the log start
// and high-water mark of parts. A partition whose offsets could not be
// listed (its leader is moving, say) is absent from the result.
func fetchBounds(ctx context.Context, cl *kgo.Client, topics []string, parts []tp) (map[string]topicMeta, map[tp]partBounds, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		mreq.Topics = append(mreq.Topics, rt)
	}
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, nil, fmt.Errorf("sources: kafka metadata: %w", err)
	}
	metas := map[string]topicMeta{}
	for _, t := range mresp.Topics {
		if t.Topic == nil {
			continue
		}
		switch {
		case t.ErrorCode == kerr.UnknownTopicOrPartition.Code:
			metas[*t.Topic] = topicMeta{}
		case t.ErrorCode == 0:
			metas[*t.Topic] = topicMeta{exists: true, id: t.TopicID, partitions: int32(len(t.Partitions))}
		}
	}
	bounds := map[tp]partBounds{}
	if len(parts) == 0 {
		return metas, bounds, nil
	}
	list := func(ts int64) (map[tp]int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		byTopic := map[string][]int32{}
		for _, k := range parts {
			byTopic[k.topic] = append(byTopic[k.topic], k.partition)
		}
		names := make([]string, 0, len(byTopic))
		for t := range byTopic {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = t
			for _, p := range byTopic[t] {
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Partition = p
				rp.CurrentLeaderEpoch = -1
				rp.Timestamp = ts
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return nil, fmt.Errorf("sources: kafka list offsets: %w", err)
		}
		out := map[tp]int64{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					out[tp{t.Topic, p.Partition}] = p.Offset
				}
			}
		}
		return out, nil
	}
	starts, err := list(-2) // earliest
	if err != nil {
		return nil, nil, err
	}
	ends, err := list(-1) // latest: the high-water mark
	if err != nil {
		return nil, nil, err
	}
	for k, s := range starts {
		if e, ok := ends[k]; ok {
			bounds[k] = partBounds{logStart: s, hwm: e}
		}
	}
	return metas, bounds, nil
}

// isOffsetFetchError reports whether a fetch error calls for an offset
// check at once: the position is out of range, or the topic or partition
// is unknown (deleted).
func isOffsetFetchError(err error) bool {
	return errors.Is(err, kerr.OffsetOutOfRange) || errors.Is(err, kerr.UnknownTopicOrPartition) ||
		errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.InconsistentTopicID)
}
