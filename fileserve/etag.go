package fileserve

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strconv"
	"syscall"
)

// fileETag is a strong validator from the file's identity, size and
// modification time: a file replaced by rename gets a new inode and so a new
// tag, even when size and time happen to match.
func fileETag(fi fs.FileInfo) string {
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
