package fileserve

import (
	"io"
	"net/http"
	"os"
)

// Recorder is an http.ResponseWriter that remembers the status and counts
// the body bytes of one response, for an access log line and metrics. It
// passes ReadFrom through so plain files still go out with sendfile. Wrap a
// writer as &Recorder{ResponseWriter: w}.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the first status sent and sends code.
func (w *Recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write sends b, counting its bytes (and status 200 if none was sent).
func (w *Recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom sends what r reads, counting its bytes: with sendfile when r
// reads an open file.
func (w *Recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && isFile(r) {
		n, err = rf.ReadFrom(r) // sendfile
	} else {
		// In-memory bodies go through the response buffer, so a small
		// file leaves in the same write as the headers.
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

// isFile reports whether r reads an open file, which the kernel can send
// without copying.
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status is the response's status: 200 when nothing was sent yet.
func (w *Recorder) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Bytes is the number of body bytes sent.
func (w *Recorder) Bytes() int64 { return w.bytes }
