/* The namespace filter's rules, written with libseccomp
 * (namespace_filter.c). The build runs them once, on the build machine
 * (gen/namespace_bpf_gen.c), and compiles the raw BPF into the library:
 * drop_plan.c loads those bytes, and no process pays for libseccomp's
 * compiler. The tests build the filter again here and require the same
 * bytes. */
#ifndef PRIVMAN_NAMESPACE_FILTER_H
#define PRIVMAN_NAMESPACE_FILTER_H

#include <seccomp.h>
#include <linux/filter.h>

/* The rules in a libseccomp context; NULL with errno on failure. */
scmp_filter_ctx namespace_filter_build(void);

/* The rules as the kernel takes them: out->filter is malloc'd (free it).
 * Returns 0 or a negative errno. */
int namespace_filter_export(struct sock_fprog *out);

#endif
