package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/demosp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/selfservice/account"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/templates"
)

// commonFlags are the flags every command that reads the configuration takes.
type commonFlags struct {
	config string
	data   string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML configuration file (default: none, built-in defaults)")
	fs.StringVar(&c.data, "data", "", "data directory (default ./atea-data, or dataDir in the config)")
}

// load reads the configuration, applies the flags and validates the result.
func (c *commonFlags) load(overrides func(*config.Config)) (*config.Config, error) {
	cfg, err := config.Load(c.config, os.Environ())
	if err != nil {
		return nil, err
	}
	if c.data != "" {
		cfg.DataDir = c.data
	}
	if overrides != nil {
		overrides(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:8080)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file until the server stops")
	baseURL := fs.String("base-url", "", "public base URL of Atea (default http://127.0.0.1:8080)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := cf.load(func(c *config.Config) {
		if *listen != "" {
			c.Listen = *listen
			if *baseURL == "" && c.BaseURL == config.Default().BaseURL {
				c.BaseURL = "http://" + *listen
			}
		}
		if *baseURL != "" {
			c.BaseURL = *baseURL
		}
	})
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	return serve(ctx, cfg, stdout, stderr)
}

// serve is the readable sequence: data dir, logger, keys, directory, store, metadata, demo,
// server, admin socket, listen.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)
	tuneGC()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(cfg.SPMetadataDir(), 0o755); err != nil {
		return fmt.Errorf("sp metadata directory: %w", err)
	}
	// The key ring is read now and then watched (keywatch.go): `atea keys generate` and
	// `rollover` take effect without a restart. The stamp is taken first, so a change while
	// serve starts is picked up by the watcher's first check.
	startStamp, _ := stampRing(cfg.KeyRingDir()) // no state file yet on a first start: OpenRing creates it
	ring, err := keys.OpenRing(ringOptions(cfg))
	if err != nil {
		return err
	}
	for _, k := range ring.Keys() {
		logger.Info("key", "role", k.Role, "algorithm", k.Algorithm(), "sha256", k.Fingerprint(), "generated", slices.Contains(ring.Generated, k.Role))
	}
	secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
	if err != nil {
		return err
	}
	dir, err := openDirectory(cfg, secrets, logger)
	if err != nil {
		return err
	}
	defer dir.Close()
	demoUser, err := ensureDemoCitizen(ctx, cfg, dir)
	if err != nil {
		return err
	}
	st, background, err := openStore(ctx, cfg, secrets, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	if background != nil {
		go background(ctx)
	}

	sps := metadata.NewDirSource(metadata.DirOptions{Dir: cfg.SPMetadataDir(), Interval: cfg.SPMetadata.PollInterval, Logger: logger, Watch: true})
	spSrc, err := buildSPSources(cfg, sps, logger, logger.With("log", "audit"))
	if err != nil {
		return err
	}
	tmpl, err := templates.Load(templates.FS())
	if err != nil {
		return err
	}
	// Every signature the server makes is counted with its CPU time (metrics, atea bench).
	sigCPU := &keys.SignCPU{}
	keySet, err := ringKeySet(cfg, ring, sigCPU)
	if err != nil {
		return err
	}
	icfg, err := idpConfig(cfg)
	if err != nil {
		return err
	}
	icfg.Metadata = metadataConfig(cfg)
	factors, card, err := buildFactors(cfg, secrets, dir, st, logger)
	if err != nil {
		return err
	}
	certs, err := buildCertificates(cfg, logger)
	if err != nil {
		return err
	}
	extra := map[string]http.Handler{}
	deps := idp.Deps{
		Factors: factors,
		Store:   st, Directory: dir, SPs: spSrc.lookup, Secrets: secrets,
		Templates: tmpl, Logger: logger, Audit: logger.With("log", "audit"), Extra: extra,
		SignIns: account.NewRecorder(dir), Stats: &idp.Stats{},
	}
	keySet.Into(&deps)
	if certs != nil {
		deps.Certificates = certDNI{certs}
	}
	// The server is built twice when the demo is on: the demo SPs need Atea's metadata, and
	// Atea's mux needs the demo SPs' handlers. Metadata does not depend on the handlers.
	srv, err := idp.New(icfg, deps)
	if err != nil {
		return err
	}
	if cfg.Demo.Enabled {
		// The demo SPs follow the metadata the final server serves, so a key rollover of the
		// running server reaches them too.
		var live atomic.Pointer[idp.Server]
		liveMD := func() []byte {
			if s := live.Load(); s != nil {
				return s.Metadata()
			}
			return nil
		}
		if err := mountDemo(cfg, srv.Metadata(), liveMD, tmpl, extra); err != nil {
			return err
		}
		if srv, err = idp.New(icfg, deps); err != nil {
			return err
		}
		live.Store(srv)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	newKeyWatcher(cfg, srv, ring, startStamp, sigCPU, logger).start(watchCtx)
	sms, err := newSender(cfg, logger)
	if err != nil {
		return err
	}
	mail, err := newMailer(cfg, logger)
	if err != nil {
		return err
	}
	if err := mountJourneys(srv, journeyEnv{
		Cfg: cfg, Directory: dir, Store: st, SMS: sms, Mail: mail, Card: card, Factors: factors,
		Certificates: certs, Logger: logger, Now: time.Now,
	}); err != nil {
		return err
	}
	if err := sps.Refresh(ctx); err != nil {
		logger.Warn("sp metadata: some files were not loaded", "err", err)
	}
	spSrc.start(ctx)
	if cfg.Metrics.Listen != "" {
		_, stopMetrics, err := serveMetrics(ctx, cfg.Metrics.Listen, spSrc.multi, sigCPU, deps.Stats, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	admin, err := listenAdmin(cfg.AdminSocket())
	if err != nil {
		return err
	}
	adminSrv := &http.Server{Handler: adminHandler(dir, card, srv, logger), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = adminSrv.Serve(admin) }()
	defer func() {
		_ = adminSrv.Close()
		_ = os.Remove(cfg.AdminSocket())
	}()

	if certs != nil && cfg.Certificate.Listen != "" {
		if err := serveMutualTLS(ctx, cfg, certs, srv, logger); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10, // the Redirect binding puts the request in the URL: 16 KiB is plenty
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	banner(stdout, cfg, srv, demoUser)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openDirectory opens the user directory; with secrets, new citizens get IDs derived from
// their number with the installation secret (the same on every instance that shares it).
func openDirectory(cfg *config.Config, secrets *keys.Secrets, logger *slog.Logger) (*directory.Directory, error) {
	var idKey []byte
	if secrets != nil {
		idKey = secrets.UserIDs
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := directory.Open(cfg.DirectoryPath(), directory.Options{
		Params: directory.Params{
			MemoryKiB: cfg.Directory.Argon2.MemoryKiB,
			Time:      cfg.Directory.Argon2.Time,
			Threads:   cfg.Directory.Argon2.Threads,
		},
		MaxFailures:   cfg.Directory.MaxFailures,
		MaxConcurrent: cfg.Directory.MaxConcurrentHashes,
		Audit:         logger.With("log", "audit"),
		IDKey:         idKey,
	})
	if err != nil {
		return nil, fmt.Errorf("user directory %s: %w", cfg.DirectoryPath(), err)
	}
	return d, nil
}

// mountDemo creates the two demo SPs, writes their metadata into the SP-metadata directory
// (they register like any other SP) and mounts their handlers.
func mountDemo(cfg *config.Config, idpMetadata []byte, liveMetadata func() []byte, tmpl *templates.Renderer, extra map[string]http.Handler) error {
	demoDir := filepath.Join(cfg.DataDir, "demo")
	for i, name := range []string{"demo", "demo2"} {
		other, otherName := "/demo2/", "Demo 2"
		if i == 1 {
			other, otherName = "/demo/", "Demo"
		}
		k, _, err := keys.LoadOrCreate(filepath.Join(demoDir, name+".key"), filepath.Join(demoDir, name+".crt"), keys.RSA2048, "Atea "+name+" SP", time.Now())
		if err != nil {
			return fmt.Errorf("demo SP key: %w", err)
		}
		sp, err := demosp.New(demosp.Options{
			Prefix: "/" + name, BaseURL: cfg.BaseURL, Key: k.Signer, Cert: k.Cert,
			IdPMetadata: idpMetadata, LiveIdPMetadata: liveMetadata, Templates: tmpl, OtherURL: other, OtherName: otherName,
		})
		if err != nil {
			return err
		}
		if err := writeIfChanged(filepath.Join(cfg.SPMetadataDir(), "atea-"+name+".xml"), sp.Metadata()); err != nil {
			return fmt.Errorf("demo SP metadata: %w", err)
		}
		extra["/"+name+"/"] = sp.Handler()
	}
	return nil
}

func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// banner prints where Atea listens and, loudly, what the embedded default is not.
func banner(w io.Writer, cfg *config.Config, srv *idp.Server, demo *demoCitizen) {
	fmt.Fprintf(w, "Atea is listening on %s (base URL %s)\n", cfg.Listen, cfg.BaseURL)
	fmt.Fprintf(w, "  IdP metadata:  %s/saml/metadata\n", cfg.BaseURL)
	fmt.Fprintf(w, "  SSO endpoint:  %s\n", srv.SSOURL())
	fmt.Fprintf(w, "  SP metadata:   drop *.xml files into %s\n", cfg.SPMetadataDir())
	if cfg.Demo.Enabled {
		fmt.Fprintf(w, "  Demo SP:       %s/demo/  (second demo SP for single sign-on: %s/demo2/)\n", cfg.BaseURL, cfg.BaseURL)
	}
	if demo != nil && demo.justCreated {
		fmt.Fprintf(w, "  Demo citizen:  DNI %s  password %q  (shown again by: atea user show %s)\n", demo.dni, demo.password, demo.dni)
	}
	if cfg.Store.Type == "memory" || cfg.Demo.Enabled {
		warning := []string{
			"WARNING: this is Atea's EMBEDDED DEFAULT, for trying Atea out. It is NOT for",
			"production. Sessions live in memory (lost on restart, not shared between",
			"instances), keys are files in the data directory, the demo SPs and the demo",
			"citizen are enabled. Production needs: Redis as the session store, HTTPS with",
			"session.cookieSecure=true, keys in protected storage, demo.enabled=false, your",
			"own SP metadata, and a reviewed configuration (atea check-config).",
		}
		rule := "  " + strings.Repeat("*", 86)
		fmt.Fprintf(w, "\n%s\n", rule)
		for _, l := range warning {
			fmt.Fprintf(w, "  *  %-80s  *\n", l)
		}
		fmt.Fprintf(w, "%s\n\n", rule)
	}
}

// tuneGC trades memory for CPU unless the operator chose with GOGC: an SSO allocates about
// 200 KiB of short-lived buffers (XML, base64, the page) while the live heap stays a few
// MiB, so the default GOGC=100 spends a sixth of the server's CPU collecting. GOGC=400
// bounds the heap at five times the live data; a soft memory limit keeps a spike in check.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(1 << 30)
}
