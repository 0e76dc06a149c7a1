package loadgen

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/viewd/viewd/repr"
)

// nexmark is NEXMARK's online auction: persons, auctions and bids in the
// benchmark's proportions (of every 50 events, 1 person, 3 auctions, 46
// bids). Auctions are sold by existing persons; bids go to existing
// auctions by existing persons.
type nexmark struct {
	opts    Options
	rng     *rand.Rand
	event   int64
	persons int64
	auctns  int64
}

const (
	nexPerson = iota
	nexAuction
	nexBid
	nexEventsPerTick = 10
)

var (
	nexCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	nexStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	nexChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
)

func newNexmark(opts Options) *nexmark {
	return &nexmark{opts: opts, rng: rand.New(rand.NewSource(opts.Seed))}
}

func (n *nexmark) collections() []Collection {
	ts := repr.TypeTimestampTz
	return []Collection{
		{Name: "person", Desc: desc([]int{0}, "id", repr.TypeInt8, "name", repr.TypeText, "email_address", repr.TypeText, "credit_card", repr.TypeText,
			"city", repr.TypeText, "state", repr.TypeText, "date_time", ts, "extra", repr.TypeText)},
		{Name: "auction", Desc: desc([]int{0}, "id", repr.TypeInt8, "item_name", repr.TypeText, "description", repr.TypeText, "initial_bid", repr.TypeInt8,
			"reserve", repr.TypeInt8, "date_time", ts, "expires", ts, "seller", repr.TypeInt8, "category", repr.TypeInt8, "extra", repr.TypeText)},
		{Name: "bid", Desc: desc(nil, "auction", repr.TypeInt8, "bidder", repr.TypeInt8, "price", repr.TypeInt8, "channel", repr.TypeText,
			"url", repr.TypeText, "date_time", ts, "extra", repr.TypeText)},
	}
}

func (n *nexmark) tick(i int64, b *batch) {
	base := n.opts.Epoch.Add(time.Duration(i) * n.opts.TickInterval)
	for e := 0; e < nexEventsPerTick; e++ {
		at := base.Add(time.Duration(e) * n.opts.TickInterval / nexEventsPerTick)
		slot := n.event % 50
		n.event++
		switch {
		case slot == 0 || n.persons == 0:
			n.persons++
			b.insert(nexPerson, i8(n.persons), txt(fmt.Sprintf("person %d", n.persons)), txt(fmt.Sprintf("p%d@example.com", n.persons)),
				txt(fmt.Sprintf("%04d %04d %04d %04d", n.rng.Intn(10000), n.rng.Intn(10000), n.rng.Intn(10000), n.rng.Intn(10000))),
				txt(pick(n.rng, nexCities)), txt(pick(n.rng, nexStates)), tstz(at), txt(""))
		case slot <= 3 || n.auctns == 0:
			n.auctns++
			initial := int64(1 + n.rng.Intn(1000))
			b.insert(nexAuction, i8(n.auctns), txt(fmt.Sprintf("item %d", n.auctns)), txt(sentence(n.rng, 4)), i8(initial),
				i8(initial+int64(n.rng.Intn(1000))), tstz(at), tstz(at.Add(time.Duration(10+n.rng.Intn(20))*n.opts.TickInterval)),
				i8(1+n.rng.Int63n(n.persons)), i8(int64(10+n.rng.Intn(5))), txt(""))
		default:
			b.insert(nexBid, i8(1+n.rng.Int63n(n.auctns)), i8(1+n.rng.Int63n(n.persons)), i8(int64(1+n.rng.Intn(10_000))),
				txt(pick(n.rng, nexChannels)), txt(fmt.Sprintf("https://www.nexmark.com/item.htm?query=%d", n.rng.Intn(1000))), tstz(at), txt(""))
		}
	}
}
