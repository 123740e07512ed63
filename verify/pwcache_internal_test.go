package verify

import (
	"fmt"
	"testing"
	"time"
)

// matchAll is Credentials whose every password matches.
type matchAll struct{ Credentials }

func (matchAll) CheckPassword(string, Secret) bool { return true }

func TestPasswordCacheIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	p, err := NewPasswordCache(matchAll{}, time.Minute, 16, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		p.CheckPassword(fmt.Sprintf("hash %d", i), "pw")
		if len(p.seen) > 16 {
			t.Fatalf("after %d matches the cache holds %d entries, over its 16", i+1, len(p.seen))
		}
	}
	if _, ok := p.seen[p.mac("hash 99", "pw")]; !ok {
		t.Fatal("the newest match was dropped")
	}
	// Fill it, then let everything expire: the next insert drops the
	// expired entries rather than live ones.
	for i := 0; len(p.seen) < 16; i++ {
		p.CheckPassword(fmt.Sprintf("more %d", i), "pw")
	}
	now = now.Add(time.Minute)
	p.CheckPassword("fresh", "pw")
	if len(p.seen) != 1 {
		t.Fatalf("%d entries after the others expired, want 1", len(p.seen))
	}
}
