package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// maxGroupCommit bounds the writes one transaction of the group committer
// takes.
const maxGroupCommit = 64

// errStoreClosed is returned by writes after Close.
var errStoreClosed = errors.New("store closed")

// groupCommitter runs the login path's replay-state writes (the versioned
// conditional UPDATEs) on the login connection. A write that finds the
// committer idle runs alone, in its own implicit transaction. Writes that
// arrive while it is busy are taken together, up to maxGroupCommit, into
// one transaction: each UPDATE still decides by its own condition, in
// order, and sees the ones before it (the same code twice: the second
// matches nothing), and no caller learns its result before the COMMIT is
// done, so a login is still accepted only after its write is durable. An
// error anywhere fails every write of the transaction (none is applied).
//
// Measured with otpgate bench (RADIUS PIN+HOTP, concurrency 32): about a
// sixth more logins per second, since a transaction costs SQLite's locks,
// WAL frame and commit once for the group.
type groupCommitter struct {
	s     *SQLite
	reqs  chan *commitReq // unbuffered: a send waits for the committer
	stop  chan struct{}
	done  chan struct{}
	close sync.Once
}

type commitReq struct {
	query string
	args  []any
	n     int64
	err   error
	done  chan struct{}
	// state: reqQueued until the committer takes the write for execution
	// (reqTaken) or the caller gives up waiting (reqAbandoned).
	state atomic.Int32
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

func newGroupCommitter(s *SQLite) *groupCommitter {
	g := &groupCommitter{s: s, reqs: make(chan *commitReq), stop: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// exec runs one conditional write and returns the rows it changed. Until
// the committer starts the write (it first waits for the login
// connection), ctx may end the wait and the write is then never made;
// once started, exec waits for the outcome (the write may commit).
func (g *groupCommitter) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r := &commitReq{query: query, args: args, done: make(chan struct{})}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-g.stop:
		return 0, errStoreClosed
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return 0, ctx.Err()
		}
		<-r.done
	}
	return r.n, r.err
}

// shutdown stops the committer after the transaction in progress.
func (g *groupCommitter) shutdown() {
	g.close.Do(func() { close(g.stop) })
	<-g.done
}

func (g *groupCommitter) run() {
	defer close(g.done)
	batch := make([]*commitReq, 0, maxGroupCommit)
	for {
		select {
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		case <-g.stop:
			return
		}
		// Before committing, yield twice so that workers about to hand in
		// a write can join: batches grew from 1.8 writes on average, and
		// otpgate bench (RADIUS, c=32, alternating builds) showed about a
		// tenth more logins per second for a tenth less CPU per login.
		// With nothing else runnable a yield returns at once.
		yields := 0
	fill:
		for len(batch) < maxGroupCommit {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				if yields == 2 {
					break fill
				}
				yields++
				runtime.Gosched()
			}
		}
		g.commit(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

// commit runs batch: one write alone, several in one transaction. It
// prepares the statements, takes the login connection (sqlStore.login),
// then starts each write its caller still waits for.
func (g *groupCommitter) commit(batch []*commitReq) {
	ctx := context.Background() // a local write is bounded by busy_timeout
	stmts := make([]*sql.Stmt, 0, len(batch))
	run := make([]*commitReq, 0, len(batch))
	for _, r := range batch {
		st, err := g.s.stmt(ctx, r.query)
		if err != nil {
			r.err = err
			continue
		}
		stmts, run = append(stmts, st), append(run, r)
	}
	g.s.login <- struct{}{}
	defer func() { <-g.s.login }()
	started := run[:0]
	startedStmts := stmts[:0]
	for i, r := range run {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			started, startedStmts = append(started, r), append(startedStmts, stmts[i])
		}
	}
	switch len(started) {
	case 0:
	case 1:
		started[0].n, started[0].err = g.s.execStmt(ctx, startedStmts[0], started[0].args...)
	default:
		if err := g.commitTx(ctx, started, startedStmts); err != nil {
			for _, r := range started {
				r.n, r.err = 0, fmt.Errorf("group commit of %d writes: %w", len(started), err)
			}
		}
	}
}

// commitTx runs the writes in one transaction, holding the login
// connection.
func (g *groupCommitter) commitTx(ctx context.Context, batch []*commitReq, stmts []*sql.Stmt) (err error) {
	tx, err := g.s.hot.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for i, r := range batch {
		res, err := tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, r.args...)
		if err != nil {
			return err
		}
		if r.n, err = res.RowsAffected(); err != nil {
			return err
		}
	}
	return tx.Commit()
}
