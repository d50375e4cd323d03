package main

import (
	"path/filepath"
	"strings"
	"testing"

	"procfin/platform/postgres/pgtest"
)

// A GB18030 file of Chinese names, imported with its charset detected and
// named: the names are stored as they were written.
func TestImportOCDSGB18030(t *testing.T) {
	getenv := testEnv(t, pgtest.URL(t))
	file := filepath.Join("..", "..", "contracts", "ocds", "testdata", "release-package_zh.gb18030.json")
	db := openDB(t, getenv("DATABASE_URL"))
	db.MustExec(`INSERT INTO issuers (id, name, jwks, algorithms, version) VALUES ('ocds-jn0002', '济南市公共资源交易中心', '{"keys":[]}', '{EdDSA}', 'v1')`)

	// Detected.
	out, err := runCmd(t, getenv, "", "import", "ocds", file)
	if err != nil || !strings.Contains(out, "imported: 2 award notices, 1 contracts") || !strings.Contains(out, "refused: 0") {
		t.Fatalf("detected: %v\n%s", err, out)
	}
	var names []string
	if err := db.Select(&names, `SELECT name FROM suppliers ORDER BY uscc`); err != nil {
		t.Fatal(err)
	}
	// 91350100M000100Y43 sorts before 91370100MA3C00011J.
	if strings.Join(names, "|") != "济南泉城软件有限公司（高新区）|山东𠮷祥信息技术有限公司" {
		t.Errorf("suppliers %q", names)
	}
	var purchaser, project string
	db.Get(&purchaser, `SELECT name FROM purchasers WHERE issuer_id = 'ocds-jn0002' AND id = 'CN-SDGP-370000-SDU'`)
	db.Get(&project, `SELECT DISTINCT project_name FROM award_notices`)
	if purchaser != "山东大学" || project != "校园网络升级改造项目" {
		t.Errorf("purchaser %q, project %q", purchaser, project)
	}

	// Named (GBK is read as GB18030): the same documents, so nothing changes.
	for _, cs := range []string{"gb18030", "GBK"} {
		out, err = runCmd(t, getenv, "", "import", "ocds", "--charset", cs, file)
		if err != nil || !strings.Contains(out, "imported: 0 award notices, 0 contracts") ||
			!strings.Contains(out, "updated (new version): 0 award notices, 0 contracts") || !strings.Contains(out, "unchanged: 3") {
			t.Fatalf("--charset %s: %v\n%s", cs, err, out)
		}
	}

	// Named wrongly: refused at its first non-ASCII byte, nothing stored.
	// The file's first non-ASCII character is 济 of the publisher's name,
	// after lines of 2, 58 and 43 bytes (`{`, `"uri": …`, `"publishedDate":
	// …`, each with its newline) and `  "publisher": {"name": "` (25 bytes)
	// on the fourth: offset 2 + 58 + 43 + 25 = 128; 济 in GB18030 is BC C3.
	_, err = runCmd(t, getenv, "", "import", "ocds", "--charset", "utf-8", file)
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8 at byte offset 128 (0xBC)") {
		t.Fatalf("--charset utf-8: %v", err)
	}
	// Unknown: a usage error before anything is read.
	_, err = runCmd(t, getenv, "", "import", "ocds", "--charset", "big5", file)
	var u usageError
	if !errorsAs(err, &u) || !strings.Contains(err.Error(), "use UTF-8, GB18030 (or GBK, GB2312) or ISO-8859-1") {
		t.Fatalf("--charset big5: %v", err)
	}
}
