package loadgen

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/viewd/viewd/repr"
)

// auction is AUCTION, Materialize's auction house: organizations, users
// (members of an organization), accounts (one per organization), auctions
// (sold by a user, open for a while) and bids (by a user, on an open
// auction, before it ends). Every foreign key points at an existing row.
type auction struct {
	opts     Options
	rng      *rand.Rand
	users    int64
	nextAuct int64
	nextBid  int64
	open     []openAuction
}

type openAuction struct {
	id  int64
	end time.Time
}

const (
	auctionOrgs          = 10
	auctionUsersPerOrg   = 10
	auctionLifetimeTicks = 10
)

const (
	colOrganizations = iota
	colUsers
	colAccounts
	colAuctions
	colBids
)

var auctionItems = []string{"Signed Memorabilia", "City Bar Crawl", "Best Pizza in Town", "Gift Basket", "Custom Art"}

func newAuction(opts Options) *auction {
	return &auction{opts: opts, rng: rand.New(rand.NewSource(opts.Seed))}
}

func (a *auction) collections() []Collection {
	return []Collection{
		{Name: "organizations", Desc: desc([]int{0}, "id", repr.TypeInt8, "name", repr.TypeText)},
		{Name: "users", Desc: desc([]int{0}, "id", repr.TypeInt8, "org_id", repr.TypeInt8, "name", repr.TypeText)},
		{Name: "accounts", Desc: desc([]int{0}, "id", repr.TypeInt8, "org_id", repr.TypeInt8, "balance", repr.TypeInt8)},
		{Name: "auctions", Desc: desc([]int{0}, "id", repr.TypeInt8, "seller", repr.TypeInt8, "item", repr.TypeText, "end_time", repr.TypeTimestampTz)},
		{Name: "bids", Desc: desc([]int{0}, "id", repr.TypeInt8, "buyer", repr.TypeInt8, "auction_id", repr.TypeInt8, "amount", repr.TypeInt4, "bid_time", repr.TypeTimestampTz)},
	}
}

func (a *auction) tick(i int64, b *batch) {
	now := a.opts.Epoch.Add(time.Duration(i) * a.opts.TickInterval)
	if i == 0 {
		for o := int64(1); o <= auctionOrgs; o++ {
			b.insert(colOrganizations, i8(o), txt(fmt.Sprintf("org-%d", o)))
			b.insert(colAccounts, i8(o), i8(o), i8(int64(a.rng.Intn(10_000))))
			for u := int64(0); u < auctionUsersPerOrg; u++ {
				a.users++
				b.insert(colUsers, i8(a.users), i8(o), txt(fmt.Sprintf("user-%d", a.users)))
			}
		}
	}
	// Close auctions that have ended.
	live := a.open[:0]
	for _, oa := range a.open {
		if oa.end.After(now) {
			live = append(live, oa)
		}
	}
	a.open = live
	// A new auction each tick.
	a.nextAuct++
	end := now.Add(time.Duration(auctionLifetimeTicks) * a.opts.TickInterval)
	b.insert(colAuctions, i8(a.nextAuct), i8(1+a.rng.Int63n(a.users)), txt(pick(a.rng, auctionItems)), tstz(end))
	a.open = append(a.open, openAuction{id: a.nextAuct, end: end})
	// Bids on open auctions.
	for n := a.rng.Intn(4); n > 0; n-- {
		oa := pick(a.rng, a.open)
		a.nextBid++
		b.insert(colBids, i8(a.nextBid), i8(1+a.rng.Int63n(a.users)), i8(oa.id), i4(int64(1+a.rng.Intn(100))), tstz(now))
	}
}
