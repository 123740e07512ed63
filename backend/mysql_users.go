package backend

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/otpgate/otpgate/verify"
)

// The MySQL store runs the same user statements as the SQLite store
// (qUserByName and friends in sqlite_users.go): the SQL is portable, and
// clientFoundRows makes the affected-row counts mean the same.

// CreateUser inserts u (its ID is ignored; an empty Level becomes
// verify.LevelOff; FailCount and LastFailure are stored as given) and
// returns it with ID, CreatedAt and UpdatedAt set to the store's clock,
// truncated to whole seconds as stored. A taken name gives an error
// wrapping verify.ErrExists.
func (s *MySQL) CreateUser(ctx context.Context, u verify.User) (verify.User, error) {
	if u.Level == "" {
		u.Level = verify.LevelOff
	}
	now := fromUnix(s.nowUnix())
	u.CreatedAt, u.UpdatedAt = now, now
	if len(u.PINHash) == 0 {
		u.PINHash = nil
	}
	var res sql.Result
	err := s.retry.do(ctx, func() (err error) {
		res, err = s.db.ExecContext(ctx, qInsertUser, u.Name, u.PasswordHash, pinArg(u.PINHash),
			u.Level, u.FailCount, unixTime(u.LastFailure), unixTime(now), unixTime(now))
		return err
	})
	if err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, mapMySQLErr(err))
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return verify.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	u.LastFailure = fromUnix(unixTime(u.LastFailure))
	return u, nil
}
