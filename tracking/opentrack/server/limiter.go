package server

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per client: an IPv4 address or an IPv6 /64 (one
// host usually owns a whole /64, so per-address IPv6 limits are easy to dodge).
// The buckets are spread over shards, each with its own lock, so that
// concurrent hits from different clients rarely wait for each other.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	seed   maphash.Seed // random: a client cannot pick which shard it lands in
	shards [limiterShards]limiterShard
}

const limiterShards = 32

type limiterShard struct {
	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
	_       [40]byte // keep neighbouring shards' locks off one cache line
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets caps memory under a flood from many addresses; beyond it the
// idle buckets of the shard are swept at once.
const maxBuckets = 1 << 18

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	l := &limiter{rate: rate, burst: float64(burst), now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[netip.Prefix]*bucket{}
	}
	return l
}

func limitKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 32
	}
	p, _ := a.Prefix(bits)
	return p
}

func (l *limiter) allow(a netip.Addr) bool {
	k := limitKey(a)
	now := l.now()
	sh := &l.shards[maphash.Comparable(l.seed, k)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, ok := sh.buckets[k]
	if !ok {
		if len(sh.buckets) >= maxBuckets/limiterShards {
			l.sweepLocked(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.buckets[k] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have refilled completely: they behave exactly
// like new ones.
func (l *limiter) sweep() {
	now := l.now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		l.sweepLocked(sh, now)
		sh.mu.Unlock()
	}
}

func (l *limiter) sweepLocked(sh *limiterShard, now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range sh.buckets {
		if now.Sub(b.last) >= full {
			delete(sh.buckets, k)
		}
	}
}

// size is the number of buckets kept (for tests).
func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}
