// Package backup stores the phones' user-setting backups: the folder their
// BRURI setting points to, where they PUT a file such as 1234_96xxdata.txt,
// GET it back to restore and DELETE it. Files are stored byte for byte (the
// 16xx files are UTF-16LE with a BOM), written atomically, with earlier
// versions kept so a broken upload or a crash never loses the last good one.
//
// A Store is both the storage (Put, Open, Delete, List, Versions, Revert, for
// the admin API) and the HTTP handler the file server mounts (Mount).
package backup
