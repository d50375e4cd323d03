package ocds

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"procfin/contracts"
	"procfin/platform/money"
)

// awardResult is what an award gave, for its contracts.
type awardResult struct {
	refused    bool
	reason     string
	notices    []contracts.AwardNoticeDoc
	amount     money.Amount
	currency   string
	nSuppliers int
}

type ocidMapper struct {
	rd      *reader
	ocid    string
	rel     map[string]any
	parties *idList
}

func (rd *reader) mapOCID(ocid string, rel map[string]any) {
	m := &ocidMapper{rd: rd, ocid: ocid, rel: rel}
	m.parties, _ = rel["parties"].(*idList)
	tender := obj(rel["tender"])
	purchaser, hasPurchaser := m.purchaser(tender)
	results := map[string]*awardResult{}
	if awards, _ := rel["awards"].(*idList); awards != nil {
		for _, id := range awards.order {
			results[id] = m.award(id, awards.items[id], tender, purchaser, hasPurchaser)
		}
	}
	if cs, _ := rel["contracts"].(*idList); cs != nil {
		for _, id := range cs.order {
			m.contract(id, cs.items[id], results)
		}
	}
}

func (m *ocidMapper) refuse(kind, ref, reason, format string, args ...any) {
	m.rd.refuse(Refusal{OCID: m.ocid, Kind: kind, Ref: ref, Reason: reason, Detail: fmt.Sprintf(format, args...)})
}

func (m *ocidMapper) note(kind, ref, code, format string, args ...any) {
	m.rd.note(Note{OCID: m.ocid, Kind: kind, Ref: ref, Code: code, Detail: fmt.Sprintf(format, args...)})
}

// purchaser finds the buyer (or procuring entity) of the ocid.
func (m *ocidMapper) purchaser(tender map[string]any) (contracts.Party, bool) {
	var cands []map[string]any
	cands = append(cands, m.partiesWithRole("buyer")...)
	if b := obj(m.rel["buyer"]); b != nil {
		cands = append(cands, m.resolve(b))
	}
	cands = append(cands, m.partiesWithRole("procuringEntity")...)
	if pe := obj(tender["procuringEntity"]); pe != nil {
		cands = append(cands, m.resolve(pe))
	}
	for _, p := range cands {
		id := partyID(p)
		if id == "" {
			continue
		}
		name := str(p, "name")
		if name == "" {
			name = str(obj(p["identifier"]), "legalName")
		}
		return contracts.Party{ID: id, Name: name}, true
	}
	return contracts.Party{}, false
}

func (m *ocidMapper) partiesWithRole(role string) []map[string]any {
	if m.parties == nil {
		return nil
	}
	var out []map[string]any
	for _, id := range m.parties.order {
		p := m.parties.items[id]
		roles, _ := p["roles"].([]any)
		for _, r := range roles {
			if s, _ := r.(string); s == role {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// resolve returns the party an organization reference names, the reference
// itself when it names none (OCDS 1.0 puts whole organizations inline).
func (m *ocidMapper) resolve(ref map[string]any) map[string]any {
	if id, st := idOf(ref["id"]); st == idOK {
		if p := m.parties.get(id); p != nil {
			return p
		}
	}
	return ref
}

// partyID is "scheme-id" of the party's identifier, the identifier id when
// it has no scheme, else the party id.
func partyID(p map[string]any) string {
	ident := obj(p["identifier"])
	if id, st := idOf(ident["id"]); st == idOK {
		if scheme := str(ident, "scheme"); scheme != "" {
			return scheme + "-" + id
		}
		return id
	}
	if id, st := idOf(p["id"]); st == idOK {
		return id
	}
	return ""
}

// uscc finds a unified social credit code among the identifiers of the
// organizations given (a party and the reference to it).
func (m *ocidMapper) uscc(orgs ...map[string]any) (string, bool) {
	var idents []map[string]any
	for _, o := range orgs {
		if o == nil {
			continue
		}
		if id := obj(o["identifier"]); id != nil {
			idents = append(idents, id)
		}
		more, _ := o["additionalIdentifiers"].([]any)
		for _, a := range more {
			if id := obj(a); id != nil {
				idents = append(idents, id)
			}
		}
	}
	for _, ident := range idents {
		if strings.EqualFold(str(ident, "scheme"), "CN-USCC") {
			if id, st := idOf(ident["id"]); st == idOK {
				return strings.ToUpper(id), true
			}
		}
	}
	if m.rd.opts.ValidUSCC != nil {
		for _, ident := range idents {
			if id, st := idOf(ident["id"]); st == idOK && m.rd.opts.ValidUSCC(id) {
				return strings.ToUpper(id), true
			}
		}
	}
	return "", false
}

func awardStatus(v any) (string, bool) {
	switch v {
	case nil, "", "active", "pending":
		return contracts.StatusActive, true
	case "cancelled", "unsuccessful":
		return contracts.StatusCancelled, true
	}
	return "", false
}

func contractStatus(v any) (string, bool) {
	switch v {
	case nil, "", "active", "pending":
		return contracts.StatusActive, true
	case "cancelled":
		return contracts.StatusCancelled, true
	case "terminated":
		return contracts.StatusTerminated, true
	}
	return "", false
}

func (m *ocidMapper) award(id string, a, tender map[string]any, purchaser contracts.Party, hasPurchaser bool) *awardResult {
	res := &awardResult{}
	refuse := func(reason, format string, args ...any) *awardResult {
		res.refused, res.reason = true, reason
		m.refuse(KindAward, id, reason, format, args...)
		return res
	}
	status, ok := awardStatus(a["status"])
	if !ok {
		return refuse(ReasonInvalidStatus, "award status %s is not one of pending, active, cancelled, unsuccessful", show(a["status"]))
	}
	sv, hasSuppliers := a["suppliers"]
	suppliers, isArr := sv.([]any)
	if hasSuppliers && sv != nil && !isArr {
		return refuse(ReasonAwardWithoutSupplier, "award suppliers is %s, not an array", show(sv))
	}
	if len(suppliers) == 0 {
		return refuse(ReasonAwardWithoutSupplier, "award has no suppliers")
	}
	value := obj(a["value"])
	if value["amount"] == nil {
		return refuse(ReasonAwardWithoutValue, "award has no value.amount")
	}
	amount, rounded, err := parseAmount(value["amount"])
	if err != nil {
		return refuse(ReasonInvalidAmount, "award value.amount: %v", err)
	}
	currency := str(value, "currency")
	if currency == "" {
		return refuse(ReasonAwardWithoutValue, "award value has no currency")
	}
	if a["date"] == nil {
		return refuse(ReasonInvalidDate, "award has no date")
	}
	awardedOn, err := parseDay(a["date"])
	if err != nil {
		return refuse(ReasonInvalidDate, "award date: %v", err)
	}
	if !hasPurchaser {
		return refuse(ReasonPurchaserMissing, "no party with role buyer or procuringEntity, nor a buyer or tender.procuringEntity, has an identifier or id")
	}
	if rounded {
		m.note(KindAward, id, NoteAmountRounded, "award value.amount %s rounded half-up to %s", value["amount"], amount)
	}
	projectName := str(tender, "title")
	if projectName == "" {
		projectName = str(a, "title")
	}
	res.amount, res.currency, res.nSuppliers = amount, currency, len(suppliers)
	seen := map[string]bool{}
	for i, sv := range suppliers {
		ref := obj(sv)
		if ref == nil {
			m.refuse(KindAward, id, ReasonSupplierWithoutUSCC, "suppliers[%d] is %s, not an organization", i, show(sv))
			continue
		}
		party := ref
		if rid, st := idOf(ref["id"]); st == idBad {
			m.refuse(KindAward, id, ReasonIDTypeMismatch, "suppliers[%d] has id %s: an id is a string or an integer", i, show(ref["id"]))
			continue
		} else if st == idOK {
			if p := m.parties.get(rid); p != nil {
				party = p
			}
		}
		name := str(ref, "name")
		if name == "" {
			name = str(party, "name")
		}
		uscc, ok := m.uscc(party, ref)
		if !ok {
			m.refuse(KindAward, id, ReasonSupplierWithoutUSCC, "supplier %q (identifier %s) has no CN-USCC identifier and no identifier that is a valid USCC", name, describeIdentifier(party, ref))
			continue
		}
		if seen[uscc] {
			continue // the same supplier twice: one notice
		}
		seen[uscc] = true
		no := m.ocid + "/" + id
		if len(suppliers) > 1 {
			no += "/" + uscc
		}
		doc := contracts.AwardNoticeDoc{
			NoticeNo:          no,
			ProjectNo:         m.ocid,
			ProjectName:       projectName,
			Purchaser:         purchaser,
			Supplier:          contracts.SupplierRef{USCC: uscc, Name: name},
			Amount:            amount,
			Currency:          currency,
			AwardedOn:         awardedOn,
			ProcurementMethod: str(tender, "procurementMethod"),
			Status:            status,
		}
		res.notices = append(res.notices, doc)
		m.rd.batch.Notices = append(m.rd.batch.Notices, Notice{OCID: m.ocid, Doc: doc})
	}
	if len(res.notices) == 0 {
		res.refused, res.reason = true, ReasonSupplierWithoutUSCC
	}
	return res
}

func describeIdentifier(orgs ...map[string]any) string {
	for _, o := range orgs {
		ident := obj(o["identifier"])
		if id, st := idOf(ident["id"]); st == idOK {
			if s := str(ident, "scheme"); s != "" {
				return fmt.Sprintf("%s %q", s, clip(id))
			}
			return fmt.Sprintf("%q", clip(id))
		}
	}
	return "none"
}

func (m *ocidMapper) contract(id string, c map[string]any, awards map[string]*awardResult) {
	refuse := func(reason, format string, args ...any) {
		m.refuse(KindContract, id, reason, format, args...)
	}
	aid, st := idOf(c["awardID"])
	switch st {
	case idMissing:
		refuse(ReasonContractAwardMissing, "contract has no awardID")
		return
	case idBad:
		refuse(ReasonIDTypeMismatch, "contract awardID is %s: an id is a string or an integer", show(c["awardID"]))
		return
	}
	award := awards[aid]
	if award == nil {
		refuse(ReasonContractAwardMissing, "awardID %q names no award of this ocid", clip(aid))
		return
	}
	if award.refused {
		refuse(ReasonContractAwardRefused, "its award %q was refused (%s)", clip(aid), award.reason)
		return
	}
	status, ok := contractStatus(c["status"])
	if !ok {
		refuse(ReasonInvalidStatus, "contract status %s is not one of pending, active, cancelled, terminated", show(c["status"]))
		return
	}
	notice, ok := m.noticeFor(c, award)
	if !ok {
		refuse(ReasonContractSupplierAmbiguous, "award %q names %d suppliers and the contract's suppliers do not pick exactly one of its notices", clip(aid), award.nSuppliers)
		return
	}
	value := obj(c["value"])
	if value["amount"] == nil {
		refuse(ReasonInvalidAmount, "contract has no value.amount")
		return
	}
	amount, rounded, err := parseAmount(value["amount"])
	if err != nil {
		refuse(ReasonInvalidAmount, "contract value.amount: %v", err)
		return
	}
	currency := str(value, "currency")
	if currency == "" {
		currency = award.currency
	}
	if currency != award.currency {
		refuse(ReasonCurrencyMismatch, "contract in %s, its award %q in %s", clip(currency), clip(aid), clip(award.currency))
		return
	}
	if amount.GreaterThan(award.amount) {
		refuse(ReasonContractValueExceeds, "contract amount %s %s is above its award's %s", amount, currency, award.amount)
		return
	}
	if c["dateSigned"] == nil {
		refuse(ReasonInvalidDate, "contract has no dateSigned (not signed)")
		return
	}
	signedOn, err := parseDay(c["dateSigned"])
	if err != nil {
		refuse(ReasonInvalidDate, "contract dateSigned: %v", err)
		return
	}
	var period contracts.Period
	p := obj(c["period"])
	if v := p["startDate"]; v != nil {
		if period.Start, err = parseDay(v); err != nil {
			refuse(ReasonInvalidDate, "contract period.startDate: %v", err)
			return
		}
	}
	if v := p["endDate"]; v != nil {
		if period.End, err = parseDay(v); err != nil {
			refuse(ReasonInvalidDate, "contract period.endDate: %v", err)
			return
		}
	}
	if !period.Start.IsZero() && !period.End.IsZero() && period.End.Before(period.Start) {
		refuse(ReasonInvalidDate, "contract period ends (%s) before it starts (%s)", period.End, period.Start)
		return
	}
	if rounded {
		m.note(KindContract, id, NoteAmountRounded, "contract value.amount %s rounded half-up to %s", value["amount"], amount)
	}
	doc := contracts.ContractDoc{
		ContractNo:   m.ocid + "/" + id,
		NoticeNo:     notice.NoticeNo,
		Purchaser:    notice.Purchaser,
		Supplier:     notice.Supplier,
		Amount:       amount,
		Currency:     currency,
		SignedOn:     signedOn,
		Period:       period,
		PaymentTerms: m.paymentTerms(id, c),
		Status:       status,
	}
	m.rd.batch.Contracts = append(m.rd.batch.Contracts, Contract{OCID: m.ocid, Doc: doc})
}

// noticeFor picks the award notice a contract belongs to: the award's only
// one, or the one whose supplier the contract's suppliers (an OCDS
// extension) name.
func (m *ocidMapper) noticeFor(c map[string]any, award *awardResult) (contracts.AwardNoticeDoc, bool) {
	if award.nSuppliers == 1 && len(award.notices) == 1 {
		return award.notices[0], true
	}
	sups, _ := c["suppliers"].([]any)
	var found []contracts.AwardNoticeDoc
	for _, sv := range sups {
		ref := obj(sv)
		if ref == nil {
			continue
		}
		party := ref
		if rid, st := idOf(ref["id"]); st == idOK {
			if p := m.parties.get(rid); p != nil {
				party = p
			}
		}
		u, ok := m.uscc(party, ref)
		if !ok {
			continue
		}
		for _, n := range award.notices {
			if n.Supplier.USCC == u {
				found = append(found, n)
			}
		}
	}
	if len(found) != 1 {
		return contracts.AwardNoticeDoc{}, false
	}
	return found[0], true
}

// paymentTerms reads implementation.milestones of type "payment".
func (m *ocidMapper) paymentTerms(id string, c map[string]any) []contracts.PaymentTerm {
	terms := []contracts.PaymentTerm{}
	ms, _ := obj(c["implementation"])["milestones"].([]any)
	for i, v := range ms {
		ml := obj(v)
		if str(ml, "type") != "payment" {
			continue
		}
		ref := fmt.Sprintf("implementation.milestones[%d]", i)
		if mid, st := idOf(ml["id"]); st == idOK {
			ref = "milestone " + strconvQuote(mid)
		}
		if ml["dueDate"] == nil || obj(ml["value"])["amount"] == nil {
			m.note(KindContract, id, NotePaymentMilestoneIgnored, "payment %s has no dueDate or no value.amount", ref)
			continue
		}
		due, err := parseDay(ml["dueDate"])
		if err != nil {
			m.note(KindContract, id, NotePaymentMilestoneIgnored, "payment %s dueDate: %v", ref, err)
			continue
		}
		amount, rounded, err := parseAmount(obj(ml["value"])["amount"])
		if err != nil {
			m.note(KindContract, id, NotePaymentMilestoneIgnored, "payment %s value.amount: %v", ref, err)
			continue
		}
		if rounded {
			m.note(KindContract, id, NoteAmountRounded, "payment %s value.amount rounded half-up to %s", ref, amount)
		}
		cond := str(ml, "title")
		if cond == "" {
			cond = str(ml, "code")
		}
		terms = append(terms, contracts.PaymentTerm{DueOn: due, Amount: amount, Condition: cond})
	}
	return terms
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", clip(s)) }

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

var (
	amountLimit = decimal.New(1, 15)
	plainDecRE  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

// parseAmount reads an OCDS amount: a JSON number (or a string holding a
// plain decimal), exactly, rounded half-up to two places.
func parseAmount(v any) (a money.Amount, rounded bool, err error) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = string(t)
	case string:
		s = strings.TrimSpace(t)
		if !plainDecRE.MatchString(s) {
			return a, false, fmt.Errorf("%s is not a number", show(v))
		}
	default:
		return a, false, fmt.Errorf("%s is not a number", show(v))
	}
	if len(s) > 64 {
		return a, false, fmt.Errorf("%s has too many digits", clip(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return a, false, fmt.Errorf("%s is not a decimal number", clip(s))
	}
	if e := d.Exponent(); e < -64 || e > 20 {
		return a, false, fmt.Errorf("%s is out of range", clip(s))
	}
	if d.IsNegative() {
		return a, false, fmt.Errorf("%s is negative", clip(s))
	}
	r := d.Round(2)
	if r.GreaterThanOrEqual(amountLimit) {
		return a, false, fmt.Errorf("%s is too large (15 integer digits at most)", clip(s))
	}
	return money.AmountFromDecimal(d), !r.Equal(d), nil
}

// parseDay reads an OCDS date-time (RFC 3339) as its Asia/Shanghai calendar
// date. A bare date YYYY-MM-DD is that date; a date-time without an offset
// is taken as Asia/Shanghai time.
func parseDay(v any) (money.Date, error) {
	d, err := parseDayAny(v)
	if err == nil && (d.Year() < 1900 || d.Year() > 9999) {
		return money.Date{}, fmt.Errorf("%s is out of range (years 1900 to 9999)", show(v))
	}
	return d, err
}

func parseDayAny(v any) (money.Date, error) {
	s, ok := v.(string)
	if !ok {
		return money.Date{}, fmt.Errorf("%s is not a date string", show(v))
	}
	if len(s) == len(time.DateOnly) {
		d, err := money.ParseDate(s)
		if err != nil {
			return money.Date{}, fmt.Errorf("%q is not a date", clip(s))
		}
		return d, nil
	}
	t, err := parseInstant(s)
	if err != nil {
		return money.Date{}, err
	}
	return money.DateOf(t), nil
}

// parseInstant reads an RFC 3339 date-time (or YYYY-MM-DD, or a date-time
// without offset, in Asia/Shanghai).
func parseInstant(s string) (time.Time, error) {
	if len(s) <= 64 {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, money.Shanghai); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, s, money.Shanghai); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", clip(s))
}
