// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The running program's image and the loading of patches.
 *
 * Patches are ordinary shared objects, but they are not dlopen()ed: the
 * programs this library serves are often static (dlopen does not work
 * there), and a patch must bind to the program's own functions and data,
 * including static ones that no dynamic symbol table lists.  So the library
 * maps the patch itself, near the program's text, and relocates it against
 * the program's full symbol table (.symtab of /proc/self/exe), then against
 * the dynamic symbols of the shared libraries a dynamic program has loaded
 * (dlsym).  Symbols the patch defines bind within the patch.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#if defined(__x86_64__)
#define EM_HOST		EM_X86_64
#define R_NONE		R_X86_64_NONE
#define R_ABS64		R_X86_64_64
#define R_GLOB_DAT	R_X86_64_GLOB_DAT
#define R_JUMP_SLOT	R_X86_64_JUMP_SLOT
#define R_RELATIVE	R_X86_64_RELATIVE
#define R_IRELATIVE	R_X86_64_IRELATIVE
#elif defined(__aarch64__)
#include <sys/ifunc.h>
#define EM_HOST		EM_AARCH64
#define R_NONE		R_AARCH64_NONE
#define R_ABS64		R_AARCH64_ABS64
#define R_GLOB_DAT	R_AARCH64_GLOB_DAT
#define R_JUMP_SLOT	R_AARCH64_JUMP_SLOT
#define R_RELATIVE	R_AARCH64_RELATIVE
#define R_IRELATIVE	R_AARCH64_IRELATIVE
#endif

int mmp_fail(struct mmp_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e && e->len) {
		va_start(ap, fmt);
		vsnprintf(e->buf, e->len, fmt, ap);
		va_end(ap);
	}
	return -err;
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- the running program ---- */

struct phdr_walk {
	struct mmp_program *prog;
	bool done;
};

static void read_build_id(struct mmp_program *prog, const ElfW(Nhdr) *n,
			  size_t size)
{
	const unsigned char *p = (const unsigned char *)n, *end = p + size;
	static const char hex[] = "0123456789abcdef";

	while (p + sizeof(*n) <= end) {
		const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
		size_t name = (nh->n_namesz + 3) & ~3UL;
		size_t desc = (nh->n_descsz + 3) & ~3UL;
		const unsigned char *d = p + sizeof(*nh) + name;
		size_t i;

		if (d + desc > end)
			return;
		if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
		    !memcmp(p + sizeof(*nh), "GNU", 4) && nh->n_descsz <= 64) {
			for (i = 0; i < nh->n_descsz; i++) {
				prog->build_id[2 * i] = hex[d[i] >> 4];
				prog->build_id[2 * i + 1] = hex[d[i] & 15];
			}
			prog->build_id[2 * i] = 0;
			return;
		}
		p = d + desc;
	}
}

/* The first object dl_iterate_phdr() reports is the main program. */
static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct phdr_walk *w = data;
	struct mmp_program *prog = w->prog;
	size_t ps = page_size();
	int i;

	(void)size;
	if (w->done)
		return 1;
	w->done = true;
	prog->bias = info->dlpi_addr;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_NOTE && !prog->build_id[0])
			read_build_id(prog, (const ElfW(Nhdr) *)start,
				      ph->p_memsz);
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) ||
		    prog->ntext == MMP_MAX_TEXT)
			continue;
		prog->text[prog->ntext].start = start & ~(ps - 1);
		prog->text[prog->ntext].end = (start + ph->p_memsz + ps - 1) &
					      ~(ps - 1);
		prog->text[prog->ntext].prot = PROT_EXEC |
			(ph->p_flags & PF_R ? PROT_READ : 0) |
			(ph->p_flags & PF_W ? PROT_WRITE : 0);
		prog->ntext++;
	}
	return 1;
}

static bool in_file(const struct mmp_program *prog, uint64_t off, uint64_t len)
{
	return off <= prog->file_size && len <= prog->file_size - off;
}

static int load_symtab(struct mmp_program *prog, struct mmp_err *e)
{
	const ElfW(Ehdr) *eh;
	const ElfW(Shdr) *sh, *sym = NULL;
	struct stat st;
	void *file;
	int fd, i;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mmp_fail(e, errno, "cannot open /proc/self/exe: %s",
				strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(*eh)) {
		close(fd);
		return mmp_fail(e, ENOEXEC, "/proc/self/exe: not an ELF file");
	}
	file = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		return mmp_fail(e, errno, "cannot map /proc/self/exe: %s",
				strerror(errno));
	prog->file = file;
	prog->file_size = st.st_size;
	eh = file;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_shentsize != sizeof(*sh) ||
	    !in_file(prog, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh)))
		return mmp_fail(e, ENOEXEC, "/proc/self/exe: bad ELF header");
	sh = (const ElfW(Shdr) *)(prog->file + eh->e_shoff);
	/* The full symbol table; a stripped program has the dynamic one. */
	for (i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB)
			sym = &sh[i];
	for (i = 0; !sym && i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_DYNSYM)
			sym = &sh[i];
	if (!sym)
		return mmp_fail(e, ENOEXEC,
				"the program has no symbol table (stripped?)");
	if (sym->sh_link >= eh->e_shnum ||
	    !in_file(prog, sym->sh_offset, sym->sh_size) ||
	    !in_file(prog, sh[sym->sh_link].sh_offset, sh[sym->sh_link].sh_size))
		return mmp_fail(e, ENOEXEC, "/proc/self/exe: bad symbol table");
	prog->syms = (const ElfW(Sym) *)(prog->file + sym->sh_offset);
	prog->nsyms = sym->sh_size / sizeof(ElfW(Sym));
	prog->strs = (const char *)prog->file + sh[sym->sh_link].sh_offset;
	prog->strs_size = sh[sym->sh_link].sh_size;
	return 0;
}

int mmp_program_init(struct mmp_program *prog, struct mmp_err *e)
{
	struct phdr_walk w = { .prog = prog };

	memset(prog, 0, sizeof(*prog));
	dl_iterate_phdr(phdr_cb, &w);
	if (!prog->ntext)
		return mmp_fail(e, ENOEXEC, "no executable segment found");
	return load_symtab(prog, e);
}

void mmp_program_free(struct mmp_program *prog)
{
	if (prog->file)
		munmap((void *)prog->file, prog->file_size);
	memset(prog, 0, sizeof(*prog));
}

const struct mmp_text *mmp_program_text(const struct mmp_program *prog,
					uintptr_t addr, size_t len)
{
	int i;

	for (i = 0; i < prog->ntext; i++)
		if (addr >= prog->text[i].start &&
		    addr + len <= prog->text[i].end)
			return &prog->text[i];
	return NULL;
}

/*
 * Look a symbol up in the program: a global or weak definition wins; else
 * the one local (static) definition of that name.  Returns 0, -ENOENT, or
 * -ENOTUNIQ for several different local definitions.
 */
static int program_symbol(const struct mmp_program *prog, const char *name,
			  const ElfW(Sym) **out)
{
	const ElfW(Sym) *local = NULL, *global = NULL;
	int nlocal = 0;
	size_t i;

	for (i = 1; i < prog->nsyms; i++) {
		const ElfW(Sym) *s = &prog->syms[i];
		int bind = ELF64_ST_BIND(s->st_info);

		if (s->st_shndx == SHN_UNDEF || s->st_name >= prog->strs_size ||
		    strcmp(prog->strs + s->st_name, name))
			continue;
		if (bind == STB_GLOBAL) {
			global = s;
			break;
		}
		if (bind == STB_WEAK) {
			if (!global)
				global = s;
		} else if (!local || local->st_value != s->st_value) {
			local = s;
			nlocal++;
		}
	}
	*out = global ? global : local;
	if (global || nlocal == 1)
		return 0;
	return nlocal ? -ENOTUNIQ : -ENOENT;
}

static uintptr_t symbol_address(const struct mmp_program *prog,
				const ElfW(Sym) *s)
{
	return s->st_shndx == SHN_ABS ? s->st_value : prog->bias + s->st_value;
}

static uintptr_t call_ifunc_resolver(uintptr_t resolver)
{
#if defined(__aarch64__)
	/* The arguments glibc's own IRELATIVE processing passes. */
	__ifunc_arg_t arg = {
		._size = sizeof(arg),
		._hwcap = getauxval(AT_HWCAP),
		._hwcap2 = getauxval(AT_HWCAP2),
	};

	return ((uintptr_t (*)(uint64_t, const __ifunc_arg_t *))resolver)(
		arg._hwcap | _IFUNC_ARG_HWCAP, &arg);
#else
	return ((uintptr_t (*)(void))resolver)();
#endif
}

/* ---- patches ---- */

struct loading {
	const struct mmp_program *prog;
	struct mmp_patch *patch;
	const unsigned char *file;	/* the whole patch file */
	size_t file_size;
	const ElfW(Ehdr) *eh;
	const ElfW(Phdr) *ph;
	uintptr_t base;			/* load bias of the patch */
	uintptr_t lo, hi;		/* mapped range */
	const ElfW(Sym) *dynsym;
	const char *dynstr;
	size_t dynstr_size;
	struct mmp_err *e;
};

static bool mapped(const struct loading *l, uintptr_t addr, size_t len)
{
	return addr >= l->lo && addr <= l->hi && len <= l->hi - addr;
}

static int read_file(struct loading *l, const char *path)
{
	unsigned char *buf;
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mmp_fail(l->e, errno, "cannot open patch %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(ElfW(Ehdr)) || st.st_size > (64 << 20)) {
		close(fd);
		return mmp_fail(l->e, ENOEXEC, "%s: not a patch object", path);
	}
	buf = malloc(st.st_size);
	if (!buf) {
		close(fd);
		return mmp_fail(l->e, ENOMEM, "out of memory");
	}
	while (done < (size_t)st.st_size) {
		n = read(fd, buf + done, st.st_size - done);
		if (n <= 0) {
			close(fd);
			free(buf);
			return mmp_fail(l->e, n < 0 ? errno : EIO,
					"cannot read patch %s", path);
		}
		done += n;
	}
	close(fd);
	l->file = buf;
	l->file_size = done;
	return 0;
}

static int check_header(struct loading *l)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)l->file;
	const char *path = l->patch->path;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return mmp_fail(l->e, ENOEXEC, "%s: not a 64-bit ELF object",
				path);
	if (eh->e_machine != EM_HOST)
		return mmp_fail(l->e, ENOEXEC,
				"%s: built for ELF machine %u, this program is %u",
				path, eh->e_machine, EM_HOST);
	if (eh->e_type != ET_DYN)
		return mmp_fail(l->e, ENOEXEC,
				"%s: not a shared object (link it with -shared)",
				path);
	if (eh->e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh->e_phoff > l->file_size ||
	    (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)) >
	    l->file_size - eh->e_phoff)
		return mmp_fail(l->e, ENOEXEC, "%s: bad program headers", path);
	if (eh->e_shentsize != sizeof(ElfW(Shdr)) ||
	    eh->e_shoff > l->file_size || eh->e_shstrndx >= eh->e_shnum ||
	    (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr)) >
	    l->file_size - eh->e_shoff)
		return mmp_fail(l->e, ENOEXEC, "%s: bad section headers", path);
	l->eh = eh;
	l->ph = (const ElfW(Phdr) *)(l->file + eh->e_phoff);
	return 0;
}

static int prot_of(const ElfW(Phdr) *ph)
{
	return (ph->p_flags & PF_R ? PROT_READ : 0) |
	       (ph->p_flags & PF_W ? PROT_WRITE : 0) |
	       (ph->p_flags & PF_X ? PROT_EXEC : 0);
}

/*
 * Map len bytes where the short jump from the text reaches them: the first
 * free slot from the hint on (earlier patches take the first ones), else
 * anywhere (the jumps take the long form then).
 */
static void *map_near_text(const struct mmp_program *prog, size_t len)
{
	uintptr_t hint = mmp_map_hint(prog, len), step;
	void *map;
	int i;

	step = (len + 0xfffff) & ~(uintptr_t)0xfffff;
	for (i = 0; hint && i < 64; i++) {
		map = mmap((void *)(hint + i * step), len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			   -1, 0);
		if (map != MAP_FAILED)
			return map;
		if (errno != EEXIST)
			break;
	}
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/*
 * Copy the loadable segments into one anonymous mapping near the text.
 * It is writable until the relocations are done.
 */
static int map_segments(struct loading *l)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, ps = page_size();
	const char *path = l->patch->path;
	void *map;
	int i;

	for (i = 0; i < l->eh->e_phnum; i++) {
		const ElfW(Phdr) *ph = &l->ph[i];

		if (ph->p_type != PT_LOAD || !ph->p_memsz)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > l->file_size ||
		    ph->p_filesz > l->file_size - ph->p_offset ||
		    ph->p_vaddr + ph->p_memsz < ph->p_vaddr)
			return mmp_fail(l->e, ENOEXEC, "%s: bad segment", path);
		if (ph->p_vaddr < lo)
			lo = ph->p_vaddr;
		if (ph->p_vaddr + ph->p_memsz > hi)
			hi = ph->p_vaddr + ph->p_memsz;
	}
	if (hi <= lo)
		return mmp_fail(l->e, ENOEXEC, "%s: nothing to load", path);
	lo &= ~(ps - 1);
	hi = (hi + ps - 1) & ~(ps - 1);
	if (hi - lo > (256UL << 20))
		return mmp_fail(l->e, ENOEXEC, "%s: too large", path);
	map = map_near_text(l->prog, hi - lo);
	if (map == MAP_FAILED)
		return mmp_fail(l->e, errno, "cannot map %s: %s", path,
				strerror(errno));
	l->patch->map = map;
	l->patch->map_len = hi - lo;
	l->base = (uintptr_t)map - lo;
	l->lo = (uintptr_t)map;
	l->hi = (uintptr_t)map + (hi - lo);
	for (i = 0; i < l->eh->e_phnum; i++) {
		const ElfW(Phdr) *ph = &l->ph[i];

		if (ph->p_type == PT_LOAD && ph->p_filesz)
			memcpy((void *)(l->base + ph->p_vaddr),
			       l->file + ph->p_offset, ph->p_filesz);
	}
	return 0;
}

/*
 * Final protections: each page gets the flags of the segments on it (two
 * segments may share a page), pages between segments none.
 */
static int protect_segments(struct loading *l)
{
	uintptr_t ps = page_size(), page, start = l->lo;
	int prot, run = -1, i;

	for (page = l->lo; page <= l->hi; page += ps) {
		prot = -1;
		for (i = 0; page < l->hi && i < l->eh->e_phnum; i++) {
			const ElfW(Phdr) *ph = &l->ph[i];
			uintptr_t s = l->base + ph->p_vaddr;

			if (ph->p_type == PT_LOAD && ph->p_memsz &&
			    s < page + ps && s + ph->p_memsz > page)
				prot = (prot < 0 ? 0 : prot) | prot_of(ph);
		}
		if (prot < 0)
			prot = PROT_NONE;
		if (page < l->hi && prot == run)
			continue;
		if (run >= 0 && mprotect((void *)start, page - start, run) < 0)
			return mmp_fail(l->e, errno, "mprotect: %s",
					strerror(errno));
		start = page;
		run = prot;
	}
	return 0;
}

static int resolve(struct loading *l, uint32_t symidx, uintptr_t *value)
{
	const ElfW(Sym) *s = &l->dynsym[symidx], *ps;
	const char *name;
	void *dl;
	int r;

	if (!mapped(l, (uintptr_t)s, sizeof(*s)) || s->st_name >= l->dynstr_size)
		return mmp_fail(l->e, ENOEXEC, "%s: bad symbol %u",
				l->patch->path, symidx);
	name = l->dynstr + s->st_name;
	if (ELF64_ST_TYPE(s->st_info) == STT_TLS)
		return mmp_fail(l->e, ENOEXEC,
				"%s: uses the thread-local variable %s, which patches cannot",
				l->patch->path, name);
	/* Defined in the patch: binds there (as with -Bsymbolic). */
	if (s->st_shndx != SHN_UNDEF) {
		*value = l->base + s->st_value;
		if (ELF64_ST_TYPE(s->st_info) == STT_GNU_IFUNC)
			*value = call_ifunc_resolver(*value);
		return 0;
	}
	r = program_symbol(l->prog, name, &ps);
	if (r == -ENOTUNIQ)
		return mmp_fail(l->e, ENOTUNIQ,
				"%s: references %s, which the program defines several times (static in several files)",
				l->patch->path, name);
	if (!r) {
		if (ELF64_ST_TYPE(ps->st_info) == STT_TLS)
			return mmp_fail(l->e, ENOEXEC,
					"%s: references the thread-local variable %s",
					l->patch->path, name);
		*value = symbol_address(l->prog, ps);
		if (ELF64_ST_TYPE(ps->st_info) == STT_GNU_IFUNC)
			*value = call_ifunc_resolver(*value);
		return 0;
	}
	dl = dlsym(RTLD_DEFAULT, name);
	if (dl) {
		*value = (uintptr_t)dl;
		return 0;
	}
	if (ELF64_ST_BIND(s->st_info) == STB_WEAK) {
		*value = 0;
		return 0;
	}
	return mmp_fail(l->e, ENOENT,
			"%s: references %s, which the program does not define",
			l->patch->path, name);
}

static int relocate(struct loading *l, uintptr_t rela, size_t size)
{
	const ElfW(Rela) *r = (const ElfW(Rela) *)rela;
	size_t i, n = size / sizeof(*r);

	if (!size)
		return 0;
	if (!mapped(l, rela, size))
		return mmp_fail(l->e, ENOEXEC, "%s: bad relocation table",
				l->patch->path);
	for (i = 0; i < n; i++) {
		uintptr_t where = l->base + r[i].r_offset, value = 0;
		uint32_t type = ELF64_R_TYPE(r[i].r_info);
		uint32_t sym = ELF64_R_SYM(r[i].r_info);
		int err;

		if (type == R_NONE)
			continue;
		if (!mapped(l, where, sizeof(uintptr_t)))
			return mmp_fail(l->e, ENOEXEC,
					"%s: relocation outside the object",
					l->patch->path);
		switch (type) {
		case R_RELATIVE:
			value = l->base + r[i].r_addend;
			break;
		case R_IRELATIVE:
			value = call_ifunc_resolver(l->base + r[i].r_addend);
			break;
		case R_ABS64:
		case R_GLOB_DAT:
		case R_JUMP_SLOT:
			err = resolve(l, sym, &value);
			if (err)
				return err;
#if defined(__x86_64__)
			/* x86_64 GLOB_DAT and JUMP_SLOT take no addend. */
			if (type == R_ABS64)
				value += r[i].r_addend;
#else
			value += r[i].r_addend;
#endif
			break;
		default:
			return mmp_fail(l->e, ENOEXEC,
					"%s: relocation type %u is not supported (thread-local data? build with the mmpatch.mk rule)",
					l->patch->path, type);
		}
		memcpy((void *)where, &value, sizeof(value));
	}
	return 0;
}

static int link_dynamic(struct loading *l)
{
	uintptr_t rela = 0, jmprel = 0, symtab = 0, strtab = 0;
	size_t relasz = 0, pltrelsz = 0, strsz = 0;
	const ElfW(Dyn) *d = NULL;
	int i, err;

	for (i = 0; i < l->eh->e_phnum; i++)
		if (l->ph[i].p_type == PT_DYNAMIC)
			d = (const ElfW(Dyn) *)(l->base + l->ph[i].p_vaddr);
	if (!d)
		return mmp_fail(l->e, ENOEXEC, "%s: no dynamic section",
				l->patch->path);
	for (; mapped(l, (uintptr_t)d, sizeof(*d)) && d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_RELA:
			rela = l->base + d->d_un.d_ptr;
			break;
		case DT_RELASZ:
			relasz = d->d_un.d_val;
			break;
		case DT_JMPREL:
			jmprel = l->base + d->d_un.d_ptr;
			break;
		case DT_PLTRELSZ:
			pltrelsz = d->d_un.d_val;
			break;
		case DT_SYMTAB:
			symtab = l->base + d->d_un.d_ptr;
			break;
		case DT_STRTAB:
			strtab = l->base + d->d_un.d_ptr;
			break;
		case DT_STRSZ:
			strsz = d->d_un.d_val;
			break;
		case DT_PLTREL:
			if (d->d_un.d_val != DT_RELA)
				return mmp_fail(l->e, ENOEXEC, "%s: REL relocations",
						l->patch->path);
			break;
		case DT_REL:
		case DT_RELR:
		case DT_TEXTREL:
			return mmp_fail(l->e, ENOEXEC,
					"%s: unsupported relocation format (build with the mmpatch.mk rule)",
					l->patch->path);
		case DT_INIT:
		case DT_INIT_ARRAY:
		case DT_PREINIT_ARRAY:
			/* Constructors would run in no defined view. */
			return mmp_fail(l->e, ENOEXEC,
					"%s: has constructors, which patches must not",
					l->patch->path);
		}
	}
	if (!symtab || !strtab || !mapped(l, strtab, strsz))
		return mmp_fail(l->e, ENOEXEC, "%s: no dynamic symbols",
				l->patch->path);
	l->dynsym = (const ElfW(Sym) *)symtab;
	l->dynstr = (const char *)strtab;
	l->dynstr_size = strsz;
	err = relocate(l, rela, relasz);
	if (!err)
		err = relocate(l, jmprel, pltrelsz);
	return err;
}

static const ElfW(Shdr) *section(struct loading *l, const char *name)
{
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(l->file + l->eh->e_shoff);
	const ElfW(Shdr) *strs = &sh[l->eh->e_shstrndx];
	int i;

	if (strs->sh_offset > l->file_size ||
	    strs->sh_size > l->file_size - strs->sh_offset)
		return NULL;
	for (i = 0; i < l->eh->e_shnum; i++) {
		const char *n = (const char *)l->file + strs->sh_offset +
				sh[i].sh_name;

		if (sh[i].sh_name < strs->sh_size &&
		    strnlen(n, strs->sh_size - sh[i].sh_name) == strlen(name) &&
		    !strcmp(n, name) && (sh[i].sh_flags & SHF_ALLOC))
			return &sh[i];
	}
	return NULL;
}

static bool valid_string(struct loading *l, const char *s)
{
	if (!mapped(l, (uintptr_t)s, 1))
		return false;
	return strnlen(s, l->hi - (uintptr_t)s) < l->hi - (uintptr_t)s;
}

static bool in_exec_segment(struct loading *l, uintptr_t addr)
{
	int i;

	for (i = 0; i < l->eh->e_phnum; i++) {
		const ElfW(Phdr) *ph = &l->ph[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    addr >= l->base + ph->p_vaddr &&
		    addr < l->base + ph->p_vaddr + ph->p_memsz)
			return true;
	}
	return false;
}

static int read_manifest(struct loading *l)
{
	const ElfW(Shdr) *si = section(l, MMPATCH_SECTION_INFO);
	const ElfW(Shdr) *sf = section(l, MMPATCH_SECTION_FUNCS);
	const struct mmpatch_info *info;
	const struct mmpatch_func *f;
	const char *path = l->patch->path;
	struct mmp_patch *p = l->patch;
	unsigned int i, j;

	if (!si || si->sh_size != sizeof(*info))
		return mmp_fail(l->e, ENOEXEC,
				"%s: no patch manifest (one MMPATCH_INFO() is needed)",
				path);
	info = (const struct mmpatch_info *)(l->base + si->sh_addr);
	if (!mapped(l, (uintptr_t)info, sizeof(*info)) ||
	    info->magic != MMPATCH_MAGIC)
		return mmp_fail(l->e, ENOEXEC, "%s: bad patch manifest", path);
	if (info->version != MMPATCH_ABI_VERSION)
		return mmp_fail(l->e, ENOEXEC,
				"%s: manifest version %u, this library reads %u",
				path, info->version, MMPATCH_ABI_VERSION);
	if (!valid_string(l, info->build_id) ||
	    !valid_string(l, info->description))
		return mmp_fail(l->e, ENOEXEC, "%s: bad patch manifest", path);
	snprintf(p->desc, sizeof(p->desc), "%s", info->description);
	if (!l->prog->build_id[0])
		return mmp_fail(l->e, ENOEXEC,
				"the program has no build id (link it with --build-id)");
	if (strcasecmp(info->build_id, l->prog->build_id))
		return mmp_fail(l->e, EXDEV,
				"%s is a patch for another binary: build id %s, this program is %s",
				path, info->build_id, l->prog->build_id);
	if (!sf || !sf->sh_size || sf->sh_size % sizeof(*f))
		return mmp_fail(l->e, ENOEXEC,
				"%s: replaces no function (MMPATCH_REPLACE())", path);
	f = (const struct mmpatch_func *)(l->base + sf->sh_addr);
	if (!mapped(l, (uintptr_t)f, sf->sh_size))
		return mmp_fail(l->e, ENOEXEC, "%s: bad patch manifest", path);
	p->nrepl = sf->sh_size / sizeof(*f);
	p->repl = calloc(p->nrepl, sizeof(*p->repl));
	if (!p->repl)
		return mmp_fail(l->e, ENOMEM, "out of memory");
	for (i = 0; i < p->nrepl; i++) {
		struct mmp_repl *r = &p->repl[i];
		const ElfW(Sym) *s;
		uintptr_t entry;
		size_t size, skip;
		int err;

		if (!valid_string(l, f[i].old_name) ||
		    !in_exec_segment(l, (uintptr_t)f[i].new_func))
			return mmp_fail(l->e, ENOEXEC,
					"%s: bad manifest entry %u", path, i);
		r->old_name = f[i].old_name;
		r->new_func = (uintptr_t)f[i].new_func;
		for (j = 0; j < i; j++)
			if (!strcmp(p->repl[j].old_name, r->old_name))
				return mmp_fail(l->e, EINVAL,
						"%s: replaces %s twice", path,
						r->old_name);
		err = program_symbol(l->prog, r->old_name, &s);
		if (err == -ENOTUNIQ)
			return mmp_fail(l->e, ENOTUNIQ,
					"%s: the program has several functions %s",
					path, r->old_name);
		if (err || (ELF64_ST_TYPE(s->st_info) != STT_FUNC &&
			    ELF64_ST_TYPE(s->st_info) != STT_GNU_IFUNC))
			return mmp_fail(l->e, ENOENT,
					"%s: unknown symbol %s: the program has no such function",
					path, r->old_name);
		if (ELF64_ST_TYPE(s->st_info) == STT_GNU_IFUNC)
			return mmp_fail(l->e, EINVAL,
					"%s: %s is an IFUNC, which cannot be patched",
					path, r->old_name);
		entry = symbol_address(l->prog, s);
		size = s->st_size;
		r->text = mmp_program_text(l->prog, entry, size);
		if (!r->text || !size)
			return mmp_fail(l->e, EINVAL,
					"%s: %s is not in the program's text",
					path, r->old_name);
		skip = mmp_entry_skip((const unsigned char *)entry, size);
		r->site = entry + skip;
		r->room = size - skip;
	}
	return 0;
}

int mmp_patch_load(const struct mmp_program *prog, const char *path,
		   struct mmp_patch **out, struct mmp_err *e)
{
	struct loading l = { .prog = prog, .e = e };
	int err;

	l.patch = calloc(1, sizeof(*l.patch));
	if (!l.patch)
		return mmp_fail(e, ENOMEM, "out of memory");
	l.patch->path = strdup(path);
	err = l.patch->path ? 0 : mmp_fail(e, ENOMEM, "out of memory");
	if (!err)
		err = read_file(&l, path);
	if (!err)
		err = check_header(&l);
	if (!err)
		err = map_segments(&l);
	if (!err)
		err = link_dynamic(&l);
	if (!err)
		err = read_manifest(&l);
	if (!err)
		err = protect_segments(&l);
	free((void *)l.file);
	if (err) {
		mmp_patch_free(l.patch);
		return err;
	}
	*out = l.patch;
	return 0;
}

void mmp_patch_free(struct mmp_patch *p)
{
	if (!p)
		return;
	if (p->map)
		munmap(p->map, p->map_len);
	free(p->repl);
	free(p->path);
	free(p);
}
