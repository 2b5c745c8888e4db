// Package assets embeds Mailroom's static files: the application icon (an
// original drawing: an envelope with a delivery check), the Linux desktop
// entry, and the 1x1 tracking pixel. It depends on nothing, so every layer
// may use it.
package assets

import _ "embed"

// IconPNG is the 512x512 application icon.
//
//go:embed icon.png
var IconPNG []byte

// DesktopEntry is the freedesktop.org launcher installed on Linux.
//
//go:embed mailroom.desktop
var DesktopEntry []byte
