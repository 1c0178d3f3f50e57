package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/keys"
)

// activationRequest is `atea activation issue` as the admin socket receives it: the citizen
// (created pending when new) and the code's validity.
type activationRequest struct {
	DNI            string        `json:"dni"`
	TTL            time.Duration `json:"ttl"`
	GivenName      string        `json:"given_name,omitempty"`
	FamilyName     string        `json:"family_name,omitempty"`
	BirthDate      string        `json:"birth_date,omitempty"`
	DocumentExpiry string        `json:"document_expiry,omitempty"`
	Email          string        `json:"email,omitempty"`
	Phone          string        `json:"phone,omitempty"`
}

// activationLetter is what the letter prints. Code is the one place the code exists in
// clear: the directory keeps only its MAC.
type activationLetter struct {
	DNI       string    `json:"dni"`
	Name      string    `json:"name"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	Created   bool      `json:"created"`
}

func cmdActivation(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "usage: atea activation issue --id DNI/NIE [--ttl 720h] [--given NAME --family NAME --birth YYYY-MM-DD --expiry DD/MM/YYYY --phone +34… --email E] [--config FILE] [--data DIR]"
	if len(args) == 0 {
		return usageErrorf("%s", help)
	}
	switch args[0] {
	case "issue":
		return cmdActivationIssue(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, help)
		return nil
	}
	return usageErrorf("unknown activation subcommand %q; %s", args[0], help)
}

// cmdActivationIssue is `atea activation issue`: it creates the pending B@k credential when
// the citizen is new, issues a one-time activation code and prints the letter (BRIEF.md
// journey 1).
func cmdActivationIssue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("activation issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: atea activation issue --id DNI/NIE [flags]: issue a B@k activation letter (creates the pending credential if the citizen is new; a new letter replaces the previous code)")
		fs.PrintDefaults()
	}
	var cf commonFlags
	cf.register(fs)
	id := fs.String("id", "", "DNI/NIE number (required)")
	ttl := fs.Duration("ttl", 0, "validity of the code (default selfService.activationCodeTTL, 720h)")
	given := fs.String("given", "", "given name(s) (required for a new citizen)")
	family := fs.String("family", "", "family name(s) (required for a new citizen)")
	birth := fs.String("birth", "", "birth date YYYY-MM-DD (required for a new citizen)")
	expiry := fs.String("expiry", "", "ID document expiry, DD/MM/YYYY or YYYY-MM-DD, 01/01/9999 for a permanent DNI (required for a new citizen)")
	email := fs.String("email", "", "e-mail address")
	phone := fs.String("phone", "", "mobile, e.g. +34600000000 (required for a new citizen: the temporary password goes there)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("activation issue: unexpected argument %q", fs.Arg(0))
	}
	if *id == "" {
		return usageErrorf("activation issue: missing --id")
	}
	if *ttl < 0 {
		return usageErrorf("activation issue: --ttl must be positive")
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	req := activationRequest{DNI: *id, TTL: *ttl, GivenName: *given, FamilyName: *family, BirthDate: *birth,
		DocumentExpiry: *expiry, Email: *email, Phone: *phone}
	if req.TTL == 0 {
		req.TTL = cfg.SelfService.ActivationCodeTTL
	}
	var letter activationLetter
	if ru, err := dialAdmin(cfg.AdminSocket()); err == nil {
		letter, err = ru.issueActivation(ctx, req)
		if err != nil {
			return fmt.Errorf("activation issue: %w", err)
		}
	} else {
		secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
		if err != nil {
			return err
		}
		d, err := openDirectory(cfg, secrets, nil)
		if err != nil {
			if errors.Is(err, directory.ErrBusy) {
				return fmt.Errorf("activation issue: %w: a running atea serve holds the directory and its admin socket %s does not answer; stop the server or retry once its socket is up", err, cfg.AdminSocket())
			}
			return err
		}
		defer d.Close()
		if letter, err = issueActivation(ctx, d, req); err != nil {
			return fmt.Errorf("activation issue: %w", err)
		}
	}
	if letter.Created {
		fmt.Fprintf(stderr, "created pending B@k credential %s\n", dni.Mask(letter.DNI))
	}
	printLetter(stdout, strings.TrimRight(cfg.BaseURL, "/")+"/activate", letter)
	return nil
}

// issueActivation creates the pending citizen if needed and issues the code, on the
// directory itself (the CLI without a server, or the server's admin socket).
func issueActivation(ctx context.Context, d *directory.Directory, req activationRequest) (activationLetter, error) {
	if req.TTL <= 0 {
		return activationLetter{}, fmt.Errorf("%w: validity must be positive", errBadInput)
	}
	u, err := d.Get(ctx, req.DNI)
	created := false
	switch {
	case errors.Is(err, directory.ErrNotFound):
		var missing []string
		for flag, v := range map[string]string{"--given": req.GivenName, "--family": req.FamilyName, "--birth": req.BirthDate,
			"--expiry": req.DocumentExpiry, "--phone": req.Phone} {
			if strings.TrimSpace(v) == "" {
				missing = append(missing, flag)
			}
		}
		if len(missing) > 0 {
			return activationLetter{}, fmt.Errorf("%w: %s is not registered; a new citizen needs %s (the mobile receives the temporary password)",
				errBadInput, dni.Mask(req.DNI), strings.Join(slices.Sorted(slices.Values(missing)), ", "))
		}
		u, err = d.Add(ctx, directory.User{
			DNI: req.DNI, GivenName: req.GivenName, FamilyName: req.FamilyName, BirthDate: req.BirthDate,
			DocumentExpiry: req.DocumentExpiry, Email: req.Email, Phone: req.Phone,
			Credential: directory.CredentialBak, Status: directory.StatusPending,
		}, "")
		if err != nil {
			return activationLetter{}, err
		}
		created = true
	case err != nil:
		return activationLetter{}, err
	case u.Status != directory.StatusPending:
		return activationLetter{}, fmt.Errorf("%w: %s is %s, not pending activation: no letter needed", directory.ErrTransition, dni.Mask(u.DNI), u.Status)
	case u.Phone == "" && req.Phone == "":
		return activationLetter{}, fmt.Errorf("%w: %s has no mobile registered; give --phone (the temporary password goes there)", errBadInput, dni.Mask(u.DNI))
	case req.Phone != "" && req.Phone != u.Phone:
		if err := d.SetContact(ctx, u.DNI, "phone", req.Phone); err != nil {
			return activationLetter{}, err
		}
	}
	code, exp, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, req.TTL)
	if err != nil {
		return activationLetter{}, err
	}
	return activationLetter{DNI: u.DNI, Name: strings.TrimSpace(u.GivenName + " " + u.FamilyName), Code: code, ExpiresAt: exp, Created: created}, nil
}

// issueActivation asks the running server. A server without the route (an older binary)
// answers 404 without JSON: say so instead of "not found".
func (ru *remoteUsers) issueActivation(ctx context.Context, req activationRequest) (activationLetter, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return activationLetter{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://atea-admin/activation/issue", bytes.NewReader(body))
	if err != nil {
		return activationLetter{}, err
	}
	resp, err := ru.c.Do(hr)
	if err != nil {
		return activationLetter{}, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return activationLetter{}, fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			return activationLetter{}, fmt.Errorf("the running server's admin socket does not offer activation letters (status %d); stop atea serve and retry", resp.StatusCode)
		}
		switch resp.StatusCode {
		case http.StatusNotFound:
			return activationLetter{}, fmt.Errorf("%w (server: %s)", directory.ErrNotFound, e.Error)
		case http.StatusConflict:
			return activationLetter{}, fmt.Errorf("%w (server: %s)", directory.ErrExists, e.Error)
		case http.StatusUnprocessableEntity:
			return activationLetter{}, fmt.Errorf("%w (server: %s)", directory.ErrTransition, e.Error)
		case http.StatusBadRequest:
			return activationLetter{}, fmt.Errorf("%w (server: %s)", errBadInput, e.Error)
		}
		return activationLetter{}, fmt.Errorf("server: %s", e.Error)
	}
	var l activationLetter
	if err := json.Unmarshal(raw, &l); err != nil {
		return activationLetter{}, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

// printLetter writes the letter's text in Spanish and Basque: addressee, masked DNI/NIE,
// the code in groups of four, its expiry, the address and the steps.
func printLetter(w io.Writer, url string, l activationLetter) {
	until := l.ExpiresAt.UTC().Format("02/01/2006 15:04") + " UTC"
	fmt.Fprintf(w, `ATEA · B@k
Carta de activación de B@k / B@k aktibatzeko gutuna

Destinatario / Hartzailea:  %s
DNI/NIE / NAN/AIZ:          %s

Código de activación / Aktibazio-kodea:

    %s

Válido hasta / Noiz arte:  %s

ES  Para activar su credencial B@k:
    1. Entre en %s
    2. Escriba este código, su DNI/NIE y la fecha de caducidad de su documento
       (01/01/9999 si su DNI es permanente).
    3. Recibirá por SMS una contraseña temporal en su móvil registrado.
    4. Elija su contraseña personal y acepte las condiciones de uso: B@k quedará activa.
    No comparta este código. Atea nunca se lo pedirá por teléfono ni por correo electrónico.

EU  Zure B@k kredentziala aktibatzeko:
    1. Sartu %s helbidean.
    2. Idatzi kode hau, zure NAN/AIZ zenbakia eta agiriaren iraungitze-data
       (01/01/9999, zure NANa iraunkorra bada).
    3. Aldi baterako pasahitz bat jasoko duzu SMS bidez, erregistratutako mugikorrean.
    4. Aukeratu zure pasahitz pertsonala eta onartu erabilera-baldintzak: B@k aktibo geratuko da.
    Ez partekatu kode hau. Ateak ez dizu inoiz eskatuko telefonoz edo posta elektronikoz.
`, l.Name, dni.Mask(l.DNI), directory.FormatCode(l.Code), until, url, url)
}
