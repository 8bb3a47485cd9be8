/* privman learn: does COMMAND call priv_init? An ELF program that names
 * priv_init in a symbol table (linked with libprivman, shared or static and
 * not stripped) is split by priv_init and learns through PRIVMAN_LEARN; any
 * other command (a script, an unmodified binary) learns under the broker.
 * --split and --broker say it when this guess cannot. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learn.h"

/* COMMAND as execvp(3) would find it. */
static bool find_command(const char *name, char *path, size_t len)
{
	if (strchr(name, '/'))
		return snprintf(path, len, "%s", name) < (int)len;
	const char *dirs = getenv("PATH");
	if (!dirs)
		dirs = "/bin:/usr/bin";
	for (const char *dir = dirs;;) {
		const char *end = strchrnul(dir, ':');
		int n = snprintf(path, len, "%.*s/%s", (int)(end - dir), end == dir ? "." : dir,
				 name);
		if (n > 0 && (size_t)n < len && access(path, X_OK) == 0)
			return true;
		if (*end == '\0')
			return false;
		dir = end + 1;
	}
}

static bool in_range(size_t size, uint64_t offset, uint64_t length)
{
	return offset <= size && length <= size - offset;
}

/* A symbol named priv_init in any symbol table of a 64-bit ELF file. */
static bool names_priv_init(const unsigned char *map, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_range(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return false;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
	for (size_t i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
			continue;
		if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_entsize != sizeof(Elf64_Sym) ||
		    !in_range(size, sh[i].sh_offset, sh[i].sh_size))
			continue;
		const Elf64_Shdr *str = &sh[sh[i].sh_link];
		if (!in_range(size, str->sh_offset, str->sh_size))
			continue;
		const Elf64_Sym *sym = (const Elf64_Sym *)(map + sh[i].sh_offset);
		const char *names = (const char *)(map + str->sh_offset);
		for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Sym); j++) {
			if (sym[j].st_name >= str->sh_size)
				continue;
			const char *name = names + sym[j].st_name;
			if (strnlen(name, str->sh_size - sym[j].st_name) < str->sh_size - sym[j].st_name &&
			    strcmp(name, "priv_init") == 0)
				return true;
		}
	}
	return false;
}

bool learn_calls_priv_init(const char *command)
{
	char path[PATH_MAX];
	if (!find_command(command, path, sizeof(path)))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return false;
	bool found = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			found = names_priv_init(map, (size_t)st.st_size);
			munmap(map, (size_t)st.st_size);
		}
	}
	close(fd);
	return found;
}
