package handlers

import (
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/subsidies"
)

// subsidyScope is what the caller may see of claims: a supplier user its
// own supplier's, a purchaser user none, officers everything.
func subsidyScope(c *gin.Context) subsidies.Scope {
	p, _ := principal(c)
	switch p.Role {
	case auth.RoleSupplier:
		return subsidies.Scope{SupplierUSCC: p.SupplierUSCC}
	case auth.RolePurchaser:
		return subsidies.Scope{PurchaserIssuerID: p.PurchaserIssuerID, PurchaserID: p.PurchaserID}
	}
	return subsidies.Scope{}
}

func (s *server) addSubsidyPolicy(c *gin.Context) {
	var req subsidies.PolicyInput
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	p, err := s.subsidies.AddPolicy(c.Request.Context(), req, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusCreated, p)
}

func (s *server) listSubsidyPolicies(c *gin.Context) {
	list, err := s.subsidies.Policies(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, gin.H{"items": list})
}

func (s *server) listSubsidyClaims(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	status := c.Query("status")
	if status != "" && !subsidies.KnownStatus(status) {
		fail(c, errs.InvalidFields(errs.Field("status", errs.FieldOneOf, "pending, approved, rejected, ineligible, paid")))
		return
	}
	list, err := s.subsidies.Claims(c.Request.Context(), subsidyScope(c), status, before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func (s *server) getSubsidyClaim(c *gin.Context) {
	cl, err := s.subsidies.Claim(c.Request.Context(), subsidyScope(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, cl)
}

func (s *server) approveSubsidyClaim(c *gin.Context) {
	cl, err := s.subsidies.Approve(c.Request.Context(), c.Param("id"), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, cl)
}

func (s *server) rejectSubsidyClaim(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := bindChecked(c, &req, func() []errs.FieldError { return subsidies.CheckRejection(req.Reason) }); err != nil {
		fail(c, err)
		return
	}
	cl, err := s.subsidies.Reject(c.Request.Context(), c.Param("id"), req.Reason, actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, cl)
}

func (s *server) listSubsidyBatches(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.subsidies.Batches(c.Request.Context(), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

func (s *server) createSubsidyBatch(c *gin.Context) {
	b, err := s.subsidies.CreateBatch(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", "/v1/subsidy-batches/"+b.ID+".csv")
	reply(c, http.StatusCreated, b)
}

func (s *server) closeSubsidyBatch(c *gin.Context) {
	b, err := s.subsidies.CloseBatch(c.Request.Context(), c.Param("id"), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, b)
}

// exportSubsidyBatch serves /v1/subsidy-batches/{id}.csv and {id}.xlsx.
// Gin cannot route a parameter followed by a literal, so the one route
// takes the whole last segment and splits it here.
func (s *server) exportSubsidyBatch(c *gin.Context) {
	file := c.Param("file")
	id, ext, _ := strings.Cut(file, ".")
	if !ids.Valid(id) || (ext != subsidies.CSV && ext != subsidies.XLSX) {
		fail(c, errs.E(errs.NotFound, "no route GET %s: batches export as /v1/subsidy-batches/{id}.csv or .xlsx", c.Request.URL.Path))
		return
	}
	lang, err := fileLang(c)
	if err != nil {
		fail(c, err)
		return
	}
	b, lines, err := s.subsidies.BatchLines(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	f, err := subsidies.BatchFile(b, lines, ext, lang)
	if err != nil {
		fail(c, errs.Wrap(errs.Internal, err, "export the batch"))
		return
	}
	sendFile(c, f)
}

// fileLang is the language of an exported file's words: ?lang=, else the
// caller's Accept-Language, else zh-CN. Returns invalid naming lang.
func fileLang(c *gin.Context) (string, error) {
	lang, err := subsidies.ExportLang(c.Query("lang"))
	if err != nil || lang != "" {
		return lang, err
	}
	return consentLang(c.GetHeader("Accept-Language")), nil
}

// sendFile answers with an exported file, as an attachment with its name.
func sendFile(c *gin.Context, f subsidies.File) {
	c.Header("Content-Disposition", f.Disposition())
	c.Data(http.StatusOK, f.ContentType, f.Body)
}

func (s *server) stats(c *gin.Context) {
	st, err := s.subsidies.Stats(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, st)
}

// bankReport serves /v1/stats/bank-report.csv and .xlsx?month=YYYY-MM.
func (s *server) bankReport(c *gin.Context) {
	format := strings.TrimPrefix(path.Ext(c.FullPath()), ".")
	month := c.Query("month")
	d, lang, err := subsidies.ReportQuery(month, c.Query("lang"))
	if err != nil {
		fail(c, err)
		return
	}
	if lang == "" {
		lang = consentLang(c.GetHeader("Accept-Language"))
	}
	lines, err := s.subsidies.BankReport(c.Request.Context(), d)
	if err != nil {
		fail(c, err)
		return
	}
	f, err := subsidies.BankReportFile(month, lines, format, lang)
	if err != nil {
		fail(c, errs.Wrap(errs.Internal, err, "write the report"))
		return
	}
	sendFile(c, f)
}
