package ui

// pageSize is how many rows the tracking list asks for at a time.
const pageSize = 50

// maxPages bounds the memory of the list: pages far from the one just
// loaded are dropped (the list only shows a screenful anyway).
const maxPages = 12

// pageCache holds the pages of the tracking list keyed by page index,
// never the whole table. Each reload bumps gen; pages from an older
// generation stay displayable (no flicker) but are fetched again.
type pageCache struct {
	size    int
	count   int
	gen     int
	pages   map[int]cachedPage
	loading map[int]int // page -> generation being fetched
}

type cachedPage struct {
	gen  int
	rows []MessageRow
}

func newPageCache(size int) *pageCache {
	return &pageCache{size: size, pages: map[int]cachedPage{}, loading: map[int]int{}}
}

// invalidate starts a new generation and returns it.
func (c *pageCache) invalidate() int {
	c.gen++
	c.loading = map[int]int{}
	return c.gen
}

// row returns row i if its page is cached (possibly stale), and whether
// it was.
func (c *pageCache) row(i int) (MessageRow, bool) {
	p, ok := c.pages[i/c.size]
	if !ok || i%c.size >= len(p.rows) {
		return MessageRow{}, false
	}
	return p.rows[i%c.size], true
}

// fresh reports whether page is cached in the current generation.
func (c *pageCache) fresh(page int) bool {
	p, ok := c.pages[page]
	return ok && p.gen == c.gen
}

// startLoad reports whether page should be fetched now (not fresh, not
// already on its way) and marks it as on its way.
func (c *pageCache) startLoad(page int) bool {
	if c.fresh(page) {
		return false
	}
	if g, ok := c.loading[page]; ok && g == c.gen {
		return false
	}
	c.loading[page] = c.gen
	return true
}

// abandonLoad forgets that page was on its way (a reload found it past
// the end of the list and did not fetch it).
func (c *pageCache) abandonLoad(page, gen int) {
	if g, ok := c.loading[page]; ok && g == gen {
		delete(c.loading, page)
	}
}

// finishLoad stores a fetched page unless a newer generation started.
func (c *pageCache) finishLoad(page, gen int, rows []MessageRow, err error) {
	if g, ok := c.loading[page]; ok && g == gen {
		delete(c.loading, page)
	}
	if err != nil || gen != c.gen {
		return
	}
	c.pages[page] = cachedPage{gen: gen, rows: rows}
	for len(c.pages) > maxPages {
		far, dist := -1, -1
		for p := range c.pages {
			d := p - page
			if d < 0 {
				d = -d
			}
			if d > dist {
				far, dist = p, d
			}
		}
		delete(c.pages, far)
	}
}
