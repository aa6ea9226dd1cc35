# SPDX-License-Identifier: LGPL-2.1-or-later
#
# mmpatch.mk - the make rule that builds a live patch for libmmpatch.
#
# A patch is a shared object compiled from a source file that holds the
# changed functions, one MMPATCH_INFO() and an MMPATCH_REPLACE() per
# replaced function (see README.md).  It is built for one binary: the rule
# reads that binary's GNU build id and compiles it into the patch, and
# libmmpatch refuses the patch in any other program.
#
#   include <path>/libmmpatch/mmpatch.mk
#
#   # a patch for $(O)/server from patches/<name>.c:
#   $(O)/%.mmpatch: patches/%.c $(O)/server
#   	$(call mmpatch_build,$(O)/server)
#
# or, with MMPATCH_TARGET set, the built-in rule "%.mmpatch: %.c".
#
# The compiler is $(CC) (MMPATCH_CC), readelf $(CROSS_COMPILE)readelf
# (MMPATCH_READELF).  MMPATCH_CFLAGS may be extended (-I for the program's
# headers, -O levels).

MMPATCH_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

MMPATCH_CC      ?= $(CC)
MMPATCH_READELF ?= $(CROSS_COMPILE)readelf

# Position-independent, with every symbol the patch defines bound inside it
# (the manifest must point at the patch's functions, not at the program's
# functions of the same name).  No start files or libc: references to libc
# functions resolve to the running program's copy; libgcc for helpers the
# compiler may call.  No lazy binding: libmmpatch relocates everything
# when it loads the patch.
MMPATCH_CFLAGS  ?= -O2 -g -Wall -Wextra
MMPATCH_FLAGS    = -fPIC -fvisibility=hidden \
		   -I$(MMPATCH_DIR)/include
MMPATCH_LDFLAGS  = -shared -nostdlib -Wl,-z,now -Wl,-z,noexecstack \
		   -Wl,-z,max-page-size=4096 -lgcc

# $(call mmpatch_build,<target binary>): recipe of a rule "<patch>: <source>".
define mmpatch_build
	@id=$$($(MMPATCH_READELF) -n $(1) | sed -n 's/^ *Build ID: *//p'); \
	if [ -z "$$id" ]; then \
		echo "mmpatch: $(1) has no build id (link it with -Wl,--build-id)" >&2; \
		exit 1; \
	fi; \
	echo "  MMPATCH $@ (for $(notdir $(1)) $$id)"; \
	$(MMPATCH_CC) $(MMPATCH_CFLAGS) $(MMPATCH_FLAGS) \
		-DMMPATCH_BUILD_ID="\"$$id\"" -o $@ $< $(MMPATCH_LDFLAGS)
endef

ifneq ($(MMPATCH_TARGET),)
%.mmpatch: %.c $(MMPATCH_TARGET)
	$(call mmpatch_build,$(MMPATCH_TARGET))
endif
