package compose

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"golang.org/x/net/html"
)

// renderMarkdown turns the user's Markdown into a small HTML document.
// goldmark runs with its safe defaults: raw HTML in the source is replaced
// by a comment and javascript:/vbscript: links are dropped (html.WithUnsafe
// is deliberately not set), so a pasted <script> or <img src=...> can never
// reach the recipient as markup. Hard wraps are on because people writing
// mail expect a line break to stay a line break ("Thanks,\nBob").
func renderMarkdown(src string) ([]byte, error) {
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(gmhtml.WithHardWraps()),
	)
	var body bytes.Buffer
	if err := md.Convert([]byte(src), &body); err != nil {
		return nil, err
	}
	var doc bytes.Buffer
	doc.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n</head>\n<body>\n")
	doc.Write(body.Bytes())
	doc.WriteString("</body>\n</html>\n")
	return doc.Bytes(), nil
}

// htmlToText derives the text/plain alternative of an HTML body when the
// user gave none: the visible text, a line break per block element, and
// each link's target after its text, since plain-text readers cannot
// follow an anchor.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var out strings.Builder
	skip := 0 // depth inside <head>, <script>, <style>, <title>
	pre := 0
	var href string
	anchorStart := 0
	space := false // the last text ended in white space not yet written
	newline := func() {
		space = false
		s := out.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteByte('\n')
		}
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(out.String()) + "\n"
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre == 0 {
				// Collapse white space as a browser would, keeping one
				// space where the source had any between two texts.
				words := strings.Join(strings.Fields(t), " ")
				lead := t != "" && isSpace(t[0])
				if (lead || space) && words != "" {
					if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") && !strings.HasSuffix(s, " ") {
						out.WriteByte(' ')
					}
				}
				space = t != "" && (words == "" && space || isSpace(t[len(t)-1]))
				t = words
			}
			out.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "head", "script", "style", "title":
				skip++
			case "pre":
				pre++
				newline()
			case "br":
				out.WriteByte('\n')
			case "li":
				newline()
				out.WriteString("- ")
			case "a":
				href, anchorStart = "", out.Len()
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = string(v)
					}
				}
			default:
				if isBlock(string(name)) {
					newline()
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "head", "script", "style", "title":
				if skip > 0 {
					skip--
				}
			case "pre":
				if pre > 0 {
					pre--
				}
				newline()
			case "a":
				if href != "" && !strings.HasPrefix(href, "#") && !strings.HasPrefix(href, "cid:") && !strings.Contains(out.String()[anchorStart:], href) {
					out.WriteString(" <" + href + ">")
				}
				href = ""
			default:
				if isBlock(string(name)) {
					newline()
				}
			}
		}
	}
}

func isBlock(tag string) bool {
	switch tag {
	case "p", "div", "table", "tr", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article", "header", "footer":
		return true
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
