package web

import "procfin/platform/i18n"

// defaultLang is the interface's first language; English is one click away.
const defaultLang = i18n.Default

// translate returns the message in lang (else in the default language,
// else the key itself), formatted with args, from the one catalogue
// (package i18n).
func translate(lang, key string, args ...any) string { return i18n.T(lang, key, args...) }
