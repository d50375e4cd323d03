// Package ocds reads Open Contracting Data Standard (OCDS 1.0/1.1) release
// packages and record packages into procfin's award notices and contracts
// (contracts.AwardNoticeDoc, contracts.ContractDoc), for
// `procfin import ocds FILE…` (api.md).
//
// Read takes one file. It streams the package with json.Decoder tokens: one
// release (or one record) is decoded at a time, cut down to the fields the
// mapping needs, and kept per ocid until the end of the file, when the
// releases of each ocid are merged and mapped. Numbers are read with
// UseNumber and parsed as decimals; no float64 touches an amount.
//
// # Merging
//
// A simplified OCDS merge: the releases of one ocid are applied oldest first
// (by `date`; equal dates in file order; a release without a date counts as
// the oldest), and a newer release wins field by field. Objects merge
// recursively; `awards`, `contracts` and `parties` merge by `id` (an id may
// be a string or an integer: 1 and "1" are the same id); every other array is
// replaced whole; a JSON null in a newer release clears the field. In a
// record package a record's `compiledRelease` is used as it is when present,
// otherwise the record's embedded releases are merged as above (linked
// releases without content contribute nothing).
//
// # Mapping
//
// Per ocid: the purchaser is the party with role `buyer` (else the release's
// `buyer`, else a party with role `procuringEntity`, else
// `tender.procuringEntity`); its id is the party's identifier as
// "scheme-id" (or the identifier id alone when it has no scheme), else the
// party id. A supplier's USCC is the identifier (or an additionalIdentifier)
// whose scheme is "CN-USCC", else an identifier id that Options.ValidUSCC
// accepts; it is upper-cased.
//
// Each award gives one notice per supplier: notice_no "<ocid>/<award.id>"
// (with "/<USCC>" appended when the award names several suppliers, so that
// numbers stay unique), project_no the ocid, project_name tender.title (else
// award.title), amount and currency from award.value, awarded_on the
// Asia/Shanghai calendar date of award.date, procurement_method the OCDS code
// of tender.procurementMethod as it is (open, selective, limited, direct),
// status active (award status active, pending or absent) or cancelled
// (cancelled, unsuccessful). Each contract gives one contract linked by
// awardID to its award's notice: contract_no "<ocid>/<contract.id>", amount
// and currency from contract.value (currency defaults to the award's),
// signed_on from dateSigned, period from period.startDate/endDate, payment
// terms from implementation.milestones of type "payment" that have a dueDate
// and a value, status active (active, pending, absent), cancelled or
// terminated.
//
// Amounts with more than two decimal places are rounded half-up to the 分 and
// the rounding is reported in Batch.Notes. Documents in another currency than
// CNY are produced like the others: the caller stores them; they cannot be
// financed.
//
// Nothing is dropped silently: what cannot be mapped is a Refusal with a
// stable reason code (the Reason… constants) and a human detail.
//
// # Character sets
//
// Options.Charset names the file's encoding: "UTF-8" (strict), "GB18030",
// "GBK", "CP936" or "GB2312" (all read as GB18030, of which the others'
// byte sequences are a subset), or "ISO-8859-1" ("latin1"); case, hyphens
// and underscores do not matter. GB18030 and ISO-8859-1 are decoded by
// golang.org/x/text's decoders. A byte sequence that is not in the named
// charset is a fatal error naming its byte offset. A UTF-8 byte order mark
// is skipped; so is GB18030's (84 31 95 33) when the charset is GB18030 or
// detected.
//
// Options.Charset "" (the default) detects the encoding while streaming: a
// byte order mark decides (UTF-8's UTF-8, GB18030's GB18030); otherwise up
// to the first non-ASCII byte all three read the same, and from the first
// non-ASCII byte on, what has been read (at least 4 KiB, or the rest of the
// file when shorter) decides: valid UTF-8 means the file is read as UTF-8;
// else, when that stretch reads as GB18030 throughout, has Han characters
// and most of its two-byte characters end in a byte above 0x7F (Chinese
// text; Latin-1 text mostly has an ASCII letter after an accented one), as
// GB18030; else as ISO-8859-1 (each byte is the rune of the same value). An
// invalid sequence later on in a file read as UTF-8 or GB18030 is a fatal
// error naming its byte offset.
package ocds

import (
	"procfin/contracts"
)

// Refusal reason codes. Stable: callers count and switch on them.
const (
	ReasonAwardWithoutSupplier      = "award_without_supplier"      // an award with no suppliers[]
	ReasonSupplierWithoutUSCC       = "supplier_without_uscc"       // a supplier whose USCC cannot be recognised
	ReasonAwardWithoutValue         = "award_without_value"         // an award without value.amount or value.currency
	ReasonPurchaserMissing          = "purchaser_missing"           // no buyer / procuring entity to name the purchaser
	ReasonContractAwardMissing      = "contract_award_missing"      // awardID absent or naming no award of the ocid
	ReasonContractAwardRefused      = "contract_award_refused"      // the contract's award was itself refused
	ReasonContractSupplierAmbiguous = "contract_supplier_ambiguous" // the award has several suppliers and the contract does not say which
	ReasonContractValueExceeds      = "contract_value_exceeds_award"
	ReasonCurrencyMismatch          = "currency_mismatch"
	ReasonIDTypeMismatch            = "id_type_mismatch"  // an id that is an object, array, boolean or non-integer number
	ReasonInvalidAmount             = "invalid_amount"    // negative, not a number, too large, or missing on a contract
	ReasonInvalidDate               = "invalid_date"      // unparseable, missing where required, or a period ending before it starts
	ReasonInvalidStatus             = "invalid_status"    // a status outside the OCDS codelist
	ReasonMalformedRelease          = "malformed_release" // a release, record, award, contract or party of the wrong shape: not an object, no ocid, no id
)

// Reasons lists every reason code Read can give.
var Reasons = []string{
	ReasonAwardWithoutSupplier, ReasonSupplierWithoutUSCC, ReasonAwardWithoutValue,
	ReasonPurchaserMissing, ReasonContractAwardMissing, ReasonContractAwardRefused,
	ReasonContractSupplierAmbiguous, ReasonContractValueExceeds, ReasonCurrencyMismatch,
	ReasonIDTypeMismatch, ReasonInvalidAmount, ReasonInvalidDate, ReasonInvalidStatus,
	ReasonMalformedRelease,
}

// Note codes: things done to the data that the caller should know about.
const (
	NoteAmountRounded           = "amount_rounded"            // more than two decimal places, rounded half-up
	NotePaymentMilestoneIgnored = "payment_milestone_ignored" // a payment milestone without dueDate or value
)

// Kinds of object a Refusal or Note is about.
const (
	KindRelease  = "release"
	KindParty    = "party"
	KindAward    = "award"
	KindContract = "contract"
)

// Options tune Read.
type Options struct {
	// ValidUSCC reports whether s is a valid unified social credit code;
	// wire contracts.ParseUSCC here. When nil, only identifiers with scheme
	// "CN-USCC" are recognised.
	ValidUSCC func(s string) bool
	// Charset is "" (detect UTF-8, fall back to ISO-8859-1), "UTF-8" or
	// "ISO-8859-1" (also "latin1"); case and dashes do not matter.
	Charset string
	// Progress, when set, is called with the number of releases read so far,
	// after each release (or record compiledRelease).
	Progress func(done int)
}

// Notice is an award notice read from an ocid.
type Notice struct {
	OCID string
	Doc  contracts.AwardNoticeDoc
}

// Contract is a contract read from an ocid.
type Contract struct {
	OCID string
	Doc  contracts.ContractDoc
}

// Refusal is something of the file that gives no document, and why.
type Refusal struct {
	OCID   string
	Kind   string // KindRelease, KindParty, KindAward or KindContract
	Ref    string // the award, contract, party or release id (or its position when it has none)
	Reason string // a Reason… code
	Detail string // for people
}

// Note reports something changed on the way (a rounding) or ignored that is
// not a refusal.
type Note struct {
	OCID   string
	Kind   string
	Ref    string
	Code   string // a Note… code
	Detail string
}

// Batch is what one file gives.
type Batch struct {
	Notices   []Notice
	Contracts []Contract
	Refused   []Refusal
	Notes     []Note
	Releases  int // releases read (a record's compiledRelease counts one)
	OCIDs     int // distinct ocids
}

// Summary counts the refusals by reason.
func (b *Batch) Summary() map[string]int {
	m := map[string]int{}
	for _, r := range b.Refused {
		m[r.Reason]++
	}
	return m
}
