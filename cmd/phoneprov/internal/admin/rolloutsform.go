package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

// rolloutFormRoutes are the status page's roll-out controls, plain HTML
// forms (the page runs no script):
//
//	POST /rollouts                 start one: target, version, canary, waves
//	POST /rollouts/{id}/{command}  pause, resume, abort or finish
//
// Each answers 303 back to the page's roll-out table, or the error as
// text. A browser's cross-origin POST is refused (http.CrossOriginProtection:
// Sec-Fetch-Site, else Origin against Host), so another site the operator
// has open cannot press these buttons; the admin token guards them like
// every other path.
func (s *Site) rolloutFormRoutes(routes map[string]http.Handler) {
	var csrf http.CrossOriginProtection
	routes["POST /rollouts"] = csrf.Handler(http.HandlerFunc(s.rolloutStartForm))
	routes["POST /rollouts/{id}/{command}"] = csrf.Handler(http.HandlerFunc(s.rolloutCommandForm))
}

// maxRolloutForm bounds a start form (a canary list of MACs).
const maxRolloutForm = 64 << 10

func (s *Site) rolloutStartForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRolloutForm)
	if err := r.ParseForm(); err != nil {
		formError(w, http.StatusBadRequest, err)
		return
	}
	req, err := fwrollout.ParseStart(r.PostFormValue("target"), r.PostFormValue("version"), r.PostFormValue("canary"), r.PostFormValue("waves"))
	if err != nil {
		formError(w, http.StatusBadRequest, err)
		return
	}
	if _, err := s.Rollouts.Start(r.Context(), req); err != nil {
		formError(w, http.StatusConflict, err)
		return
	}
	http.Redirect(w, r, "/#rollouts", http.StatusSeeOther)
}

func (s *Site) rolloutCommandForm(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		formError(w, http.StatusBadRequest, errors.New("the roll-out id is a number"))
		return
	}
	if _, err := s.Rollouts.Do(fwrollout.Command(r.PathValue("command")), id); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, fwrollout.ErrState) {
			code = http.StatusConflict
		}
		formError(w, code, err)
		return
	}
	http.Redirect(w, r, "/#rollouts", http.StatusSeeOther)
}

// formError answers a refused form with the reason, as text.
func formError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%s\n\nGo back to the status page (/) and try again.\n", err)
}
