package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// anchor is the yardstick for reads: a minimal Gin server (gin.New(), no
// middleware, one route answering {"ok":true}) started in this process on
// a free loopback port, loaded by the same client code as procfin. It
// ignores --target.
type anchor struct {
	env *Env
	srv *http.Server
}

func (s *anchor) Setup(ctx context.Context, env *Env) error {
	s.env = env
	gin.SetMode(gin.ReleaseMode) // no debug lines on stdout
	r := gin.New()
	r.GET("/ok", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	s.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(env.Log, "anchor: %v\n", err)
		}
	}()
	env.Target = "http://" + ln.Addr().String()
	fmt.Fprintf(env.Log, "setup: minimal Gin server at %s\n", env.Target)
	return env.do(ctx, request{method: "GET", path: "/ok", want: []int{200}})
}

func (s *anchor) Do(ctx context.Context, _ int) error {
	return s.env.do(ctx, request{method: "GET", path: "/ok", want: []int{200}})
}

func (s *anchor) Route() string { return "GET /ok (minimal Gin, in-process)" }

func (s *anchor) Close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.srv.Shutdown(ctx)
	}
}
