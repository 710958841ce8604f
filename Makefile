# movierec - plain Make + pkg-config (see docs/ARCHITECTURE.md)
#
#   make                    build build/movierec
#   make test               install what is missing, build, run every test
#   make demo               install what is missing, build, import data, show it
#   make SANITIZE=address,undefined test   the same under ASan/UBSan (build-san/)
#   make fuzz               run each libFuzzer target for FUZZ_SECONDS
#   make WERROR=1           warnings are errors (CI does this)

CC ?= cc
PKGS := sqlite3 libcurl libarchive libcrypto openblas jansson zlib libmicrohttpd libsodium
# -O3 and no FP traps/errno: the kernels' plain loops (Adam, tanh, relu)
# vectorise; NATIVE= builds a binary for any x86-64.
OPT ?= -O3
NATIVE ?= -march=native
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(OPT) $(NATIVE) -fno-math-errno -fno-trapping-math -pthread \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wundef -Wvla -Wno-unused-parameter -Wno-format-nonliteral -Wno-format-truncation
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif

BUILD := build
ifneq ($(SANITIZE),)
BUILD := build-san
CFLAGS_BASE += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
OPT := -O1
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -pthread

LIB_SRC := $(wildcard src/util/*.c src/data/*.c src/store/*.c src/nn/*.c src/model/*.c src/recall/*.c \
	src/server/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 30

.PHONY: all deps deps-test test unit integration demo fuzz clean check-deps
all: $(BUILD)/movierec

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmovierec.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/movierec: $(CLI_OBJ) $(BUILD)/libmovierec.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libmovierec.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libmovierec.a \
		$(LDFLAGS) $(LIBS) $(shell pkg-config --libs cmocka)

deps:
	@scripts/install-deps

deps-test:
	@scripts/install-deps --test

# Every test: unit tests, then the CLI integration tests, then the same
# suite under ASan/UBSan (CI sets SAN_TESTS=1; locally `make test-san`).
test: deps-test
	@$(MAKE) --no-print-directory all unit-build
	@scripts/run-tests $(BUILD)
ifeq ($(SAN_TESTS),1)
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all unit-build
	@scripts/run-tests build-san
endif

test-san: deps-test
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all unit-build
	@scripts/run-tests build-san

unit-build: $(UNIT_BIN)

demo: deps all
	@scripts/demo $(BUILD)/movierec

fuzz:
	@scripts/install-deps --fuzz
	@scripts/run-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
