#!/usr/bin/env bash
# The README's walk-through, run against a running demo (go run ./cmd/procfin
# demo): the supplier quancheng applies against its contract HT-JNCG-2026-0815,
# the application travels signed to the sandbox bank qilu-sandbox, which
# approves; the purchaser 济南市教育局 (jnedu) confirms the receivable (确权);
# the bank disburses and repays; the officer approves a subsidy claim of the
# loan, gathers the approved claims into a payment batch, closes it, exports
# it as CSV and XLSX, and reads the statistics and the banks' monthly report.
#
#   scripts/walkthrough.sh [BASE_URL]
#
# BASE_URL (or PROCFIN_URL) defaults to http://127.0.0.1:8080.
# WALK_WAIT: the longest wait, in seconds, for each move of the application
# (default 180; the demo's bank repays 30 s after it disburses).
# WALK_OUT: where the exported files are saved (default: a new temporary
# directory).
#
# Each step prints what it does on one line, then what came of it. Any
# failure stops the script with a line saying what failed, and exit status 1.
# Every Idempotency-Key carries this run's own token, so the script can be
# run again against the same demo once its previous run has ended.
#
# It needs bash, curl and the POSIX tools of any Debian or Ubuntu machine
# (sed, awk, od); JSON is read by the small awk reader below.
set -euo pipefail

BASE="${1:-${PROCFIN_URL:-http://127.0.0.1:8080}}"
BASE="${BASE%/}"
WAIT="${WALK_WAIT:-180}"
OUT="${WALK_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/procfin-walkthrough.XXXXXX")}"
RUN="walk-$(date -u +%Y%m%dT%H%M%S)-$$-${RANDOM}"
CONTRACT_NO="HT-JNCG-2026-0815"
BANK="qilu-sandbox"
AMOUNT="500000.00"

command -v curl >/dev/null || { echo "walkthrough: curl is needed (apt-get install -y curl)" >&2; exit 1; }
mkdir -p "$OUT"

fail() {
	echo "walkthrough: FAILED: $*" >&2
	exit 1
}

step_no=0
step() {
	step_no=$((step_no + 1))
	echo
	echo "==> $step_no. $*"
}

say() { echo "    $*"; }

# JSON, read with awk. json_get KEY prints the value of the field KEY of
# the object on standard input (a string without its quotes, anything else
# as its JSON text; nothing when the field is absent); json_elems prints
# each element of the array on standard input, one a line (procfin's JSON
# is compact, so an element never spans lines).
JSON_AWK='
function flush() {
	if (mode == "get" && found && start) { print substr(s, start, i - start); found = 0; start = 0 }
}
BEGIN { RS = "\001" }
{
	s = $0; n = length(s); depth = 0; instr = 0; esc = 0; keystart = 0; key = ""; found = 0; start = 0; elem = 0
	for (i = 1; i <= n; i++) {
		c = substr(s, i, 1)
		if (instr) {
			if (esc) { esc = 0 } else if (c == "\\") { esc = 1 } else if (c == "\"") {
				instr = 0
				if (depth == 1 && keystart) { key = substr(s, keystart, i - keystart); keystart = 0 }
			}
			continue
		}
		if (c == "\"") {
			instr = 1
			if (depth == 1 && mode == "get" && expectkey) { keystart = i + 1; expectkey = 0 }
			else if (depth == 1 && mode == "get" && found && !start) { start = i }
			else if (depth == 1 && mode == "elems" && !elem) { elem = i }
			continue
		}
		if (c == " " || c == "\t" || c == "\n" || c == "\r") continue
		if (c == "{" || c == "[") {
			if (depth == 0) { top = c; expectkey = (c == "{") }
			else if (depth == 1 && mode == "get" && found && !start) { start = i }
			else if (depth == 1 && mode == "elems" && !elem) { elem = i }
			depth++
			continue
		}
		if (c == "}" || c == "]") {
			depth--
			if (depth == 0) {
				if (mode == "get") flush()
				if (mode == "elems" && elem) { print substr(s, elem, i - elem); elem = 0 }
			}
			continue
		}
		if (depth != 1) continue
		if (c == ":") { found = (key == want); key = ""; continue }
		if (c == ",") {
			if (mode == "get") flush()
			if (mode == "elems" && elem) { print substr(s, elem, i - elem); elem = 0 }
			expectkey = (top == "{")
			continue
		}
		if (mode == "get" && found && !start) start = i
		if (mode == "elems" && !elem) elem = i
	}
}'

json_get() {
	awk -v mode=get -v want="$1" "$JSON_AWK" | sed -e 's/^"\(.*\)"$/\1/' -e 's/\\"/"/g' -e 's/\\\//\//g'
}
json_elems() { awk -v mode=elems -v want= "$JSON_AWK"; }

# json_find KEY VALUE: the first element of the array on standard input whose
# field KEY is VALUE.
json_find() {
	local line
	while IFS= read -r line; do
		if [ "$(printf '%s' "$line" | json_get "$1")" = "$2" ]; then
			printf '%s\n' "$line"
			return 0
		fi
	done < <(json_elems)
	return 1
}

# yuan 1234567.80 prints 1,234,567.80.
yuan() {
	local int="${1%%.*}" frac="" out=""
	[ "$int" != "$1" ] && frac=".${1#*.}"
	local sign=""
	[ "${int#-}" != "$int" ] && sign="-" && int="${int#-}"
	while [ ${#int} -gt 3 ]; do
		out=",${int: -3}$out"
		int="${int:0:${#int}-3}"
	done
	printf '%s%s%s%s' "$sign" "$int" "$out" "$frac"
}

# api METHOD PATH TOKEN [BODY] [IDEMPOTENCY_KEY]: calls procfin; sets
# STATUS and BODY (the answer). Fails on a transport error only.
api() {
	local method="$1" path="$2" token="$3" body="${4:-}" key="${5:-}"
	local args=(-sS -X "$method" -o "$OUT/.answer" -w '%{http_code}' -H "Accept-Language: zh-CN")
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	[ -n "$key" ] && args+=(-H "Idempotency-Key: $key")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	STATUS="$(curl "${args[@]}" "$BASE$path")" || fail "$method $path: procfin did not answer at $BASE (is the demo running?)"
	BODY="$(cat "$OUT/.answer")"
	rm -f "$OUT/.answer"
}

# expect CODE WHAT: fails unless the last answer had that status.
expect() {
	[ "$STATUS" = "$1" ] || fail "$2: answered $STATUS, want $1: $BODY"
}

login() {
	api POST /v1/auth/token "" "{\"username\":\"$1\",\"password\":\"$2\"}"
	expect 200 "log in as $1"
	printf '%s' "$BODY" | json_get access_token
}

# follow ID STATUS…: polls the application until its status is one of
# STATUS, printing each status it passes through from SEEN (the last one
# seen) and leaving the last in SEEN; fails after WAIT seconds or on a
# status that ends the application otherwise.
SEEN=""
follow() {
	local id="$1"
	shift
	local want=" $* " seen="$SEEN" status="" deadline=$((SECONDS + WAIT))
	while :; do
		api GET "/v1/credit-applications/$id" "$SUPPLIER"
		expect 200 "read the application"
		status="$(printf '%s' "$BODY" | json_get status)"
		if [ "$status" != "${seen##* }" ]; then
			seen="${seen:+$seen → }$status"
		fi
		case "$want" in *" $status "*)
			say "$seen"
			SEEN="$status"
			return 0
			;;
		esac
		case "$status" in rejected | cancelled | delivery_failed)
			fail "the application became $status ($seen): $BODY" ;;
		esac
		[ "$SECONDS" -lt "$deadline" ] || fail "the application is still $status after ${WAIT}s ($seen), want one of:$want"
		sleep 1
	done
}

echo "procfin walk-through against $BASE (run $RUN; files in $OUT)"

step "Log in as the supplier quancheng, the purchaser jnedu and the officer (POST /v1/auth/token)"
SUPPLIER="$(login quancheng procfin-demo-supplier)"
PURCHASER="$(login jnedu procfin-demo-purchaser)"
OFFICER="$(login officer procfin-demo-officer)"
say "three bearer tokens"

step "Find quancheng's contract $CONTRACT_NO by its number (GET /v1/contracts)"
api GET "/v1/contracts?limit=500" "$SUPPLIER"
expect 200 "list the contracts"
contract="$(printf '%s' "$BODY" | json_get items | json_find contract_no "$CONTRACT_NO")" ||
	fail "quancheng has no contract $CONTRACT_NO"
CONTRACT_ID="$(printf '%s' "$contract" | json_get id)"
supplier_name="$(printf '%s' "$contract" | json_get supplier | json_get name)"
purchaser_name="$(printf '%s' "$contract" | json_get purchaser | json_get name)"
available="$(printf '%s' "$contract" | json_get financing | json_get available)"
say "contract $CONTRACT_ID: $(yuan "$(printf '%s' "$contract" | json_get amount)") 元 from $purchaser_name to $supplier_name"
say "available to finance: $(yuan "$available") 元"

step "Apply to $BANK for $(yuan "$AMOUNT") 元, 180 days (POST /v1/credit-applications, Idempotency-Key $RUN-apply)"
api POST /v1/credit-applications "$SUPPLIER" \
	"{\"contract_id\":\"$CONTRACT_ID\",\"bank_id\":\"$BANK\",\"amount\":\"$AMOUNT\",\"term_days\":180,\"purpose\":\"教学设备采购 materials\"}" \
	"$RUN-apply"
expect 201 "apply"
APP_ID="$(printf '%s' "$BODY" | json_get id)"
SEEN="$(printf '%s' "$BODY" | json_get status)"
say "application $APP_ID: $SEEN"

step "Follow the application until the bank approves (GET /v1/credit-applications/{id}, at most ${WAIT}s)"
follow "$APP_ID" approved disbursed repaid closed
api GET "/v1/credit-applications/$APP_ID" "$SUPPLIER"
say "approved $(yuan "$(printf '%s' "$BODY" | json_get approved_amount)") 元 for $(printf '%s' "$BODY" | json_get approved_term_days) days at an annual rate of $(printf '%s' "$BODY" | json_get annual_rate)"

step "The purchaser $purchaser_name confirms the receivable (确权) (GET /v1/receivables, POST /v1/contracts/{id}/confirmation)"
api GET "/v1/receivables?limit=500" "$PURCHASER"
expect 200 "list the purchaser's receivables"
receivable="$(printf '%s' "$BODY" | json_get items | json_find contract_id "$CONTRACT_ID")" ||
	fail "jnedu has no receivable of $CONTRACT_NO"
# The amount the bank approved, the contract's payment terms and the bank's
# repayment account; or, when the demo's purchaser system has confirmed the
# receivable already, the confirmation it recorded (the loan may even be
# repaid by now), which answers 200 again and changes nothing.
before="$(printf '%s' "$receivable" | json_get status)"
account="$(printf '%s' "$receivable" | json_get repayment_account)"
if [ "$before" = confirmed ]; then
	amount="$(printf '%s' "$receivable" | json_get confirmed_amount)"
	terms="$(printf '%s' "$receivable" | json_get confirmed_payment_terms)"
else
	amount="$(printf '%s' "$receivable" | json_get approved_amount)"
	terms="$(printf '%s' "$receivable" | json_get payment_terms)"
fi
api POST "/v1/contracts/$CONTRACT_ID/confirmation" "$PURCHASER" \
	"{\"confirmed_amount\":\"$amount\",\"repayment_account\":$account,\"payment_terms\":$terms}" "$RUN-confirm"
expect 200 "confirm the receivable"
say "$(printf '%s' "$BODY" | json_get status): $(yuan "$(printf '%s' "$BODY" | json_get confirmed_amount)") 元 owed by $purchaser_name, to be paid into $(printf '%s' "$account" | json_get bank_name) $(printf '%s' "$account" | json_get account_no) (lock: $(printf '%s' "$BODY" | json_get lock_status))"
if [ "$before" = confirmed ]; then
	say "(the demo's purchaser system had confirmed it already, by $(printf '%s' "$receivable" | json_get confirmed_by); the same confirmation again changes nothing)"
fi

step "Follow the loan until the bank has disbursed and repaid it (at most ${WAIT}s)"
follow "$APP_ID" repaid closed
api GET "/v1/loans?limit=500" "$SUPPLIER"
expect 200 "list the loans"
loan="$(printf '%s' "$BODY" | json_get items | json_find application_id "$APP_ID")" || fail "no loan of application $APP_ID"
say "loan $(printf '%s' "$loan" | json_get id): disbursed $(yuan "$(printf '%s' "$loan" | json_get disbursed)") 元, repaid $(yuan "$(printf '%s' "$loan" | json_get repaid_principal)") 元 of principal"

step "The officer lists the application's subsidy claims (贴息) and approves one (GET /v1/subsidy-claims, POST /v1/subsidy-claims/{id}/approve)"
claim="" deadline=$((SECONDS + WAIT))
while :; do
	api GET "/v1/subsidy-claims?status=pending&limit=500" "$OFFICER"
	expect 200 "list the pending claims"
	mine="$(printf '%s' "$BODY" | json_get items | json_elems | while IFS= read -r c; do
		[ "$(printf '%s' "$c" | json_get application_id)" = "$APP_ID" ] && printf '%s\n' "$c"
	done)" || true
	[ -n "$mine" ] && break
	[ "$SECONDS" -lt "$deadline" ] || fail "no pending subsidy claim of application $APP_ID after ${WAIT}s"
	sleep 1
done
while IFS= read -r c; do
	say "claim $(printf '%s' "$c" | json_get id): $(yuan "$(printf '%s' "$c" | json_get amount)") 元 on interest paid $(yuan "$(printf '%s' "$c" | json_get interest_paid)") 元, repaid on $(printf '%s' "$c" | json_get paid_on), $(printf '%s' "$c" | json_get status)"
done <<<"$mine"
claim="$(head -n 1 <<<"$mine")"
CLAIM_ID="$(printf '%s' "$claim" | json_get id)"
api POST "/v1/subsidy-claims/$CLAIM_ID/approve" "$OFFICER" "" "$RUN-approve"
expect 200 "approve the claim"
say "claim $CLAIM_ID: $(printf '%s' "$BODY" | json_get status)"

step "The officer gathers the approved claims into a payment batch (POST /v1/subsidy-batches)"
api POST /v1/subsidy-batches "$OFFICER" "" "$RUN-batch"
expect 201 "make a batch"
BATCH_ID="$(printf '%s' "$BODY" | json_get id)"
say "batch $BATCH_ID: claims $(printf '%s' "$BODY" | json_get claims), total $(yuan "$(printf '%s' "$BODY" | json_get total)") 元, $(printf '%s' "$BODY" | json_get status)"

step "The officer closes the batch for payment (POST /v1/subsidy-batches/{id}/close)"
api POST "/v1/subsidy-batches/$BATCH_ID/close" "$OFFICER" "" "$RUN-close"
expect 200 "close the batch"
say "batch $BATCH_ID: $(printf '%s' "$BODY" | json_get status)"

step "Export the batch for the treasury (GET /v1/subsidy-batches/{id}.csv and .xlsx)"
download() { # download PATH FILE
	local status
	status="$(curl -sS -o "$2" -w '%{http_code}' -H "Authorization: Bearer $OFFICER" "$BASE$1")" || fail "GET $1: no answer"
	[ "$status" = 200 ] || fail "GET $1: answered $status: $(head -c 500 "$2")"
	[ -s "$2" ] || fail "GET $1: an empty file"
}
csv="$OUT/batch-$BATCH_ID.csv"
download "/v1/subsidy-batches/$BATCH_ID.csv" "$csv"
# has_bom FILE: whether FILE starts with UTF-8's byte-order mark, which
# Excel on Chinese Windows needs to read the Chinese names right.
has_bom() { [ "$(head -c 3 "$1" | od -An -tx1 | tr -d ' \n')" = efbbbf ]; }
has_bom "$csv" || fail "$csv does not start with a UTF-8 byte-order mark"
grep -q "$CLAIM_ID" "$csv" || fail "the CSV does not list the approved claim $CLAIM_ID"
say "$csv: $(wc -c <"$csv") bytes, $(wc -l <"$csv") lines, with a UTF-8 byte-order mark"
say "header: $(head -n 1 "$csv" | sed 's/^\xef\xbb\xbf//')"
total="$(sed 's/^\xef\xbb\xbf//' "$csv" | grep -E '^"?(合计|TOTAL)' | tail -n 1)" || fail "the CSV has no total line (合计 or TOTAL)"
say "total:  $total"
xlsx="$OUT/batch-$BATCH_ID.xlsx"
download "/v1/subsidy-batches/$BATCH_ID.xlsx" "$xlsx"
[ "$(head -c 4 "$xlsx" | od -An -tx1 | tr -d ' \n')" = 504b0304 ] && grep -aq 'xl/workbook.xml' "$xlsx" ||
	fail "$xlsx is not an XLSX workbook (a zip holding xl/workbook.xml)"
say "$xlsx: $(wc -c <"$xlsx") bytes, a workbook (zip)"

month="$(TZ=Asia/Shanghai date +%Y-%m)"
step "Read the programme's statistics (GET /v1/stats)"
api GET /v1/stats "$OFFICER"
expect 200 "read the statistics"
subsidy="$(printf '%s' "$BODY" | json_get subsidy)"
times="$(printf '%s' "$BODY" | json_get approval_times)"
say "subsidy paid $(yuan "$(printf '%s' "$subsidy" | json_get paid)") 元, approved not yet paid $(yuan "$(printf '%s' "$subsidy" | json_get approved_unpaid)") 元, pending $(yuan "$(printf '%s' "$subsidy" | json_get pending)") 元"
say "approval time: p50 $(printf '%s' "$times" | json_get p50_seconds) s, p90 $(printf '%s' "$times" | json_get p90_seconds) s over $(printf '%s' "$times" | json_get count) approvals"
printf '%s' "$BODY" | json_get banks | json_elems | while IFS= read -r b; do
	[ "$(printf '%s' "$b" | json_get month)" = "$month" ] || continue
	say "$(printf '%s' "$b" | json_get month) $(printf '%s' "$b" | json_get bank_id): $(printf '%s' "$b" | json_get applications) applications, $(printf '%s' "$b" | json_get approvals) approved, financed $(yuan "$(printf '%s' "$b" | json_get financed)") 元, outstanding $(yuan "$(printf '%s' "$b" | json_get outstanding)") 元"
done

step "Read the banks' monthly report for $month (GET /v1/stats/bank-report.csv?month=$month)"
report="$OUT/bank-report-$month.csv"
download "/v1/stats/bank-report.csv?month=$month" "$report"
has_bom "$report" || fail "$report does not start with a UTF-8 byte-order mark"
grep -q "$BANK" "$report" || fail "the bank report names no $BANK"
say "$report: $(wc -l <"$report") lines, with a UTF-8 byte-order mark"
sed 's/^\xef\xbb\xbf//' "$report" | while IFS= read -r line; do say "$line"; done

echo
echo "walk-through done: application $APP_ID repaid, claim $CLAIM_ID paid in batch $BATCH_ID; files in $OUT"
