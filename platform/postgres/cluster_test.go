package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestNoBinariesSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := binGlob
	binGlob = t.TempDir() + "/*/bin"
	defer func() { binGlob = old }()
	err := (&Cluster{Dir: t.TempDir()}).Start(context.Background())
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("Start = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install -y postgresql", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestSocketDirStaysShort(t *testing.T) {
	t.Parallel()
	deep := "/tmp/a/very/deep/directory/that/goes/on/and/on/and/on/for/a/long/while/until/it/is/too/long"
	c := &Cluster{Dir: deep}
	if len(c.SocketDir())+len("/.s.PGSQL.5432") >= 100 {
		t.Fatalf("socket dir %q too long for a Unix socket", c.SocketDir())
	}
	if (&Cluster{Dir: "/tmp/x"}).SocketDir() != "/tmp/x/run" {
		t.Fatal("short dirs keep their socket inside")
	}
}
