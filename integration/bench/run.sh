#!/usr/bin/env bash
# Side-by-side benchmark: otpgate (RADIUS and LDAP, PIN+HOTP and password)
# against FreeRADIUS (PAP, users file) and slapd (mdb, {SSHA}), all driven
# by the same load generator ("otpgate bench") on loopback. See
# BENCHMARKS.md for how to read the output.
#
# Everything runs under a fresh temporary directory with its own ports and
# its own config; nothing system-wide is started, changed or stopped (only
# the Debian packages are installed when missing; see INSTALL). The
# directory and every process this script started are removed at exit.
#
# Environment (defaults in brackets):
#   OTPGATE      otpgate binary with the "bench" command [built from this tree]
#   USERS        users per server [1000]
#   CONC         concurrent requests [32]
#   DURATION     seconds per measurement [10]
#   WARMUP       requests sent before each measurement, not counted [500]
#   INSTALL      1: apt-get install freeradius slapd ldap-utils if missing [1]
#   FR_PORT, SLAPD_PORT, OG_RADIUS_PORT, OG_LDAP_PORT,
#   OG_PW_RADIUS_PORT, OG_PW_LDAP_PORT   [18120 13890 18121 13891 18122 13892]
#   KEEP         1: keep the temporary directory (it holds the users' secrets)
#   MYSQL        1: also measure otpgate on a MySQL/MariaDB store [0]; it
#                creates and drops the database otpgate_bench_PID as
#                MYSQL_USER [root] (no password) at MYSQL_HOST:MYSQL_PORT
#                [127.0.0.1:3306]; port OG_MY_RADIUS_PORT [18123]
set -euo pipefail

USERS=${USERS:-1000}
CONC=${CONC:-32}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-500}
INSTALL=${INSTALL:-1}
FR_PORT=${FR_PORT:-18120}
SLAPD_PORT=${SLAPD_PORT:-13890}
OG_RADIUS_PORT=${OG_RADIUS_PORT:-18121}
OG_LDAP_PORT=${OG_LDAP_PORT:-13891}
OG_PW_RADIUS_PORT=${OG_PW_RADIUS_PORT:-18122}
OG_PW_LDAP_PORT=${OG_PW_LDAP_PORT:-13892}
OG_MY_RADIUS_PORT=${OG_MY_RADIUS_PORT:-18123}
OG_MY_LDAP_PORT=${OG_MY_LDAP_PORT:-13893}
MYSQL=${MYSQL:-0}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_DB=otpgate_bench_$$
SECRET=testing123 # loopback-only throw-away shared secret
BASE="dc=example,dc=org"
PEOPLE="ou=people,$BASE"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/otpgate-bench.XXXXXX)
chmod 700 "$WORK"
PIDS=()
CLK_TCK=$(getconf CLK_TCK)

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ $MYSQL == 1 ]]; then
		mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "DROP DATABASE IF EXISTS $MYSQL_DB" 2>/dev/null || true
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		log "kept $WORK (it holds the benchmark users' secrets)"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# stop PID: end one process this script started.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

install_packages() {
	if command -v freeradius >/dev/null && command -v slapd >/dev/null && command -v slapadd >/dev/null &&
		command -v slappasswd >/dev/null; then
		return 0
	fi
	[[ $INSTALL == 1 ]] || { log "freeradius/slapd missing and INSTALL=0"; return 1; }
	log "installing freeradius slapd ldap-utils"
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 apt-get update -q >"$WORK/apt.log" 2>&1 &&
		timeout 600 apt-get install -y -q --no-install-recommends freeradius slapd ldap-utils >>"$WORK/apt.log" 2>&1 ||
		{ log "apt-get failed: $(tail -3 "$WORK/apt.log")"; return 1; }
}

build_otpgate() {
	if [[ -z ${OTPGATE:-} ]]; then
		log "building otpgate"
		(cd "$REPO" && mkdir -p "$WORK/bin" && timeout 600 go build -o "$WORK/bin/otpgate" ./cmd/otpgate)
		OTPGATE=$WORK/bin/otpgate
	fi
	local out
	out=$("$OTPGATE" bench 2>&1 || true)
	if [[ $out != *"bench seed"* ]]; then
		die "$OTPGATE has no 'bench' command"
	fi
}

# bench NAME ARGS...: one warm-up and one measured run of the load
# generator; the report goes to $WORK/results/NAME.txt.
bench() {
	local name=$1 pid=$2
	shift 2
	mkdir -p "$WORK/results"
	if ((WARMUP > 0)); then
		timeout 120 "$OTPGATE" bench "$@" -c "$CONC" -n "$WARMUP" -d 5s >/dev/null
	fi
	local before after
	before=$(cpu_ticks "$pid")
	timeout $((DURATION + 60)) "$OTPGATE" bench "$@" -c "$CONC" -d "${DURATION}s" >"$WORK/results/$name.txt"
	after=$(cpu_ticks "$pid")
	echo "server_cpu_ticks $((after - before))" >>"$WORK/results/$name.txt"
	log "$name: $(head -2 "$WORK/results/$name.txt" | tail -1)"
}

# cpu_ticks PID: utime+stime of PID in clock ticks (/proc/PID/stat fields
# 14 and 15, counted after the ")" that ends the command name).
cpu_ticks() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) }
	awk '{print $12 + $13}' <<<"$stat"
}

# wait_accept ARGS...: poll with single requests (at most 20 s) until the
# server accepts one.
wait_accept() {
	local i out
	for i in $(seq 100); do
		out=$("$OTPGATE" bench "$@" -n 1 -c 1 --timeout 500ms 2>/dev/null || true)
		if [[ $out == *"accepts 1 "* ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

start_otpgate() { # DIR RADIUS_PORT LDAP_PORT SERVICE [STORE_TOML]
	local dir=$1 store=${5:-}
	[[ -n $store ]] || store='path = "otpgate.db"'
	cat >"$dir/otpgate.toml" <<-EOF
		key_file = "otpgate.key"
		[store]
		$store
		[log]
		audit = "stdout"
		[radius]
		listen = ["127.0.0.1:$2"]
		[[radius.clients]]
		name = "bench"
		network = "127.0.0.0/8"
		secret = "$SECRET"
		service = "$4"
		[ldap]
		listen = ["127.0.0.1:$3"]
		service = "$4"
	EOF
	(cd "$dir" && exec "$OTPGATE" serve >/dev/null 2>"$dir/serve.log") &
	OG_PID=$!
	PIDS+=("$OG_PID")
	local i
	for i in $(seq 150); do
		grep -q '"otpgate ready"' "$dir/serve.log" 2>/dev/null && return 0
		kill -0 "$OG_PID" 2>/dev/null || break
		sleep 0.2
	done
	die "otpgate serve did not start: $(tail -3 "$dir/serve.log")"
}

run_otpgate() {
	local dir=$WORK/otpgate
	mkdir -p "$dir"
	log "seeding $USERS otpgate users (argon2id passwords, PIN, HOTP)"
	(cd "$dir" && timeout 900 "$OTPGATE" bench seed --users "$USERS" --file "$WORK/users.csv" >"$dir/seed.log" 2>&1) ||
		die "seed failed: $(tail -3 "$dir/seed.log")"
	start_otpgate "$dir" "$OG_RADIUS_PORT" "$OG_LDAP_PORT" webmail
	local f=(--file "$WORK/users.csv")
	wait_accept radius --addr "127.0.0.1:$OG_RADIUS_PORT" "${f[@]}" || die "otpgate radius does not accept"
	bench otpgate-radius-pinotp "$OG_PID" radius --addr "127.0.0.1:$OG_RADIUS_PORT" "${f[@]}"
	bench otpgate-ldap-pinotp-persistent "$OG_PID" ldap --addr "127.0.0.1:$OG_LDAP_PORT" "${f[@]}"
	bench otpgate-ldap-pinotp-newconn "$OG_PID" ldap --addr "127.0.0.1:$OG_LDAP_PORT" --new-conn "${f[@]}"
	stop "$OG_PID"
	# The same users and store, service imap: the argon2id account password.
	start_otpgate "$dir" "$OG_PW_RADIUS_PORT" "$OG_PW_LDAP_PORT" imap
	f+=(--mode password)
	bench otpgate-radius-password "$OG_PID" radius --addr "127.0.0.1:$OG_PW_RADIUS_PORT" "${f[@]}"
	bench otpgate-ldap-password-persistent "$OG_PID" ldap --addr "127.0.0.1:$OG_PW_LDAP_PORT" "${f[@]}"
	stop "$OG_PID"
}

# run_mysql: otpgate on a fresh MySQL/MariaDB database, PIN+HOTP. The
# users share one account password (hashed once; only the PIN and OTP are
# checked here), so seeding takes seconds.
run_mysql() {
	local dir=$WORK/otpgate-mysql
	mkdir -p "$dir"
	mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" -e "CREATE DATABASE $MYSQL_DB" ||
		{ log "cannot create database $MYSQL_DB"; return 1; }
	local store
	store=$(printf 'driver = "mysql"\nhost = "%s"\nport = %s\nuser = "%s"\ndatabase = "%s"' \
		"$MYSQL_HOST" "$MYSQL_PORT" "$MYSQL_USER" "$MYSQL_DB")
	cat >"$dir/otpgate.toml" <<-EOF
		key_file = "otpgate.key"
		[store]
		$store
	EOF
	log "seeding $USERS otpgate users in MySQL database $MYSQL_DB"
	(cd "$dir" && timeout 900 "$OTPGATE" bench seed --users "$USERS" --shared-password \
		--file "$dir/users.csv" >"$dir/seed.log" 2>&1) || { log "seed failed: $(tail -3 "$dir/seed.log")"; return 1; }
	start_otpgate "$dir" "$OG_MY_RADIUS_PORT" "$OG_MY_LDAP_PORT" webmail "$store"
	local f=(--file "$dir/users.csv")
	wait_accept radius --addr "127.0.0.1:$OG_MY_RADIUS_PORT" "${f[@]}" || { log "otpgate on MySQL does not accept"; return 1; }
	bench otpgate-mysql-radius-pinotp "$OG_PID" radius --addr "127.0.0.1:$OG_MY_RADIUS_PORT" "${f[@]}"
	bench otpgate-mysql-ldap-pinotp-persistent "$OG_PID" ldap --addr "127.0.0.1:$OG_MY_LDAP_PORT" "${f[@]}"
	stop "$OG_PID"
}

run_freeradius() {
	local dir=$WORK/freeradius
	mkdir -p "$dir/log" "$dir/run"
	awk -F, 'NR > 1 { printf "%s Cleartext-Password := \"%s\"\n", $1, $2 }' "$WORK/users.csv" >"$dir/users"
	: >"$dir/dictionary"
	sed "s|@DIR@|$dir|g; s|@PORT@|$FR_PORT|g; s|@SECRET@|$SECRET|g" \
		"$REPO/integration/bench/radiusd.conf.in" >"$dir/radiusd.conf"
	freeradius -f -d "$dir" >"$dir/stdout.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	local f=(--file "$WORK/users.csv" --mode password --secret-file "$dir/secret")
	printf '%s\n' "$SECRET" >"$dir/secret"
	wait_accept radius --addr "127.0.0.1:$FR_PORT" "${f[@]}" ||
		{ log "freeradius did not start: $(tail -5 "$dir/stdout.log" "$dir/log/radius.log" 2>/dev/null)"; return 1; }
	bench freeradius-radius-password "$pid" radius --addr "127.0.0.1:$FR_PORT" "${f[@]}"
	stop "$pid"
}

run_slapd() {
	local dir=$WORK/slapd
	mkdir -p "$dir/db"
	sed "s|@DIR@|$dir|g; s|@BASE@|$BASE|g" "$REPO/integration/bench/slapd.conf.in" >"$dir/slapd.conf"
	log "hashing $USERS {SSHA} passwords for slapd"
	make_ldif "$dir" >"$dir/data.ldif"
	slapadd -q -f "$dir/slapd.conf" -l "$dir/data.ldif" 2>"$dir/slapadd.log" ||
		{ log "slapadd failed: $(tail -3 "$dir/slapadd.log")"; return 1; }
	slapd -h "ldap://127.0.0.1:$SLAPD_PORT/" -f "$dir/slapd.conf" -d 0 >"$dir/slapd.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	local f=(--addr "127.0.0.1:$SLAPD_PORT" --file "$WORK/users.csv" --mode password)
	wait_accept ldap "${f[@]}" || { log "slapd did not start: $(tail -5 "$dir/slapd.log")"; return 1; }
	bench slapd-ldap-password-persistent "$pid" ldap "${f[@]}"
	bench slapd-ldap-password-newconn "$pid" ldap --new-conn "${f[@]}"
	stop "$pid"
}

# make_ldif DIR: the base, ou=people and one inetOrgPerson per user with
# an {SSHA} userPassword; the password reaches slappasswd in a file.
make_ldif() {
	local pwfile=$1/pw name password rest
	printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example\n\n' "$BASE"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: people\n\n' "$PEOPLE"
	while IFS=, read -r name password rest; do
		[[ $name == name ]] && continue
		(umask 077 && printf '%s' "$password" >"$pwfile")
		printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
			"$name" "$PEOPLE" "$name" "$name" "$name" "$(slappasswd -h '{SSHA}' -T "$pwfile")"
	done <"$WORK/users.csv"
	rm -f "$pwfile"
}

# summary: one Markdown table of all results.
summary() {
	echo "$USERS users, concurrency $CONC, ${DURATION}s per run, $(nproc) CPUs shared by servers and load generator"
	echo
	echo "| run | req/s | p50 | p99 | accepts | rejects | errors | timeouts | server CPU/req | generator CPU/req |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	local name r
	for name in otpgate-radius-pinotp freeradius-radius-password otpgate-mysql-radius-pinotp otpgate-radius-password \
		otpgate-ldap-pinotp-persistent slapd-ldap-password-persistent otpgate-mysql-ldap-pinotp-persistent \
		otpgate-ldap-password-persistent \
		otpgate-ldap-pinotp-newconn slapd-ldap-password-newconn; do
		r=$WORK/results/$name.txt
		[[ -f $r ]] || continue
		awk -v name="$(basename "$r" .txt)" -v tck="$CLK_TCK" '
			/^requests/ { n = $2; rate = $5 }
			/^accepts/ { a = $2; rj = $4; e = $6; t = $8 }
			/^latency/ { p50 = $3; p99 = $5 }
			/^load generator/ { gen = $6 }
			/^server_cpu_ticks/ { ticks = $2 }
			END { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %.0fµs | %s |\n",
				name, rate, p50, p99, a, rj, e, t, n ? ticks / tck / n * 1e6 : 0, gen }' "$r"
	done
}

main() {
	log "work dir $WORK; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	build_otpgate
	local have_others=1
	install_packages || have_others=0
	run_otpgate
	if [[ $MYSQL == 1 ]]; then
		run_mysql || log "MySQL measurement skipped"
	fi
	if ((have_others)); then
		run_freeradius || log "FreeRADIUS measurement skipped"
		run_slapd || log "slapd measurement skipped"
	fi
	log "load average $(cut -d' ' -f1-3 /proc/loadavg)"
	summary
}

main "$@"
