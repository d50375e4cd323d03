package lending

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// Alerts for the finance officers (api.md 1.1, GET /v1/alerts): each is
// read from the state that raises it, never stored apart from it (the
// view alerts, one query over every kind).

// Alert kinds.
const (
	AlertMisdirectedPayment          = "misdirected_payment"
	AlertUnmatchedPayment            = "unmatched_payment"
	AlertDisbursedBeforeConfirmation = "disbursed_before_confirmation"
	AlertAmendmentPending            = "amendment_pending"
	AlertOverdueLoan                 = "overdue_loan"
	AlertDeadDelivery                = "dead_delivery"
)

// AlertKinds are the kinds of alert, in the order the pages show them.
var AlertKinds = []string{AlertMisdirectedPayment, AlertUnmatchedPayment, AlertDisbursedBeforeConfirmation,
	AlertAmendmentPending, AlertOverdueLoan, AlertDeadDelivery}

// Alert is one thing an officer should look at.
type Alert struct {
	Kind          string    `db:"kind" json:"kind"`
	RaisedAt      time.Time `db:"raised_at" json:"raised_at"`
	EntityType    string    `db:"entity_type" json:"entity_type"` // contract_payment, application, contract, loan, delivery
	EntityID      string    `db:"entity_id" json:"entity_id"`
	ContractID    *string   `db:"contract_id" json:"contract_id"`
	ContractNo    string    `db:"contract_no" json:"contract_no,omitempty"`
	ApplicationID *string   `db:"application_id" json:"application_id"`
	SupplierName  string    `db:"supplier_name" json:"supplier_name,omitempty"`
	BankID        *string   `db:"bank_id" json:"bank_id"`
	BankName      string    `db:"bank_name" json:"bank_name,omitempty"`
	// Detail says what happened, in English; the web page words it from
	// Kind and the fields.
	Detail  string `db:"detail" json:"detail"`
	SortKey string `db:"sort_key" json:"-"`
}

// AlertPage is a page of alerts, newest first.
type AlertPage struct {
	Items      []Alert `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// alertCursor is the keyset of the alerts' order: the last alert's time
// and sort key, opaque to the client.
func alertCursor(a Alert) string {
	return base64.RawURLEncoding.EncodeToString([]byte(a.RaisedAt.UTC().Format(time.RFC3339Nano) + "|" + a.SortKey))
}

func parseAlertCursor(c string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", false
	}
	at, key, ok := strings.Cut(string(b), "|")
	if !ok || key == "" {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, "", false
	}
	return t, key, true
}

// Alerts lists the open alerts, newest first, kind one of the Alert*
// kinds or "" for all, from the opaque cursor ("" for the first page).
// Returns invalid naming kind, cursor or limit (1 to 500) when bad.
func (s *Service) Alerts(ctx context.Context, kind, cursor string, limit int) (AlertPage, error) {
	var fe []errs.FieldError
	known := kind == ""
	for _, k := range AlertKinds {
		known = known || k == kind
	}
	if !known {
		fe = append(fe, errs.Field("kind", errs.FieldOneOf, strings.Join(AlertKinds, ", ")))
	}
	var at any
	var key string
	if cursor != "" {
		t, k, ok := parseAlertCursor(cursor)
		if !ok {
			fe = append(fe, errs.Field("cursor", errs.FieldInvalid))
		}
		at, key = t, k
	}
	if limit < 1 || limit > 500 {
		fe = append(fe, errs.Field("limit", errs.FieldOutOfRange, 1, 500))
	}
	if len(fe) > 0 {
		return AlertPage{}, errs.InvalidFields(fe...)
	}
	list := []Alert{}
	err := s.db.SelectContext(ctx, &list, `
		SELECT kind, raised_at, entity_type, entity_id, contract_id, contract_no, application_id, supplier_name,
			bank_id, bank_name, detail, sort_key
		FROM alerts
		WHERE ($1 = '' OR kind = $1) AND ($2::timestamptz IS NULL OR (raised_at, sort_key) < ($2::timestamptz, $3))
		ORDER BY raised_at DESC, sort_key DESC LIMIT $4`, kind, at, key, limit+1)
	if err != nil {
		return AlertPage{}, postgres.Translate(err)
	}
	page := AlertPage{Items: list}
	if len(list) > limit {
		page.Items = list[:limit]
		page.NextCursor = alertCursor(list[limit-1])
	}
	return page, nil
}
