// Package downloads caps concurrent firmware downloads across the
// appliance and per link (the phone's DHCP subnet, else its /24 or /64),
// so a power cut does not make every phone pull its 20–40 MB image over
// one link at once. A Limiter is the file server's Admitter: a phone over
// a cap is told to come back later (HTTP 503 with Retry-After, TFTP error
// 0 "server busy") and keeps its running firmware meanwhile. Other files
// (settings, upgrade scripts) are never held back.
package downloads
