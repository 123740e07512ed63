package radiussrv

import "sync/atomic"

// Stats is a snapshot of the listener's counters since New. Each field only
// grows. A datagram is counted under at most one Dropped* cause.
type Stats struct {
	// DroppedUnknownClient: the source address is in no client's network.
	DroppedUnknownClient uint64
	// DroppedBadAuthenticator: the Message-Authenticator did not verify —
	// a wrong shared secret or a forgery. The engine was not called.
	DroppedBadAuthenticator uint64
	// DroppedMissingMA: no Message-Authenticator where the client's policy
	// or RFC 5997 (Status-Server) requires one.
	DroppedMissingMA uint64
	// DroppedProxyStateNoMA: Proxy-State without Message-Authenticator
	// (the BlastRADIUS attack shape).
	DroppedProxyStateNoMA uint64
	// DroppedMalformed: unparsable datagrams, codes other than
	// Access-Request and Status-Server, and malformed Message-Authenticator
	// attributes.
	DroppedMalformed uint64
	// DroppedOverload: MaxInFlight requests were already being processed.
	DroppedOverload uint64
	// DroppedPanic: the request path panicked; the panic was logged.
	DroppedPanic uint64
	// DroppedInFlight: a retransmit of a request still being processed.
	DroppedInFlight uint64
	// DroppedUnavailable: the engine could not decide; no reply was sent so
	// that the NAS fails over.
	DroppedUnavailable uint64
	// DuplicatesFromCache: retransmits answered from the reply cache.
	DuplicatesFromCache uint64
	// ChallengesIssued: Access-Challenge replies with a fresh State.
	ChallengesIssued uint64
	// StateRejects: Access-Requests refused because their State was
	// unknown, expired, already used or bound to someone else.
	StateRejects uint64
	// RepliesAccept, RepliesReject, RepliesChallenge count the replies to
	// Access-Requests by code (cached resends excluded).
	RepliesAccept    uint64
	RepliesReject    uint64
	RepliesChallenge uint64
	// StatusServerReplies counts Access-Accepts answering Status-Server.
	StatusServerReplies uint64
}

// event is one counted thing that happens to a datagram.
type event int

const (
	evUnknownClient event = iota
	evBadAuthenticator
	evMissingMA
	evProxyStateNoMA
	evMalformed
	evOverload
	evPanic
	evInFlight
	evUnavailable
	evCacheHit
	evChallenge
	evStateReject
	evAccept
	evReject
	evChallengeReply
	evStatusReply
	evSocketClosed // not a counter: Serve stopped reading (tests wait for it)
	numEvents
)

// counters holds one atomic counter per event.
type counters [numEvents]atomic.Uint64

func (c *counters) snapshot() Stats {
	return Stats{
		DroppedUnknownClient:    c[evUnknownClient].Load(),
		DroppedBadAuthenticator: c[evBadAuthenticator].Load(),
		DroppedMissingMA:        c[evMissingMA].Load(),
		DroppedProxyStateNoMA:   c[evProxyStateNoMA].Load(),
		DroppedMalformed:        c[evMalformed].Load(),
		DroppedOverload:         c[evOverload].Load(),
		DroppedPanic:            c[evPanic].Load(),
		DroppedInFlight:         c[evInFlight].Load(),
		DroppedUnavailable:      c[evUnavailable].Load(),
		DuplicatesFromCache:     c[evCacheHit].Load(),
		ChallengesIssued:        c[evChallenge].Load(),
		StateRejects:            c[evStateReject].Load(),
		RepliesAccept:           c[evAccept].Load(),
		RepliesReject:           c[evReject].Load(),
		RepliesChallenge:        c[evChallengeReply].Load(),
		StatusServerReplies:     c[evStatusReply].Load(),
	}
}
