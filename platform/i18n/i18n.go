// Package i18n is procfin's one catalogue of user-visible text: every
// page, history entry, reason, problem shown on a page, consent statement,
// computation step and exported file's header, in zh-CN first and in
// English. Its parts live in the package's files, one per area (web.go,
// …), each registering its zh-CN and en maps in an init; a key appears in
// one part only, and in both languages (TestCatalogueComplete).
package i18n

import (
	"fmt"
	"slices"
)

// The languages, zh-CN first: the default for anyone who has not chosen.
const (
	ZH      = "zh-CN"
	EN      = "en"
	Default = ZH
)

// Langs are the catalogue's languages, the default first.
var Langs = []string{ZH, EN}

var (
	catalogue = map[string]map[string]string{ZH: {}, EN: {}}
	dupes     []string // keys registered twice (TestCatalogueComplete)
	parts     [][2]map[string]string
)

// register adds a part of the catalogue, zh-CN and en.
func register(zh, en map[string]string) {
	parts = append(parts, [2]map[string]string{zh, en})
	for i, m := range []map[string]string{zh, en} {
		for k, v := range m {
			if _, seen := catalogue[Langs[i]][k]; seen {
				dupes = append(dupes, Langs[i]+":"+k)
			}
			catalogue[Langs[i]][k] = v
		}
	}
}

// Lang is lang if the catalogue has it, else the default.
func Lang(lang string) string {
	if Known(lang) {
		return lang
	}
	return Default
}

// Known reports whether lang is one of the catalogue's languages.
func Known(lang string) bool {
	_, ok := catalogue[lang]
	return ok
}

// Has reports whether the catalogue has key (in the default language, so
// in every language).
func Has(key string) bool {
	_, ok := catalogue[Default][key]
	return ok
}

// HasIn reports whether the catalogue has key in lang itself.
func HasIn(lang, key string) bool {
	_, ok := catalogue[lang][key]
	return ok
}

// T returns the message key in lang (else in the default language, else
// the key itself), formatted with args.
func T(lang, key string, args ...any) string {
	msg, ok := catalogue[lang][key]
	if !ok {
		if msg, ok = catalogue[Default][key]; !ok {
			msg = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Keys are the catalogue's keys in the default language, sorted.
func Keys() []string {
	ks := make([]string, 0, len(catalogue[Default]))
	for k := range catalogue[Default] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
