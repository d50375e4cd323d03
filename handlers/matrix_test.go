package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Who may call a route.
type access int

const (
	public     access = iota // anyone
	signedOnly               // a signed issuer or bank message, no user
	anyUser                  // any logged-in user
	adminOnly
	reviewersOnly // officers and administrators
	officerOnly
	readersAll    // suppliers (their own), officers, administrators
	suppliersOnly // suppliers (their own)
	supplierOrOfficer
	docReaders         // readersAll and purchasers (their own)
	purchaserOrOfficer // purchasers (their own), officers
	purchaserOrSigned  // purchasers (their own) or their signed systems
	contractParties    // suppliers and purchasers (their own), officers
)

// purchaserMay reports whether a purchaser user may call a route of the
// class (its own resources only); it is refused (403) every other route.
func purchaserMay(acc access) bool {
	return acc == anyUser || acc == docReaders || acc == purchaserOrOfficer || acc == purchaserOrSigned ||
		acc == contractParties
}

// routeAccess classifies every route; an unclassified route fails the
// matrix, so a new route cannot escape it.
var routeAccess = map[string]access{
	"GET /healthz": public, "GET /readyz": public, "GET /metrics": adminOnly, "GET /openapi.json": public,
	"GET /.well-known/jwks.json": public, "POST /v1/auth/token": public,
	"POST /v1/award-notices": signedOnly, "POST /v1/contracts": signedOnly, "POST /v1/bank-events": signedOnly,
	"GET /v1/me":           anyUser,
	"POST /v1/admin/users": adminOnly, "POST /v1/admin/users/:id/disable": adminOnly, "POST /v1/admin/issuers": adminOnly, "POST /v1/admin/suppliers": adminOnly,
	"POST /v1/admin/banks": adminOnly, "GET /v1/admin/deliveries": adminOnly, "POST /v1/admin/deliveries/:id/requeue": adminOnly,
	"POST /v1/admin/subsidy-policies": adminOnly,
	"GET /v1/audit":                   reviewersOnly, "GET /v1/admin/subsidy-policies": reviewersOnly,
	"GET /v1/award-notices": docReaders, "GET /v1/award-notices/:id": docReaders,
	"GET /v1/contracts": docReaders, "GET /v1/contracts/:id": docReaders,
	"POST /v1/admin/purchasers": adminOnly, "GET /v1/admin/purchasers": reviewersOnly, "GET /v1/admin/suppliers": reviewersOnly,
	"GET /v1/credit-lines": readersAll, "GET /v1/credit-applications": readersAll, "GET /v1/credit-applications/:id": readersAll,
	"GET /v1/loans": readersAll, "GET /v1/loans/:id": readersAll,
	"GET /v1/consents": suppliersOnly, "POST /v1/consents/:id/revoke": suppliersOnly,
	"POST /v1/contracts/:id/verify": supplierOrOfficer,
	"GET /v1/subsidy-claims":        supplierOrOfficer, "GET /v1/subsidy-claims/:id": supplierOrOfficer,
	"POST /v1/credit-applications": suppliersOnly, "POST /v1/credit-applications/:id/cancel": suppliersOnly,
	"POST /v1/subsidy-claims/:id/approve": officerOnly, "POST /v1/subsidy-claims/:id/reject": officerOnly,
	"GET /v1/subsidy-batches": officerOnly, "POST /v1/subsidy-batches": officerOnly,
	"POST /v1/subsidy-batches/:id/close": officerOnly, "GET /v1/subsidy-batches/:file": officerOnly,
	"GET /v1/stats": officerOnly, "GET /v1/stats/bank-report.csv": officerOnly,
	"GET /v1/stats/bank-report.xlsx":                     officerOnly,
	"POST /v1/contracts/:id/amendments/:version/resolve": officerOnly,
	"GET /v1/receivables":                                purchaserOrOfficer,
	"POST /v1/contracts/:id/confirmation":                purchaserOrSigned, "POST /v1/contracts/:id/refusal": purchaserOrSigned,
	"POST /v1/admin/payment-systems": adminOnly, "POST /v1/contract-payments": signedOnly,
	"GET /v1/contracts/:id/payments": contractParties, "GET /v1/alerts": officerOnly,
	"POST /v1/financing-intents": suppliersOnly, "GET /v1/financing-intents": supplierOrOfficer,
	"GET /v1/financing-intents/:id": supplierOrOfficer, "POST /v1/financing-intents/:id/accept": suppliersOnly,
	"POST /v1/financing-intents/:id/cancel": suppliersOnly,
}

var pathParam = regexp.MustCompile(`:[a-z]+`)

// TestAccessMatrix: every route × every role × another tenant's resources.
// Anonymous callers are refused every user route; a supplier is refused
// every route of another role and never sees another supplier's data: its
// ids answer 404 and its lists hold none of them. A purchaser user (of
// another purchaser than A's contract's) is refused every route its role
// may not call and likewise never sees A's data.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	qilu := e.bank("qilu-bank")
	appA, tokA := e.applied(qilu) // supplier A's contract, application…
	qilu.send("m1", "application.approved", appA, approvedData)
	qilu.send("m2", "loan.disbursed", appA, disbursed("D1", "1000.00"))
	_, tokB := e.user("other-firm", "supplier", usccB)
	_, officer := e.user("olga", "officer", "")
	_, admin := e.user("root2", "admin", "")
	_, purchaser := e.purchaserUser("other-unit", "jinan-pprc", "other-unit")

	var ids struct{ contract, notice, loan, consent, intent string }
	var a map[string]any
	json.Unmarshal(e.do("GET", "/v1/credit-applications/"+appA, tokA, nil).body, &a)
	ids.contract = a["contract_id"].(string)
	var c map[string]any
	json.Unmarshal(e.do("GET", "/v1/contracts/"+ids.contract, tokA, nil).body, &c)
	ids.notice = c["notice_id"].(string)
	var loans struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/loans", tokA, nil).body, &loans)
	if len(loans.Items) != 1 {
		t.Fatalf("setup: %d loans", len(loans.Items))
	}
	ids.loan = loans.Items[0]["id"].(string)
	var consents struct{ Items []map[string]any }
	json.Unmarshal(e.do("GET", "/v1/consents", tokA, nil).body, &consents)
	if len(consents.Items) != 1 {
		t.Fatalf("setup: %d consents", len(consents.Items))
	}
	ids.consent = consents.Items[0]["id"].(string)
	intent := e.do("POST", "/v1/financing-intents", tokA, fmt.Sprintf(`{"contract_id": %q, "amount": "1000.00", "term_days": 90,
		"purpose": "materials", "bank_ids": ["qilu-bank"]}`, ids.contract), "Idempotency-Key", "matrix-intent")
	if intent.status != 201 {
		t.Fatalf("setup: publish: %d %s", intent.status, intent.body)
	}
	ids.intent = intent.json(t)["id"].(string)
	secrets := []string{usccA, appA, ids.contract, ids.notice, ids.loan, ids.consent, ids.intent}
	idFor := func(path string) string {
		switch {
		case strings.HasPrefix(path, "/v1/credit-applications"):
			return appA
		case strings.HasPrefix(path, "/v1/contracts"):
			return ids.contract
		case strings.HasPrefix(path, "/v1/award-notices"):
			return ids.notice
		case strings.HasPrefix(path, "/v1/loans"):
			return ids.loan
		case strings.HasPrefix(path, "/v1/consents"):
			return ids.consent
		case strings.HasPrefix(path, "/v1/financing-intents"):
			return ids.intent
		case strings.HasPrefix(path, "/v1/subsidy-batches/:file"):
			return "00000000-0000-0000-0000-000000000000.csv"
		}
		return "1"
	}

	for _, r := range e.h.(*gin.Engine).Routes() {
		key := r.Method + " " + r.Path
		acc, ok := routeAccess[key]
		if !ok {
			t.Errorf("route %s is not in the access matrix: classify it", key)
			continue
		}
		path := pathParam.ReplaceAllStringFunc(r.Path, func(string) string { return idFor(r.Path) })
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			switch acc {
			case public:
				return
			case signedOnly:
				wantProblem(t, e.do(r.Method, path, "", `{}`), http.StatusUnauthorized, "signature_invalid")
				wantProblem(t, e.do(r.Method, path, tokA, `{}`), http.StatusUnauthorized, "signature_invalid") // a user token is no signature
				wantProblem(t, e.do(r.Method, path, purchaser, `{}`), http.StatusUnauthorized, "signature_invalid")
				return
			}
			wantProblem(t, e.do(r.Method, path, "", `{}`, "Idempotency-Key", "m"), http.StatusUnauthorized, "unauthorized")
			res := e.do(r.Method, path, tokB, `{}`, "Idempotency-Key", "m-"+strings.ReplaceAll(key, " ", "_"))
			switch acc {
			case adminOnly, reviewersOnly, officerOnly, purchaserOrOfficer, purchaserOrSigned:
				wantProblem(t, res, http.StatusForbidden, "forbidden")
			default:
				if strings.Contains(r.Path, ":") {
					if res.status != http.StatusNotFound && res.status != http.StatusForbidden {
						t.Fatalf("supplier B on A's %s: %d %s, want 404", path, res.status, res.body)
					}
				} else if r.Method == "GET" && res.status != 200 {
					t.Fatalf("supplier B listing %s: %d %s", path, res.status, res.body)
				}
			}
			for _, s := range secrets {
				if strings.Contains(string(res.body), s) && !strings.Contains(path, s) {
					t.Fatalf("supplier B's answer from %s holds supplier A's %s: %s", path, s, res.body)
				}
			}
			if acc == purchaserOrOfficer || acc == purchaserOrSigned {
				for who, tok := range map[string]string{"officer": officer, "admin": admin} {
					allowed := acc == purchaserOrOfficer && who == "officer"
					res := e.do(r.Method, path, tok, `{}`, "Idempotency-Key", "m3-"+who+strings.ReplaceAll(key, " ", "_"))
					if allowed != (res.status != http.StatusForbidden) || res.status == http.StatusUnauthorized {
						t.Fatalf("%s on %s: %d %s, allowed %v", who, key, res.status, res.body, allowed)
					}
				}
			}
			pres := e.do(r.Method, path, purchaser, `{}`, "Idempotency-Key", "mp-"+strings.ReplaceAll(key, " ", "_"))
			switch {
			case !purchaserMay(acc):
				wantProblem(t, pres, http.StatusForbidden, "forbidden")
			case strings.Contains(r.Path, ":"):
				if pres.status != http.StatusNotFound {
					t.Fatalf("another purchaser on A's %s: %d %s, want 404", path, pres.status, pres.body)
				}
			case r.Method == "GET" && pres.status != 200:
				t.Fatalf("another purchaser listing %s: %d %s", path, pres.status, pres.body)
			}
			for _, s := range secrets {
				if strings.Contains(string(pres.body), s) && !strings.Contains(path, s) {
					t.Fatalf("another purchaser's answer from %s holds A's %s: %s", path, s, pres.body)
				}
			}
			if acc == adminOnly || acc == officerOnly || acc == reviewersOnly || acc == contractParties {
				for who, tok := range map[string]string{"officer": officer, "admin": admin} {
					allowed := acc == reviewersOnly || (acc == adminOnly) == (who == "admin")
					res := e.do(r.Method, path, tok, `{}`, "Idempotency-Key", "m2-"+who+strings.ReplaceAll(key, " ", "_"))
					if !allowed && res.status != http.StatusForbidden {
						t.Fatalf("%s on %s: %d, want 403", who, key, res.status)
					}
					if allowed && (res.status == http.StatusForbidden || res.status == http.StatusUnauthorized) {
						t.Fatalf("%s refused on %s: %d %s", who, key, res.status, res.body)
					}
				}
			}
		})
	}
}
