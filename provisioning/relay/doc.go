// Package relay is the upstream relay: a name found neither in the
// operator's files nor among the generated ones is fetched once from a
// central HTTP(S) server, kept in <data_dir>/cache/, and served on every
// protocol, so TFTP-only phones can get files that live upstream.
//
// A Relay implements fileserve.Generator. Generate hands the file server
// the open cache file (fileserve.Generated.File), never its contents: the
// file server serves it (with sendfile over plain HTTP), derives the ETag from its stat and
// closes it, so a 50 MiB firmware image costs a file descriptor per
// transfer, not memory (the kernel's page cache keeps a popular image in
// RAM once, however many phones fetch it). Open returns the same file with
// what the relay knows of it, for other callers.
package relay
