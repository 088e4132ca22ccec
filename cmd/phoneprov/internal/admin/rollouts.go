package admin

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

// rolloutRoutes are the roll-outs' API routes:
//
//	GET  /api/rollouts                 every roll-out, newest first
//	POST /api/rollouts                 start one (a fwrollout.StartRequest)
//	POST /api/rollouts/{id}/{command}  pause, resume, abort or finish (id 0: the one in force)
//	GET  /api/rollouts/held            the firmware held until a roll-out (fwrollout.Held)
//	POST /api/rollouts/release         release a version at once: {"series": …, "version": …}
//
// A POST must carry Content-Type application/json: a web page cannot
// send that to another site without the browser asking first (CORS), so
// a page the operator opens cannot drive roll-outs.
func (s *Site) rolloutRoutes(routes map[string]http.Handler) {
	routes["GET /api/rollouts"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Rollouts.List())
	})
	routes["POST /api/rollouts"] = http.HandlerFunc(s.rolloutStart)
	routes["POST /api/rollouts/{id}/{command}"] = http.HandlerFunc(s.rolloutCommand)
	routes["GET /api/rollouts/held"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Rollouts.Held())
	})
	routes["POST /api/rollouts/release"] = http.HandlerFunc(s.rolloutRelease)
	s.rolloutFormRoutes(routes)
}

// maxRolloutBody bounds a start request (a canary list of MACs).
const maxRolloutBody = 1 << 20

func jsonPost(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSONError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json")
		return false
	}
	return true
}

func (s *Site) rolloutStart(w http.ResponseWriter, r *http.Request) {
	if !jsonPost(w, r) {
		return
	}
	var req fwrollout.StartRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRolloutBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "start request: "+err.Error())
		return
	}
	ro, err := s.Rollouts.Start(r.Context(), req)
	if err != nil {
		writeJSONError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, ro)
}

func (s *Site) rolloutCommand(w http.ResponseWriter, r *http.Request) {
	if !jsonPost(w, r) {
		return
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 {
		writeJSONError(w, http.StatusBadRequest, "the roll-out id is a number")
		return
	}
	ro, err := s.Rollouts.Do(fwrollout.Command(r.PathValue("command")), id)
	switch {
	case errors.Is(err, fwrollout.ErrState):
		writeJSONError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeJSONError(w, http.StatusBadRequest, err.Error())
	default:
		writeJSON(w, ro)
	}
}

// ReleaseRequest is the body of POST /api/rollouts/release, and its answer
// the versions released (firmware line → version).
type ReleaseRequest struct {
	Series  string `json:"series"`
	Version string `json:"version"`
}

func (s *Site) rolloutRelease(w http.ResponseWriter, r *http.Request) {
	if !jsonPost(w, r) {
		return
	}
	var req ReleaseRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRolloutBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "release request: "+err.Error())
		return
	}
	released, err := s.Rollouts.Release(r.Context(), req.Series, req.Version)
	if err != nil {
		writeJSONError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, released)
}
