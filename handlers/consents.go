package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/lending"
)

// listConsents lists the supplier's own consents, newest first.
func (s *server) listConsents(c *gin.Context) {
	before, limit, err := page(c)
	if err != nil {
		fail(c, err)
		return
	}
	list, err := s.lending.Consents(c.Request.Context(), lendingScope(c), before, limit+1)
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, pageOf(list, limit, func(i int) int64 { return list[i].Seq }))
}

// revokeConsent revokes one of the supplier's consents and answers it, with
// its application's status after.
func (s *server) revokeConsent(c *gin.Context) {
	out, err := s.lending.RevokeConsent(c.Request.Context(), lendingScope(c), c.Param("id"), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	reply(c, http.StatusOK, out)
}

// consentLang is the language of the consent statement an API caller is
// shown, from its Accept-Language (RFC 9110 12.5.4): en when English is
// preferred to Chinese, else zh-CN (also when neither is named, or the
// header is not understood).
func consentLang(header string) string {
	best, bestQ := lending.LangZH, -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		var lang string
		switch {
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = lending.LangEN
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = lending.LangZH
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = lang, q
		}
	}
	return best
}
