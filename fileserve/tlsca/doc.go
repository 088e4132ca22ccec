// Package tlsca creates, stores and reuses the TLS material phoneprov uses to
// serve provisioning files to IP desk phones over HTTPS: a private RSA
// certificate authority (CA) and a server certificate issued by it.
//
// # Files
//
// [Ensure] keeps four files in [Options.Dir] (created with mode 0700 when
// missing):
//
//	ca.pem          CA certificate, PEM. Served to phones as phoneprov-ca.pem
//	                (they install it through TRUSTCERTS). Mode 0644.
//	ca-key.pem      CA private key, PEM "PRIVATE KEY" (PKCS#8). Mode 0600.
//	server.pem      server certificate followed by the CA certificate (the
//	                full chain sent in the handshake), PEM. Mode 0644.
//	server-key.pem  server private key, PEM "PRIVATE KEY" (PKCS#8). Mode 0600.
//
// Keys are written as PKCS#8 because it is the standard, algorithm-neutral
// container: OpenSSL 3 (genpkey, pkey), Go, Java's KeyFactory and most other
// tools read it without conversion, whereas PKCS#1 is RSA-specific and not
// readable by Java without extra libraries. Phones never see the keys, so
// only the tools on the appliance matter. When reading, both PKCS#8 and
// PKCS#1 ("RSA PRIVATE KEY") are accepted.
//
// # Compatibility with old phones
//
// Old 96xx firmware may only know RSA keys and SHA-256 RSA signatures and
// often negotiates TLS_RSA_* cipher suites (RSA key exchange). Therefore all
// keys are RSA (2048 bits by default: phones are slow at 4096), all
// signatures are SHA256WithRSA, and the server certificate carries
// KeyUsageKeyEncipherment in addition to KeyUsageDigitalSignature. Note that
// Go's crypto/tls only offers TLS_RSA_* suites when they are listed in
// tls.Config.CipherSuites (or with GODEBUG tlsrsakex=1).
//
// # The CA is never replaced
//
// Phones trust the CA they were given, so the CA is created only when both
// ca.pem and ca-key.pem are absent, and is never overwritten. If ca.pem exists
// but ca-key.pem is missing, or either file is unreadable, unparsable,
// mismatched, not a CA or expired, Ensure fails with an error wrapping
// [ErrCA] that names the file and says what to do (restore from a backup, or
// remove both files to create a new CA and redistribute phoneprov-ca.pem).
//
// The one repair Ensure makes on its own is when ca-key.pem exists but ca.pem
// does not (for example after a crash between the two writes of the first
// start): the CA subject is derived from the CA key (a SHA-256 prefix of its
// public key), so the certificate re-created for the existing key has the same
// name and key as any earlier one, and phones that trusted the earlier
// certificate keep accepting server certificates it signs.
//
// # The server certificate
//
// The server certificate is reissued when it is missing, unparsable, not
// signed by the current CA, does not match server-key.pem, does not cover
// every requested host, expires within 30 days, or differs from what the
// options ask for (common name, key size, usages, signature algorithm).
// Otherwise it is reused as is. When it is reissued, the existing
// server-key.pem is reused if it is a valid RSA key of the requested size, so
// usually only server.pem is rewritten.
//
// New certificates are only issued when the clock reads 2025 or later, so an
// appliance that booted without a valid clock does not create a CA that is
// expired or not yet valid for the phones.
//
// # Crash safety
//
// Every file is written to a temporary file in Dir, synced, renamed into
// place and the directory is synced, so a crash never leaves a half-written
// key or certificate (stray ".tmp-*" files may remain and are harmless).
// CA files are created with no-replace semantics (a hard link), so concurrent
// first starts agree on one CA. A crash between writing server-key.pem and
// server.pem leaves a mismatched pair, which the next call detects and
// repairs by reissuing.
//
// [LoadOperator] loads an operator-supplied certificate and key instead.
package tlsca
