package backend

import (
	"context"
	"crypto/tls"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/otpgate/otpgate/verify"
	"github.com/otpgate/otpgate/verify/manage"
)

// The MySQL store implements both store interfaces.
var (
	_ verify.Store = (*MySQL)(nil)
	_ manage.Store = (*MySQL)(nil)
)

// Defaults applied by OpenMySQL to zero MySQLOptions fields.
const (
	DefaultMySQLHost            = "127.0.0.1"
	DefaultMySQLPort            = 3306
	DefaultMySQLDialTimeout     = 5 * time.Second
	DefaultMySQLReadTimeout     = 30 * time.Second
	DefaultMySQLWriteTimeout    = 30 * time.Second
	DefaultMySQLMaxOpenConns    = 32
	DefaultMySQLConnMaxLifetime = 5 * time.Minute
	DefaultMySQLConnMaxIdleTime = time.Minute
)

// MySQL error numbers the store branches on.
const (
	mysqlErrLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	mysqlErrDeadlock        = 1213 // ER_LOCK_DEADLOCK
	mysqlErrDuplicateKey    = 1062 // ER_DUP_ENTRY
	mysqlErrNoReferencedRow = 1452 // ER_NO_REFERENCED_ROW_2: foreign key fails on insert
)

// mysqlSQLMode is set on every connection: strict, so an over-long or
// invalid value is an error instead of being truncated, and no silent
// fallback from InnoDB to another engine.
const mysqlSQLMode = "'TRADITIONAL'"

// MySQLOptions configures OpenMySQL. Zero fields take the defaults named.
type MySQLOptions struct {
	// Host is a host name or IP address (default DefaultMySQLHost), or an
	// absolute path to a unix socket, in which case Port is ignored.
	Host string
	// Port defaults to DefaultMySQLPort.
	Port int
	// User and Password authenticate; Password may be empty.
	User     string
	Password string
	// Database is the schema otpgate owns. Required; it must exist.
	Database string
	// TLS, when set, is required for every connection (no plaintext
	// fallback). An empty ServerName is filled in from Host. nil means no
	// TLS. The store keeps its own copy.
	TLS *tls.Config
	// DialTimeout bounds connecting (default DefaultMySQLDialTimeout).
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout bound each network read and write of a
	// statement (defaults DefaultMySQLReadTimeout, DefaultMySQLWriteTimeout).
	// They are a backstop for calls without a deadline; a request's ctx
	// deadline is honoured independently. Migrate does not use them.
	ReadTimeout, WriteTimeout time.Duration
	// MaxOpenConns caps the pool (default DefaultMySQLMaxOpenConns);
	// MaxIdleConns defaults to MaxOpenConns.
	MaxOpenConns, MaxIdleConns int
	// ConnMaxLifetime (default DefaultMySQLConnMaxLifetime) must stay below
	// the server's wait_timeout and any proxy idle timeout, so the pool
	// replaces connections before they are cut; ConnMaxIdleTime defaults to
	// DefaultMySQLConnMaxIdleTime.
	ConnMaxLifetime, ConnMaxIdleTime time.Duration
	// Sealer seals and opens token secrets. Required.
	Sealer Sealer
	// Now stamps created_at and updated_at. nil means time.Now.
	Now func() time.Time
	// Log receives the driver's own messages (broken connections and the
	// like), rate-limited. nil means slog.Default().
	Log *slog.Logger
}

// MySQL is the production store: a pool of connections to one MySQL or
// MariaDB database, safe for concurrent use and for sharing the database
// with other otpgate instances (all replay and lockout state is decided by
// conditional statements in the database). The pool replaces broken
// connections by itself, so the store keeps working after an outage
// without being reopened.
type MySQL struct {
	database    string
	migrateConn driver.Connector // like db's, without read/write timeouts
	sealer      Sealer
	retry       retryPolicy

	sqlStore
}

// OpenMySQL builds the connection pool described by opts (parseTime, UTC,
// clientFoundRows so affected-row counts mean "rows matched" as on SQLite,
// utf8mb4, strict sql_mode) and connects once, within ctx, to check the
// address, credentials and database. It does not migrate: call Migrate
// before using the store.
func OpenMySQL(ctx context.Context, opts MySQLOptions) (*MySQL, error) {
	if opts.Sealer == nil {
		return nil, errors.New("open mysql: no sealer")
	}
	if opts.Database == "" {
		return nil, errors.New("open mysql: no database name")
	}
	opts = opts.withDefaults()
	cfg := opts.driverConfig()
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	migrateCfg := cfg.Clone()
	migrateCfg.ReadTimeout, migrateCfg.WriteTimeout = 0, 0
	migrateConn, err := mysql.NewConnector(migrateCfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	db.SetConnMaxIdleTime(opts.ConnMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open mysql %s/%s: %w", cfg.Addr, opts.Database, err)
	}
	s := &MySQL{sqlStore: newSQLStore(db, db, opts.Now), database: opts.Database, migrateConn: migrateConn,
		sealer: opts.Sealer, retry: defaultRetryPolicy}
	s.mustMatch, s.writeRepeatable, s.tokenScan = s.execMustMatch, s.execRetried, s.tokenScanner
	return s, nil
}

// withDefaults fills in the zero fields.
func (o MySQLOptions) withDefaults() MySQLOptions {
	setDefault(&o.Host, DefaultMySQLHost)
	setDefault(&o.Port, DefaultMySQLPort)
	setDefault(&o.DialTimeout, DefaultMySQLDialTimeout)
	setDefault(&o.ReadTimeout, DefaultMySQLReadTimeout)
	setDefault(&o.WriteTimeout, DefaultMySQLWriteTimeout)
	setDefault(&o.MaxOpenConns, DefaultMySQLMaxOpenConns)
	setDefault(&o.MaxIdleConns, o.MaxOpenConns)
	setDefault(&o.ConnMaxLifetime, DefaultMySQLConnMaxLifetime)
	setDefault(&o.ConnMaxIdleTime, DefaultMySQLConnMaxIdleTime)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// setDefault sets *v to def when it is the zero value.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// driverConfig translates the options into the driver's configuration.
// The driver's logger and TLS settings are per configuration, so nothing
// process-wide (mysql.SetLogger, mysql.RegisterTLSConfig) is touched.
func (o MySQLOptions) driverConfig() *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = o.User, o.Password, o.Database
	if strings.HasPrefix(o.Host, "/") {
		cfg.Net, cfg.Addr = "unix", o.Host
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	}
	if o.TLS != nil {
		cfg.TLS = o.TLS.Clone() // the driver fills in ServerName
	}
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = o.DialTimeout, o.ReadTimeout, o.WriteTimeout
	cfg.ParseTime, cfg.Loc = true, time.UTC
	cfg.ClientFoundRows = true
	cfg.RejectReadOnly = true // a demoted primary drops the connection, not the write
	cfg.Params = map[string]string{"sql_mode": mysqlSQLMode}
	cfg.Logger = newDriverLogger(o.Log, o.Now)
	// The default connection collation is utf8mb4_general_ci (sent in the
	// handshake), so the connection charset is utf8mb4 without SET NAMES.
	return cfg
}

// Close closes the prepared statements and the pool. The store must not be
// used afterwards.
func (s *MySQL) Close() error {
	s.closeStatements()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close mysql: %w", err)
	}
	return nil
}

// Ping checks, within ctx, that the server answers (on a pooled or a new
// connection).
func (s *MySQL) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping mysql: %w", err)
	}
	return nil
}

// execRetried is execOne retried on deadlocks and lock-wait timeouts (see
// retryPolicy). Only for statements that are safe to run again after such
// an error, which rolled them back; never for a compare-and-set.
func (s *MySQL) execRetried(ctx context.Context, query string, args ...any) (n int64, err error) {
	err = s.retry.do(ctx, func() error {
		n, err = s.execOne(ctx, query, args...)
		return err
	})
	return n, err
}

// execMustMatch runs a retried write that must match a row: no match
// returns verify.ErrNotFound, and key violations are mapped by
// mapMySQLErr. The caller adds the operation to the error.
func (s *MySQL) execMustMatch(ctx context.Context, query string, args ...any) error {
	n, err := s.execRetried(ctx, query, args...)
	if err != nil {
		return mapMySQLErr(err)
	}
	if n == 0 {
		return verify.ErrNotFound
	}
	return nil
}

// mapMySQLErr turns a duplicate key into verify.ErrExists and a missing
// foreign-key parent into verify.ErrNotFound, keeping the driver error in
// the chain; the caller adds which name or id. Other errors pass through.
func mapMySQLErr(err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	switch me.Number {
	case mysqlErrDuplicateKey:
		return fmt.Errorf("%w (mysql %d)", verify.ErrExists, me.Number)
	case mysqlErrNoReferencedRow:
		return fmt.Errorf("%w (mysql %d)", verify.ErrNotFound, me.Number)
	}
	return err
}
