package app

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// DataDir resolves where Mailroom keeps its database: the explicit flag
// value, then MAILROOM_HOME, then the OS convention
// (~/.local/share/mailroom or $XDG_DATA_HOME/mailroom on Linux and BSD,
// ~/Library/Application Support/Mailroom on macOS, %LOCALAPPDATA%\Mailroom
// on Windows).
func DataDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if env := os.Getenv("MAILROOM_HOME"); env != "" {
		return filepath.Abs(env)
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "Mailroom"), nil
		}
		d, err := os.UserConfigDir()
		return filepath.Join(d, "Mailroom"), err
	case "darwin":
		d, err := os.UserConfigDir() // ~/Library/Application Support
		return filepath.Join(d, "Mailroom"), err
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "mailroom"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("cannot find a home directory: set MAILROOM_HOME or pass --data-dir")
	}
	return filepath.Join(home, ".local", "share", "mailroom"), nil
}
