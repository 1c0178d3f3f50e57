package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/ateaidp/atea/idp/directory"
)

// registerAdminActivation adds POST /activation/issue to the admin socket's mux, so `atea
// activation issue` works while `atea serve` holds the directory file.
func registerAdminActivation(m *http.ServeMux, d *directory.Directory, log *slog.Logger) {
	m.HandleFunc("POST /activation/issue", func(w http.ResponseWriter, r *http.Request) {
		var req activationRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeAdminError(w, fmt.Errorf("%w: %w", errBadInput, err))
			return
		}
		letter, err := issueActivation(r.Context(), d, req)
		if err != nil {
			writeAdminError(w, err)
			return
		}
		// The code travels to the CLI only; the log names no citizen.
		log.InfoContext(r.Context(), "activation code issued via admin socket")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(letter)
	})
}

// writeAdminError answers as adminHandler's writeErr does: the status remoteUsers.do maps
// back to the directory's errors, and a JSON {"error": …}.
func writeAdminError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, directory.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, directory.ErrExists):
		status = http.StatusConflict
	case errors.Is(err, directory.ErrTransition):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, errBadInput), errors.Is(err, directory.ErrInvalid):
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
