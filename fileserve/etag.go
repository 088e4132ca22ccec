package fileserve

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// FileETag is a strong validator from the file's identity, size and
// modification time: a file replaced by rename gets a new inode and so a new
// tag, even when size and time happen to match.
func FileETag(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return `"` + strconv.FormatUint(ino, 36) + "-" + strconv.FormatInt(fi.Size(), 36) + "-" +
		strconv.FormatInt(fi.ModTime().UnixNano(), 36) + `"`
}

// contentETag is a strong validator from the bytes themselves.
func contentETag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// memContent is content held in memory (a cached operator file, a
// built-in or generated file) with the header values every response for
// it carries, formatted once when it is made.
type memContent struct {
	name string
	data []byte
	mod  time.Time
	head contentHead
}

// contentHead are the header values of a response with content.
type contentHead struct {
	etag, contentType, lastModified, length string
}

// newMemContent formats the header values for data, whose validator is etag.
func newMemContent(name string, data []byte, mod time.Time, etag string) memContent {
	m := memContent{name: name, data: data, mod: mod, head: contentHead{
		etag: etag, contentType: contentTypeHeader(name)[0], length: strconv.Itoa(len(data)),
	}}
	if !isZeroTime(mod) {
		m.head.lastModified = mod.UTC().Format(http.TimeFormat)
	}
	return m
}

// entry returns the content as an Entry of its own.
func (m *memContent) entry(src Source) *Entry {
	return &Entry{Name: m.name, Source: src, Size: int64(len(m.data)), ModTime: m.mod, ETag: m.head.etag, mem: m.data}
}

// isZeroTime reports whether t is unknown, as net/http's ServeContent
// decides it: zero, or the Unix epoch.
func isZeroTime(t time.Time) bool { return t.IsZero() || t.Unix() == 0 && t.Nanosecond() == 0 }
