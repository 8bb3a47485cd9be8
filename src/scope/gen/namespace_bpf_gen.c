/* Run by the build (Makefile): writes to stdout the namespace filter
 * (scope/namespace_filter.c) as raw BPF, a C header the library compiles
 * in, so that no process runs libseccomp's compiler for it. Built for and
 * run on the machine the library is built for; the header names the ABI
 * it was made for, which drop_plan.c checks. Not part of the library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scope/namespace_filter.h"

int main(void)
{
	struct sock_fprog prog;
	int rc = namespace_filter_export(&prog);
	if (rc != 0) {
		fprintf(stderr, "namespace_bpf_gen: cannot build the namespace filter: %s\n",
			strerror(-rc));
		return 1;
	}
	printf("/* Made at build time by src/scope/gen/namespace_bpf_gen.c from the rules of\n"
	       " * src/scope/namespace_filter.c (libseccomp %u.%u.%u): do not edit. */\n",
	       seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
	printf("#define NAMESPACE_BPF_ARCH 0x%08xU /* seccomp_arch_native() */\n",
	       seccomp_arch_native());
	printf("static const struct sock_filter namespace_bpf_insns[%u] = {\n", prog.len);
	for (unsigned i = 0; i < prog.len; i++) {
		const struct sock_filter *f = &prog.filter[i];
		printf("\t{ 0x%04x, %3u, %3u, 0x%08x },\n", f->code, f->jt, f->jf, f->k);
	}
	printf("};\n");
	free(prog.filter);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "namespace_bpf_gen: cannot write: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
