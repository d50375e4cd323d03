package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"procfin/configs"
	"procfin/contracts"
	"procfin/contracts/ocds"
	"procfin/platform/errs"
	"procfin/platform/postgres"
)

// importSummary counts what an import did, over all its files.
type importSummary struct {
	imported, updated, unchanged map[string]int // by document kind
	refused                      map[string]int // by reason
	examples                     map[string]string
}

func newImportSummary() *importSummary {
	return &importSummary{imported: map[string]int{}, updated: map[string]int{}, unchanged: map[string]int{},
		refused: map[string]int{}, examples: map[string]string{}}
}

func (s *importSummary) refuse(reason, example string) {
	s.refused[reason]++
	if _, ok := s.examples[reason]; !ok {
		s.examples[reason] = example
	}
}

func (s *importSummary) count(kind string, o contracts.Outcome) {
	switch o {
	case contracts.Created:
		s.imported[kind]++
	case contracts.NewVersion:
		s.updated[kind]++
	default:
		s.unchanged[kind]++
	}
}

// runImport is `procfin import ocds [--issuer ID] [--charset C] FILE…`.
func runImport(ctx context.Context, fs *flag.FlagSet, rest []string, load func() (configs.Config, error), stdout io.Writer) error {
	if len(rest) == 0 || rest[0] != "ocds" {
		return usageError{errors.New("import: the only source is ocds: procfin import ocds [--issuer ID] FILE…")}
	}
	issuer := fs.String("issuer", "", "the registered `ISSUER` the records belong to (default: each ocid's publisher prefix)")
	charset := fs.String("charset", "", "the files' `CHARSET`: utf-8, gb18030 (or gbk, gb2312) or iso-8859-1 (default: detected)")
	if err := fs.Parse(rest[1:]); err != nil {
		return flagError("import ocds", fs, err)
	}
	files := fs.Args()
	if len(files) == 0 {
		return usageError{errors.New("import ocds: name at least one file")}
	}
	if err := ocds.CheckCharset(*charset); err != nil {
		return usageError{fmt.Errorf("import ocds: --charset: %s", errs.MessageOf(err))}
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	return withDB(ctx, cfg, stdout, func(db *sqlx.DB) error {
		if err := postgres.CheckSchema(ctx, db.DB); err != nil {
			return err
		}
		cs, err := newContracts(cfg, db)
		if err != nil {
			return err
		}
		// The lending service hooks itself on cs: a new version of a
		// financed contract is told to its banks (contract.amended), as
		// when the issuer signs it.
		if _, err := newLending(cfg, db, cs); err != nil {
			return err
		}
		sum := newImportSummary()
		for _, file := range files {
			if err := importFile(ctx, cs, file, *issuer, *charset, sum, stdout); err != nil {
				return err
			}
		}
		printSummary(stdout, sum)
		return nil
	})
}

func importFile(ctx context.Context, cs *contracts.Service, file, issuer, charset string, sum *importSummary, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import ocds: %w", err)
	}
	defer f.Close()
	name := filepath.Base(file)
	batch, err := ocds.Read(f, ocds.Options{
		ValidUSCC: func(s string) bool { _, err := contracts.ParseUSCC(s); return err == nil },
		Charset:   charset,
		Progress: func(done int) {
			if done%1000 == 0 {
				fmt.Fprintf(stdout, "%s: %d releases read\n", name, done)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("import ocds %s: %s", name, errs.MessageOf(err))
	}
	fmt.Fprintf(stdout, "%s: %d releases, %d ocids: %d award notices and %d contracts to store, %d refused while reading\n",
		name, batch.Releases, batch.OCIDs, len(batch.Notices), len(batch.Contracts), len(batch.Refused))
	for i, n := range batch.Notes {
		if i == 5 {
			fmt.Fprintf(stdout, "  … and %d more notes\n", len(batch.Notes)-5)
			break
		}
		fmt.Fprintf(stdout, "  note %s %s %s: %s\n", n.OCID, n.Kind, n.Ref, n.Detail)
	}
	for _, r := range batch.Refused {
		sum.refuse(r.Reason, fmt.Sprintf("%s %s %s: %s", r.OCID, r.Kind, r.Ref, r.Detail))
	}
	issuerOf := func(ocid string) string {
		if issuer != "" {
			return issuer
		}
		return ocidPrefix(ocid)
	}
	known := map[string]bool{}
	registered := func(id string) bool {
		if ok, seen := known[id]; seen {
			return ok
		}
		_, err := cs.Issuer(ctx, id)
		known[id] = err == nil
		return err == nil
	}
	src := func(ocid string) contracts.Source {
		return contracts.Source{Kind: "ocds_import", MessageID: name + "#" + ocid, Actor: "cli:import"}
	}
	for _, n := range batch.Notices {
		id := issuerOf(n.OCID)
		if !registered(id) {
			sum.refuse("issuer_not_registered", fmt.Sprintf("%s: register issuer %q first, or pass --issuer", n.OCID, id))
			continue
		}
		_, outcome, err := cs.SubmitAwardNotice(ctx, id, n.Doc, src(n.OCID))
		if err != nil {
			if errs.CodeOf(err) == errs.Internal || errs.CodeOf(err) == errs.Unavailable {
				return fmt.Errorf("import ocds %s: %w", name, err)
			}
			sum.refuse(reasonOf(err), fmt.Sprintf("%s award %s: %s", n.OCID, n.Doc.NoticeNo, describe(err)))
			continue
		}
		sum.count("award notices", outcome)
	}
	for _, c := range batch.Contracts {
		id := issuerOf(c.OCID)
		if !registered(id) {
			sum.refuse("issuer_not_registered", fmt.Sprintf("%s: register issuer %q first, or pass --issuer", c.OCID, id))
			continue
		}
		_, outcome, err := cs.SubmitContract(ctx, id, c.Doc, src(c.OCID))
		if err != nil {
			if errs.CodeOf(err) == errs.Internal || errs.CodeOf(err) == errs.Unavailable {
				return fmt.Errorf("import ocds %s: %w", name, err)
			}
			sum.refuse(reasonOf(err), fmt.Sprintf("%s contract %s: %s", c.OCID, c.Doc.ContractNo, describe(err)))
			continue
		}
		sum.count("contracts", outcome)
	}
	return nil
}

// ocidPrefix is the publisher's registered prefix of an ocid
// ("ocds-213czf" of "ocds-213czf-000-00001").
func ocidPrefix(ocid string) string {
	parts := strings.SplitN(ocid, "-", 3)
	if len(parts) >= 2 {
		return strings.ToLower(parts[0] + "-" + parts[1])
	}
	return strings.ToLower(ocid)
}

// reasonOf is the stable reason code of a refused submission: its first
// field problem's code, else its error code.
func reasonOf(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		return e.Fields[0].Code
	}
	return string(errs.CodeOf(err))
}

func printSummary(w io.Writer, s *importSummary) {
	total := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	fmt.Fprintf(w, "imported: %d award notices, %d contracts\n", s.imported["award notices"], s.imported["contracts"])
	fmt.Fprintf(w, "updated (new version): %d award notices, %d contracts\n", s.updated["award notices"], s.updated["contracts"])
	fmt.Fprintf(w, "unchanged: %d\n", total(s.unchanged))
	fmt.Fprintf(w, "refused: %d\n", total(s.refused))
	reasons := make([]string, 0, len(s.refused))
	for r := range s.refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-28s %5d  e.g. %s\n", r, s.refused[r], s.examples[r])
	}
}
