// Package relay is the upstream relay: a name found neither in the
// operator's files nor among the generated ones is fetched once from a
// central HTTP(S) server, kept in <data_dir>/cache/, and served on every
// protocol, so TFTP-only phones can get files that live upstream.
//
// A Relay implements fileserve.Generator. The Generator interface carries
// bytes, so Generate holds file contents in memory (shared, within
// Config.MemoryBytes); Open returns the cached *os.File for when the file
// server can serve generated content from a file.
package relay
