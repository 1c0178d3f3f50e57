package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/ateaidp/atea/idp/directory"
)

// registerAdminAgents adds the registration agents' routes to the admin socket's mux, so
// `atea agent` works while `atea serve` holds the directory file.
func registerAdminAgents(m *http.ServeMux, d *directory.Directory, log *slog.Logger) {
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	read := func(r *http.Request) (agentRequest, error) {
		var req agentRequest
		if r.ContentLength == 0 {
			return req, nil
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&req); err != nil {
			return req, fmt.Errorf("%w: %w", errBadInput, err)
		}
		return req, nil
	}
	m.HandleFunc("POST /agents", func(w http.ResponseWriter, r *http.Request) {
		req, err := read(r)
		if err != nil {
			writeAdminError(w, err)
			return
		}
		a, err := d.AddAgent(r.Context(), directory.Agent{Username: req.Username, Name: req.Name, Phone: req.Phone}, req.Password)
		if err != nil {
			writeAdminError(w, err)
			return
		}
		log.InfoContext(r.Context(), "agent added via admin socket", "agent", a.Username)
		writeJSON(w, a)
	})
	m.HandleFunc("GET /agents", func(w http.ResponseWriter, r *http.Request) {
		list, err := d.ListAgents(r.Context())
		if err != nil {
			writeAdminError(w, err)
			return
		}
		writeJSON(w, list)
	})
	m.HandleFunc("POST /agents/{username}/lock", func(w http.ResponseWriter, r *http.Request) {
		req, err := read(r)
		if err == nil {
			err = d.LockAgent(r.Context(), r.PathValue("username"), req.Reason)
		}
		if err != nil {
			writeAdminError(w, err)
			return
		}
		writeJSON(w, map[string]string{"status": "locked"})
	})
	m.HandleFunc("POST /agents/{username}/unlock", func(w http.ResponseWriter, r *http.Request) {
		if err := d.UnlockAgent(r.Context(), r.PathValue("username")); err != nil {
			writeAdminError(w, err)
			return
		}
		writeJSON(w, map[string]string{"status": "active"})
	})
}
