# Mailroom. `make run` starts the app, `make test` runs every test.
# Both install the Debian packages they need first (see `deps`).

GO        ?= go
# no_emoji: Fyne then draws emoji with the system's emoji font, loaded only
# when one is on screen, instead of parsing its bundled 10 MB colour emoji
# font for every text style at start (~16 MB of RSS; docs/BENCHMARKS.md).
TAGS      := migrated_fynedo no_emoji
# Everything but the real window builds and tests without cgo or a display;
# `ci` makes even main use Fyne's headless driver.
HEADLESS  := CGO_ENABLED=0 $(GO)
BIN       := bin
VERSION   := $(shell sed -n 's/^Version = "\(.*\)"/\1/p' FyneApp.toml)
LDFLAGS   := -X mailroom/app.Version=$(VERSION)
PKG_BUILD := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
PKG_TEST  := postfix dovecot-core dovecot-imapd dovecot-lmtpd openssl xvfb xauth x11-utils xdotool imagemagick wrk postgresql
PKG_BENCH := wrk tesseract-ocr
FUZZTIME  ?= 30s
comma     := ,
space     := $(subst ,, )

.PHONY: all run build build-headless test test-short bench fuzz lint screenshots deps deps-build deps-test deps-bench seed package package-windows clean

all: build

## deps: install the Debian packages the build and the tests need, when missing
deps: deps-build deps-test

deps-build:
	@./scripts/deps.sh $(PKG_BUILD)

deps-test:
	@./scripts/deps.sh $(PKG_TEST)

deps-bench:
	@./scripts/deps.sh $(PKG_BENCH)

## run: build the desktop app and start it (DISPLAY must be set; under Xvfb here)
run: deps-build build
	./$(BIN)/mailroom

## build: the desktop binary (cgo: Fyne's OpenGL driver) and the tracker (pure Go)
build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/mailroom .
	$(HEADLESS) build -ldflags '$(LDFLAGS)' -o $(BIN)/mailroom-tracker ./cmd/mailroom-tracker

build-headless:
	$(HEADLESS) build -tags '$(TAGS) ci' -ldflags '$(LDFLAGS)' -o $(BIN)/mailroom-headless .

## test: everything, real Postfix/Dovecot/PostgreSQL and a real window under Xvfb included
test: deps lint
	MAILROOM_REQUIRE_MAILSTACK=1 $(HEADLESS) test -tags '$(TAGS) ci' -timeout 25m -count=1 ./...
	$(MAKE) build
	./scripts/window-test.sh $(BIN)/mailroom

## test-short: unit tests only, no real servers (seconds)
test-short:
	$(HEADLESS) test -tags '$(TAGS) ci' -short -count=1 ./...

## bench: speed and memory figures, each beside a reference measured in the same run
bench: deps deps-bench build
	./scripts/bench.sh

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(HEADLESS) vet -tags '$(TAGS) ci' ./...
	$(HEADLESS) vet -tags '$(TAGS) ci mailroom_plaintext_bench' ./mail/submit ./bench/outbox

## screenshots: run the real binary under Xvfb and write docs/screenshots/*.png
screenshots: deps build
	./scripts/screenshots.sh $(BIN)/mailroom docs/screenshots

## seed: fill a data dir with N generated messages (make seed N=100000 DIR=/tmp/seed)
N   ?= 1000
DIR ?= /tmp/mailroom-seed
seed:
	$(HEADLESS) run ./internal/seed/seedcmd -n $(N) -dir $(DIR)

## package: a Linux desktop package (tar.xz with .desktop file and icon)
package: deps-build
	$(GO) run fyne.io/tools/cmd/fyne@v1.7.4 package -os linux -release -tags '$(subst $(space),$(comma),$(TAGS))'

## package-windows: cross-build Mailroom.exe (needs gcc-mingw-w64-x86-64)
package-windows:
	@./scripts/deps.sh gcc-mingw-w64-x86-64
	CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 \
		$(GO) run fyne.io/tools/cmd/fyne@v1.7.4 package -os windows -release -tags '$(subst $(space),$(comma),$(TAGS))'

clean:
	rm -rf $(BIN) *.tar.xz *.exe
