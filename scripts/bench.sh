#!/usr/bin/env bash
# Measures procfin against two anchors on this machine (docs/performance.md):
#
#   intake (POST /v1/credit-applications)  vs  pgbench TPC-B-like tps on
#   events (signed bank callbacks)             procfin's own PostgreSQL
#   read   (GET /v1/credit-applications/{id}) vs  a minimal Gin handler
#
# pgbench is initialised at a scale of at least the largest client count
# (BENCH_PGBENCH_SCALE, default that count): pgbench's documentation says
# the scale should be at least the number of clients, or it mostly measures
# update contention on its one branch row. That is the anchor the targets
# are measured against. The scale-1 anchor of earlier figures is measured
# too, in its own database, and its ratios are printed beside, so figures
# stay comparable with docs/performance-log.md. Each pgbench runs twice per
# client count, before intake and before events, and the anchor is the
# mean of the two: this machine's speed drifts.
# at 1, 8 and 32 clients (BENCH_CLIENTS), BENCH_SECONDS (default 10) per run
# after BENCH_WARMUP (default 2s), and the procfin process's peak resident
# memory (VmRSS) during the runs at the largest client count.
#
# It builds procfin, runs `procfin demo` on a private PostgreSQL cluster in
# a fresh temporary directory, listening on BENCH_ADDR (default
# 127.0.0.1:18080), and stops and removes everything at the end
# (BENCH_KEEP=1 keeps the directory, with procfin's log and each run's
# JSON report).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${BENCH_SECONDS:-10}"
warmup="${BENCH_WARMUP:-2s}"
clients_list="${BENCH_CLIENTS:-1 8 32}"
addr="${BENCH_ADDR:-127.0.0.1:18080}"
target="http://$addr"
max_clients=0
for n in $clients_list; do ((n > max_clients)) && max_clients=$n; done
scale="${BENCH_PGBENCH_SCALE:-$max_clients}"
if ((scale < max_clients)); then
	echo "BENCH_PGBENCH_SCALE=$scale is below the largest client count ($max_clients): pgbench would measure its own row contention" >&2
	exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/procfin-bench.XXXXXX")"
chmod 755 "$work" # as root, procfin's PostgreSQL runs as postgres and must enter
data="$work/data"
procfin_pid=""
sampler_pid=""

cleanup() {
	local status=$?
	if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
	if [ -n "$procfin_pid" ] && kill -0 "$procfin_pid" 2>/dev/null; then
		kill -TERM "$procfin_pid" 2>/dev/null || true # procfin stops its PostgreSQL itself
		for _ in $(seq 1 60); do kill -0 "$procfin_pid" 2>/dev/null || break; sleep 0.5; done
		if kill -0 "$procfin_pid" 2>/dev/null; then
			kill -KILL "$procfin_pid" 2>/dev/null || true
		fi
		wait "$procfin_pid" 2>/dev/null || true
	fi
	if [ -f "$data/pg/data/postmaster.pid" ]; then # procfin did not get to stop it
		local pg_ctl
		pg_ctl="$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)"
		if [ "$(id -u)" = 0 ]; then
			runuser -u postgres -- "$pg_ctl" stop -D "$data/pg/data" -m fast -w >/dev/null 2>&1 || true
		else
			"$pg_ctl" stop -D "$data/pg/data" -m fast -w >/dev/null 2>&1 || true
		fi
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "kept $work (the first 2000 lines of procfin's log: $work/procfin.log)" >&2
	else
		rm -rf "$work"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building procfin"
go build -o "$work/procfin" ./cmd/procfin
if "$work/procfin" bench --help >/dev/null 2>&1; then
	bench=("$work/procfin" bench)
else
	# cmd/procfin does not dispatch "bench" yet: the same code, on its own.
	go build -o "$work/procfin-bench" ./bench/cmd/procfin-bench
	bench=("$work/procfin-bench")
	echo "   (procfin has no bench subcommand yet: using bench/cmd/procfin-bench)"
fi

echo "== starting procfin demo at $target (data in $data)"
mkdir -p "$data"
chmod 755 "$data"
PROCFIN_ADDR="$addr" PROCFIN_DATA_DIR="$data" PROCFIN_PUBLIC_URL="$target" DATABASE_URL="" \
	"$work/procfin" demo > >(awk 'NR <= 2000 { print; fflush() }' >"$work/procfin.log") 2>&1 &
procfin_pid=$!
# The demo logs at its default level (info): an access-log line for every
# request, formatted and written by procfin as in production. The lines
# go to a pipe, as to a log collector, and only the first 2000 (start-up)
# are kept. Written to a file on the disk that holds PostgreSQL's WAL, a
# read run's half a million lines were flushed with the WAL's fsyncs and
# slowed the runs after it (events 1 705 a second with the lines in a
# file, 2 090 with them in /dev/null: one pair, docs/performance-log.md).
for i in $(seq 1 240); do
	if curl -fsS -o /dev/null "$target/readyz" 2>/dev/null; then break; fi
	if ! kill -0 "$procfin_pid" 2>/dev/null; then
		echo "procfin demo exited:" >&2
		tail -n 20 "$work/procfin.log" >&2
		exit 1
	fi
	if [ "$i" = 240 ]; then echo "procfin is not ready after 120 s" >&2; exit 1; fi
	sleep 0.5
done

# procfin's private cluster: Unix socket only, user procfin, trust auth
# (platform/postgres/cluster.go: SocketDir, URL).
sock="$data/pg/run"
if [ ! -S "$sock/.s.PGSQL.5432" ]; then
	echo "no PostgreSQL socket in $sock" >&2
	exit 1
fi
pg=(-h "$sock" -p 5432 -U procfin)
if [ -n "${BENCH_GROWTH_ROWS:-}" ]; then
	# Growth: intake and read latency on an empty database, then after
	# seeding BENCH_GROWTH_ROWS applications (with COPY) and their history.
	# Reads are read-db (Cache-Control: no-cache): the read cache would hide
	# the database's growth.
	n=8
	run_growth() {
		local out
		out="$("${bench[@]}" --target "$target" --scenario "$1" --clients "$n" --duration "${secs}s" --warmup "$warmup" --json)"
		sed -n 's/.*"p50": *\([0-9.]*\).*/\1/p' <<<"$out" | head -n 1
	}
	echo "== growth: $n clients, ${secs} s per run, on an empty database"
	intake0="$(run_growth intake)" read0="$(run_growth read-db)"
	echo "   intake p50 $intake0 ms, read p50 $read0 ms"
	echo "== seeding $BENCH_GROWTH_ROWS applications with COPY"
	started=$(date +%s)
	contract="$(psql "${pg[@]}" -d procfin -qAtc "SELECT id FROM contracts ORDER BY seq LIMIT 1")"
	supplier="$(psql "${pg[@]}" -d procfin -qAtc "SELECT supplier_uscc FROM contracts ORDER BY seq LIMIT 1")"
	bank="$(psql "${pg[@]}" -d procfin -qAtc "SELECT id FROM banks ORDER BY id LIMIT 1")"
	awk -v n="$BENCH_GROWTH_ROWS" -v c="$contract" -v s="$supplier" -v b="$bank" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "%s\t%s\t%s\t1000.00\t90\tseed\tclosed\t0\t{}\tseed\t2026-%02d-%02d 10:00:00+08\n", s, c, b, i % 12 + 1, i % 28 + 1
	}' | psql "${pg[@]}" -d procfin -qc "COPY applications (supplier_uscc, contract_id, bank_id, amount, term_days, purpose, status, financing_held, verification, submitted_by, created_at) FROM STDIN"
	psql "${pg[@]}" -d procfin -qc "INSERT INTO application_transitions (application_id, n, at, from_status, to_status, actor, cause) SELECT id, 1, created_at, '', 'closed', 'seed', 'seed' FROM applications WHERE submitted_by = 'seed'; ANALYZE"
	echo "   seeded in $(( $(date +%s) - started )) s: $(psql "${pg[@]}" -d procfin -qAtc 'SELECT count(*) FROM applications') applications"
	intake1="$(run_growth intake)" read1="$(run_growth read-db)"
	echo "   intake p50 $intake1 ms, read p50 $read1 ms"
	awk -v a="$intake1" -v b="$intake0" -v c="$read1" -v d="$read0" 'BEGIN {
		ri = a / b; rr = c / d
		printf "growth: intake p50 %.2fx, read p50 %.2fx of the empty database (target <= 1.2x): %s\n", ri, rr, (ri <= 1.2 && rr <= 1.2 ? "met" : "NOT met")
	}'
	exit 0
fi

echo "== pgbench: initialising database pgbench (scale $scale) and pgbench1 (scale 1, the earlier anchor) on procfin's cluster"
psql "${pg[@]}" -d postgres -qAtc 'CREATE DATABASE pgbench' >/dev/null
pgbench "${pg[@]}" -i -s "$scale" -q pgbench >/dev/null 2>&1
psql "${pg[@]}" -d postgres -qAtc 'CREATE DATABASE pgbench1' >/dev/null
pgbench "${pg[@]}" -i -s 1 -q pgbench1 >/dev/null 2>&1

intake_route=yes
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "$target/v1/credit-applications")"
if [ "$code" = 404 ] || [ "$code" = 405 ]; then
	intake_route=no
	echo "== POST /v1/credit-applications is not there yet: intake is pending the lending routes"
fi

# field JSON KEY: the first number after "KEY": in a bench --json report.
field() { sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" <<<"$1" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b; else printf "-" }'; }

# run_bench SCENARIO N: prints a summary line; sets tp, p99 and route.
run_bench() {
	local out
	tp="-" p99="-" route="-"
	if ! out="$("${bench[@]}" --target "$target" --scenario "$1" --clients "$2" \
		--duration "${secs}s" --warmup "$warmup" --json)"; then
		echo "   $1 at $2 clients failed" >&2
		failed=1
		return 0
	fi
	echo "$out" >"$work/$1-$2.json" # kept with BENCH_KEEP=1
	tp="$(field "$out" throughput_per_s)"
	p99="$(field "$out" p99)"
	route="$(sed -n 's/.*"route": *"\([^"]*\)".*/\1/p' <<<"$out" | head -n 1)"
	local errors
	errors="$(field "$out" errors)"
	printf '   %-7s %3d clients: %10s req/s  p50 %s  p90 %s  p99 %s  max %s ms  %s errors  (%s)\n' \
		"$1" "$2" "$tp" "$(field "$out" p50)" "$(field "$out" p90)" "$p99" "$(field "$out" max)" "$errors" "$route"
	if [ "$errors" != 0 ]; then
		sed -n '/first_errors/,$p' <<<"$out" | grep -E '"(error|count|example)"' | sed 's/^ */      /' || true
	fi
}

# The procfin process's peak VmRSS (KiB), sampled every 0.2 s into a file.
rss_file="$work/rss-max"
echo 0 >"$rss_file"
start_sampler() {
	(
		peak=0
		while kill -0 "$procfin_pid" 2>/dev/null; do
			kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$procfin_pid/status" 2>/dev/null || echo 0)"
			if [ "${kb:-0}" -gt "$peak" ]; then peak=$kb; echo "$peak" >"$rss_file"; fi
			sleep 0.2
		done
	) &
	sampler_pid=$!
}

# run_pgbench N DB: runs pgbench's TPC-B-like at N clients on database DB;
# prints its line and sets tps. The machine's speed drifts over minutes
# (±10 %), so the anchor of a client count is the mean of two runs, one
# before procfin's intake and one just before its events.
run_pgbench() {
	local out j=$(($1 < 2 ? $1 : 2))
	out="$(pgbench "${pg[@]}" -c "$1" -j "$j" -T "$secs" "$2" 2>&1)" || { echo "$out" >&2; exit 1; }
	tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -n 1 | xargs printf '%.1f')"
	printf '   pgbench %3d clients: %10s tps (TPC-B-like, -j %d, %s)\n' "$1" "$tps" "$j" "$2"
	# pgbench vacuums its tables before it starts; procfin's runs get the
	# same: no autovacuum of pgbench's tables, no checkpoint of its pages
	# in the middle of the next measurement.
	psql "${pg[@]}" -d "$2" -qc 'VACUUM ANALYZE' >/dev/null
	psql "${pg[@]}" -d postgres -qc 'CHECKPOINT' >/dev/null
}

failed=0
declare -A pg_tps pg1_tps anchor_tp intake_tp read_tp intake_p99 read_p99 events_tp events_p99 readdb_tp
read_route="-"
for n in $clients_list; do
	echo "== $n client(s), ${secs} s per run"
	run_pgbench "$n" pgbench
	pg_first=$tps
	run_pgbench "$n" pgbench1
	pg1_first=$tps

	run_bench anchor "$n"
	anchor_tp[$n]=$tp

	if [ "$n" = "$max_clients" ]; then start_sampler; fi
	if [ "$intake_route" = yes ]; then
		run_bench intake "$n"
		intake_tp[$n]=$tp intake_p99[$n]=$p99
	else
		intake_tp[$n]="pending" intake_p99[$n]="-"
	fi
	run_bench read "$n"
	read_tp[$n]=$tp read_p99[$n]=$p99 read_route=$route
	run_bench read-db "$n"
	readdb_tp[$n]=$tp
	run_pgbench "$n" pgbench1
	pg1_tps[$n]="$(awk -v a="$pg1_first" -v b="$tps" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
	run_pgbench "$n" pgbench
	pg_tps[$n]="$(awk -v a="$pg_first" -v b="$tps" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
	echo "   pgbench anchor: ${pg_tps[$n]} tps at scale $scale (scale 1: ${pg1_tps[$n]} tps), the means of the runs before intake and before events"
	run_bench events "$n"
	events_tp[$n]=$tp events_p99[$n]=$p99
	if [ "$n" = "$max_clients" ]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""; fi
done

echo
echo "== results: $(nproc) CPU(s), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), ${secs} s per run"
echo
echo "pgbench: TPC-B-like at scale $scale, the anchor of the targets; in brackets, the ratio against scale 1 (the anchor of figures before issue 19)"
echo
echo "| clients | pgbench tps (scale $scale) | pgbench tps (scale 1) | intake req/s | intake / pgbench | intake p99 ms | events req/s | events / pgbench | events p99 ms | minimal Gin req/s | read req/s | read / Gin | read p99 ms | read-db req/s | read-db / Gin |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $clients_list; do
	echo "| $n | ${pg_tps[$n]} | ${pg1_tps[$n]} | ${intake_tp[$n]} | $(ratio "${intake_tp[$n]/pending/}" "${pg_tps[$n]}") ($(ratio "${intake_tp[$n]/pending/}" "${pg1_tps[$n]}")) | ${intake_p99[$n]} | ${events_tp[$n]} | $(ratio "${events_tp[$n]}" "${pg_tps[$n]}") ($(ratio "${events_tp[$n]}" "${pg1_tps[$n]}")) | ${events_p99[$n]} | ${anchor_tp[$n]} | ${read_tp[$n]} | $(ratio "${read_tp[$n]}" "${anchor_tp[$n]}") | ${read_p99[$n]} | ${readdb_tp[$n]} | $(ratio "${readdb_tp[$n]}" "${anchor_tp[$n]}") |"
done
echo
echo "read: $read_route as a supplier user (from procfin's read cache once read; read-db: with Cache-Control: no-cache, a database read each time); minimal Gin: GET /ok in-process; req/s are successful requests"
rss_kb="$(cat "$rss_file")"
echo
printf 'procfin peak RSS during the %d-client runs: %.1f MB (VmRSS of the procfin process; PostgreSQL not included)\n' \
	"$max_clients" "$(awk -v k="$rss_kb" 'BEGIN { print k * 1024 / 1e6 }')"
echo
echo "targets at $max_clients clients (pgbench at scale $scale):"
if [ "${intake_tp[$max_clients]}" = pending ]; then
	echo "  intake >= 0.8 x pgbench: pending the lending routes"
else
	awk -v a="${intake_tp[$max_clients]}" -v b="${pg_tps[$max_clients]}" 'BEGIN { r = (b > 0 && a != "-") ? a / b : 0; printf "  intake >= 0.8 x pgbench: %.2f %s\n", r, (r >= 0.8 ? "met" : "NOT met") }'
fi
awk -v a="${events_tp[$max_clients]}" -v b="${pg_tps[$max_clients]}" 'BEGIN { r = (b > 0 && a != "-") ? a / b : 0; printf "  events >= 0.8 x pgbench: %.2f %s\n", r, (r >= 0.8 ? "met" : "NOT met") }'
awk -v a="${read_tp[$max_clients]}" -v b="${anchor_tp[$max_clients]}" 'BEGIN { r = (b > 0 && a != "-") ? a / b : 0; printf "  read >= 0.4 x minimal Gin: %.2f %s\n", r, (r >= 0.4 ? "met" : "NOT met") }'
awk -v k="$rss_kb" 'BEGIN { m = k * 1024 / 1e6; printf "  procfin RSS < 150 MB: %.1f MB %s\n", m, (m > 0 && m < 150 ? "met" : "NOT met") }'
exit "$failed"
