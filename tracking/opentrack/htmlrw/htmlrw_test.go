package htmlrw

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// links parses out and returns the href of every <a>/<area>, in order.
func links(t *testing.T, out []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var hrefs []string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && (n.DataAtom == atom.A || n.DataAtom == atom.Area) {
			for _, a := range n.Attr {
				if a.Key == "href" {
					hrefs = append(hrefs, a.Val)
				}
			}
		}
	})
	return hrefs
}

func TestRewriteLinks(t *testing.T) {
	const in = `<!DOCTYPE html>
<HTML><BODY>
<A HREF="HTTPS://Example.test/Upper">upper</A>
<a href='https://example.test/q?a=1&amp;b=2'>entity</a>
<a href=http://example.test/unquoted>unquoted</a>
<a href="  https://example.test/spaces  ">spaces</a>
<a href="mailto:bob@example.test">mail</a>
<a href="tel:+15550100">tel</a>
<a href="#section">anchor</a>
<a href="/relative">relative</a>
<a href="//example.test/proto-relative">proto</a>
<a href="javascript:alert(1)">js</a>
<a href="ftp://example.test/f">ftp</a>
<a name="x">no href</a>
<a href="https://example.test/first" href="https://evil.test/second">dup</a>
<map><area href="https://example.test/area" shape="rect" coords="0,0,1,1"></map>
<!--[if mso]><a href="https://example.test/in-comment">mso</a><![endif]-->
<script>var s = '<a href="https://example.test/in-script">';</script>
<style>a[href="https://example.test/in-style"]{}</style>
<p title='<a href="https://example.test/in-attr">'>attr</p>
<svg><a href="https://example.test/svg">svg</a></svg>
<a href="https://example.test/declined">declined</a>
<table><tr><td><a href="https://example.test/unclosed">unclosed
</table>
</BODY></HTML>`
	var seen []string
	out, err := RewriteLinks([]byte(in), func(href string) (string, bool) {
		seen = append(seen, href)
		if strings.HasSuffix(href, "declined") {
			return "", false
		}
		return "https://t.test/c/TOKEN?u=" + href, true
	})
	if err != nil {
		t.Fatal(err)
	}
	wantSeen := []string{
		"HTTPS://Example.test/Upper",
		"https://example.test/q?a=1&b=2",
		"http://example.test/unquoted",
		"https://example.test/spaces",
		"https://example.test/first",
		"https://example.test/area",
		"https://example.test/declined",
		"https://example.test/unclosed",
	}
	if strings.Join(seen, "\n") != strings.Join(wantSeen, "\n") {
		t.Errorf("fn saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(wantSeen, "\n"))
	}
	got := links(t, out)
	want := map[string]bool{
		"https://t.test/c/TOKEN?u=HTTPS://Example.test/Upper":     true,
		"https://t.test/c/TOKEN?u=https://example.test/q?a=1&b=2": true,
		"mailto:bob@example.test":                                 true,
		"#section":                                                true,
		"/relative":                                               true,
		"//example.test/proto-relative":                           true,
		"javascript:alert(1)":                                     true,
		"https://example.test/declined":                           true,
		"https://example.test/svg":                                true, // foreign content: not an HTML link
	}
	have := map[string]bool{}
	for _, h := range got {
		have[h] = true
	}
	for h := range want {
		if !have[h] {
			t.Errorf("output lacks href %q; got %q", h, got)
		}
	}
	s := string(out)
	for _, untouched := range []string{"in-comment", "in-script", "in-style", "in-attr"} {
		if !strings.Contains(s, "https://example.test/"+untouched) {
			t.Errorf("%s was changed or lost", untouched)
		}
		if strings.Contains(s, "u=https://example.test/"+untouched) {
			t.Errorf("%s was rewritten", untouched)
		}
	}
	if !strings.Contains(s, "a=1&amp;b=2") {
		t.Error("ampersand in rewritten href not re-escaped")
	}
}

func TestInjectPixel(t *testing.T) {
	const pixel = `https://t.test/o/AQE"x&y.gif`
	cases := map[string]string{
		"document":        `<!DOCTYPE html><html><head><title>t</title></head><body><p>Hello</p></body></html>`,
		"fragment":        `<p>Hello <b>bold`,
		"content after":   `<html><body><p>Hello</p></body></html><p>after</p><!-- trailing -->`,
		"empty":           ``,
		"nested tables":   `<body><table><tr><td><table><tr><td>x</td></tr></table>`,
		"uppercase body":  `<HTML><BODY BGCOLOR=white><DIV>x</DIV></BODY></HTML>`,
		"body in comment": `<!-- <body> --><div>x</div>`,
	}
	for name, in := range cases {
		out, err := InjectPixel([]byte(in), pixel)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		doc, err := html.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		body := find(doc, atom.Body)
		last := body.LastChild
		for last != nil && last.Type == html.TextNode && strings.TrimSpace(last.Data) == "" {
			last = last.PrevSibling
		}
		if last == nil || last.DataAtom != atom.Img {
			t.Errorf("%s: last child of body is not the pixel:\n%s", name, out)
			continue
		}
		attrs := map[string]string{}
		for _, a := range last.Attr {
			attrs[a.Key] = a.Val
		}
		if attrs["src"] != pixel || attrs["width"] != "1" || attrs["height"] != "1" || attrs["alt"] != "" {
			t.Errorf("%s: pixel attributes %v", name, attrs)
		}
		if n := strings.Count(string(out), "<img"); n != 1 {
			t.Errorf("%s: %d images", name, n)
		}
	}
	if _, err := InjectPixel([]byte(`<html><frameset><frame src="a.html"></frameset></html>`), pixel); !errors.Is(err, ErrNoBody) {
		t.Errorf("frameset: err = %v, want ErrNoBody", err)
	}
}

func TestIsHTTPURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.test":   true,
		"HTTP://EXAMPLE.TEST/x":  true,
		"https://":               false,
		"https:/example.test":    false,
		"mailto:a@example.test":  false,
		"ht\ntp://example.test/": false,
		"":                       false,
		"%zz":                    false,
	} {
		if got := IsHTTPURL(s); got != want {
			t.Errorf("IsHTTPURL(%q) = %v", s, got)
		}
	}
}

func Example() {
	out, _ := RewriteLinks([]byte(`<p><a href="https://example.test/">site</a> <a href="mailto:a@example.test">mail</a></p>`),
		func(href string) (string, bool) { return "https://t.example/c/TOKEN", true })
	out, _ = InjectPixel(out, "https://t.example/o/TOKEN.gif")
	fmt.Println(string(out))
	// Output:
	// <html><head></head><body><p><a href="https://t.example/c/TOKEN">site</a> <a href="mailto:a@example.test">mail</a></p><img src="https://t.example/o/TOKEN.gif" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0"/></body></html>
}

// FuzzRewrite feeds arbitrary markup: no panic, no error, and fn only ever
// sees absolute http(s) URLs.
func FuzzRewrite(f *testing.F) {
	f.Add(`<a href="https://example.test/">x</a>`)
	f.Add(`<A HREF=HTTP://E.TEST/a?b=1&amp;c=2>x`)
	f.Add(`<!--[if mso]><a href="https://e.test/">x</a><![endif]--><body><area href=" https://e.test/ ">`)
	f.Add(`<frameset><frame src=x></frameset>`)
	f.Add(`<svg><a href="https://e.test/"></a></svg><math><a href="http://e.test/">`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := RewriteLinks([]byte(in), func(href string) (string, bool) {
			if !IsHTTPURL(href) {
				t.Fatalf("fn called with %q", href)
			}
			return "https://t.test/c/T?u=" + href, true
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := InjectPixel(out, "https://t.test/o/T.gif"); err != nil && !errors.Is(err, ErrNoBody) {
			t.Fatal(err)
		}
	})
}
