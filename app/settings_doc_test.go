package app

import (
	"os"
	"strings"
	"testing"
)

// TestConfigDocListsEveryKey keeps docs/CONFIG.md true: every key the code
// reads is documented with its default, and no documented key is unknown.
func TestConfigDocListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, k := range SettingKeys {
		row := "| `" + k.Key + "` | "
		i := strings.Index(doc, row)
		if i < 0 {
			t.Errorf("docs/CONFIG.md does not document %s", k.Key)
			continue
		}
		def := "(empty)"
		if k.Default != "" {
			def = "`" + k.Default + "`"
		}
		if !strings.HasPrefix(doc[i+len(row):], def+" |") {
			t.Errorf("docs/CONFIG.md: %s default should read %s", k.Key, def)
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `") {
			key := strings.TrimPrefix(line, "| `")
			key, _, _ = strings.Cut(key, "`")
			if _, ok := LookupSetting(key); !ok {
				t.Errorf("docs/CONFIG.md documents unknown key %s", key)
			}
		}
	}
	for _, k := range SettingKeys {
		if err := k.Check(k.Default); err != nil {
			t.Errorf("%s: default %q fails its own check: %v", k.Key, k.Default, err)
		}
	}
}
