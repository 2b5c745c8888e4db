// Package htmlrw owns the changes open/click tracking makes to a message's
// HTML part: appending the 1x1 pixel at the end of <body> and rewriting
// http(s) links to go through the tracker.
//
// It works on the parse tree of golang.org/x/net/html, never on strings, so
// markup inside comments (Outlook's conditional comments), <script>, <style>
// or attribute values is never mistaken for a link. The output is the
// re-serialised tree: equivalent for a browser or mail client, though not
// byte-identical to the input (a fragment, for instance, gains <html>,
// <head> and <body>, and attribute quoting is normalised).
package htmlrw

import (
	"bytes"
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ErrNoBody is returned by InjectPixel for a document that has no <body>
// (a frameset), where no image can be shown.
var ErrNoBody = errors.New("htmlrw: document has no <body>")

// pixelStyle keeps the pixel from taking space or showing a border in
// clients that ignore width/height attributes.
const pixelStyle = "display:block;width:1px;height:1px;border:0;margin:0;padding:0"

// InjectPixel appends a 1x1 <img> loading pixelURL as the last child of
// <body>.
func InjectPixel(src []byte, pixelURL string) ([]byte, error) {
	doc, err := html.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	body := find(doc, atom.Body)
	if body == nil {
		return nil, ErrNoBody
	}
	body.AppendChild(&html.Node{
		Type:     html.ElementNode,
		Data:     "img",
		DataAtom: atom.Img,
		Attr: []html.Attribute{
			{Key: "src", Val: pixelURL},
			{Key: "width", Val: "1"},
			{Key: "height", Val: "1"},
			{Key: "alt", Val: ""},
			{Key: "style", Val: pixelStyle},
		},
	})
	return render(doc)
}

// RewriteLinks calls fn for the href of every <a> and <area> whose target is
// an absolute http or https URL, and replaces the href with fn's result when
// fn returns ok. mailto:, tel:, javascript:, in-page anchors and relative
// links are left alone. fn sees the href as a browser would use it: entities
// decoded and surrounding whitespace removed.
func RewriteLinks(src []byte, fn func(href string) (newHref string, ok bool)) ([]byte, error) {
	doc, err := html.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Namespace != "" || (n.DataAtom != atom.A && n.DataAtom != atom.Area) {
			return
		}
		for i := range n.Attr {
			a := &n.Attr[i]
			if a.Namespace != "" || a.Key != "href" {
				continue
			}
			href := strings.TrimSpace(a.Val)
			if !IsHTTPURL(href) {
				break
			}
			if nh, ok := fn(href); ok {
				a.Val = nh
			}
			break // the parser keeps only the first of duplicate attributes; so do we
		}
	})
	return render(doc)
}

// IsHTTPURL reports whether s is an absolute http or https URL with a host,
// the only links worth tracking (others either do not leave the message or
// are not opened by a browser).
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

func find(n *html.Node, a atom.Atom) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && c.DataAtom == a && c.Namespace == "" {
			found = c
		}
	})
	return found
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func render(doc *html.Node) ([]byte, error) {
	var buf bytes.Buffer
	if err := html.Render(&buf, doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
