// Package backend holds the persistence behind the engine: the SQLite store
// and MySQL/MariaDB, each implementing verify.Store and manage.Store and each
// passing the conformance suite in backend/storetest.
//
// Conventions every store follows, so that a database can move between
// backends and several otpgate instances can share one:
//
//   - Times are stored as unix seconds in INTEGER columns; 0 means "never"
//     and reads back as the zero time.Time. Times read back are in UTC.
//   - Token secrets (Key and DevicePIN) are stored only sealed, as one blob
//     produced by a Sealer with the token's id as associated data (see
//     TokenAD), so a blob copied to another row does not open.
//   - Replay and lockout state changes are single conditional statements
//     whose affected-row count decides races (see verify.Store).
//   - Not-found outcomes wrap verify.ErrNotFound; unique-key violations wrap
//     verify.ErrExists. Errors never contain secret bytes.
package backend
