// Package durable is the one way phoneprov writes files that must survive a
// crash or a power cut:
//
//   - frame.go: record framing for append-only journals (a length, the
//     body, a CRC-32C), a versioned file header, and the rule that says when
//     a journal has grown enough to be rewritten. The journals bring their
//     own codecs for the bodies.
//   - journal.go: Journal, a locked single-writer journal built on that
//     framing: torn tail cut at open, damage skipped, durable appends,
//     rewrite on growth (Due, Rewrite) and an importer for a file in an
//     earlier format.
//   - atomic.go: whole-file writes that readers and crashes see either
//     entirely or not at all (temporary file, fsync, rename, directory fsync).
//   - sync.go: fdatasync and directory fsync.
//   - lock.go: an exclusive flock(2) on a file, whose error names the
//     process holding it.
package durable
