/* A PAM stack prepared ahead of need: a worker waiting for its transaction
 * runs pam_start for the service the monitor expects (pam_monitor.c:
 * prepared_service(), a service the policy grants), so that libpam's
 * reading of /etc/pam.d and its loading of every module is off the path of
 * the program's priv_pam_start. libpam's pam_start only reads and loads:
 * no module function runs before the program asks for one.
 *
 * What the program may not get: a stack other than the one it asked for
 * (the worker decides the service at BEGIN as without preparation, and the
 * prepared handle serves only that exact canonical name), or a stack older
 * than the configuration. The directories PAM reads the stack and the
 * modules from are watched with inotify before pam_start reads them, and
 * the handle is used only when no event came since: every change of a file
 * there (written, replaced, created, removed, its mode or owner changed)
 * makes the worker end it and call pam_start afresh, so an edit takes effect
 * for every transaction that begins after it. A stack that names a file or
 * module by a path elsewhere is never prepared. */
#include "monitor/pam_prepare.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/pam_stack.h"

/* Any change to what is in a directory, or to the directory itself. */
#define WATCH_MASK                                                                                 \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF |        \
	 IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

/* The trust of a stack from its scan (NULL: none could be made). */
static void trust_of(const char *service, const struct pam_stack_report *report,
		     struct pam_trust *out)
{
	const struct pam_stack_finding *f = NULL;
	out->trusts_caller = false;
	out->note[0] = '\0';
	if (report && pam_stack_trusts_caller(report, &f)) {
		out->trusts_caller = true;
		snprintf(out->note, sizeof(out->note),
			 "PAM service %s: %.200s line %u: %s %s; its users are not recorded",
			 service, f->file, f->line, f->module, f->why);
	}
}

void pam_trust_scan(const char *service, struct pam_trust *out)
{
	struct pam_stack_report report;
	int rc = pam_stack_scan(NULL, service, &report);
	trust_of(service, rc == 0 ? &report : NULL, out);
}

/* Watch directory `dir`; when it does not exist, its parent, for its
 * creation. Returns 0 or -1. */
static int watch_dir(int fd, const char *dir)
{
	if (inotify_add_watch(fd, dir, WATCH_MASK) >= 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -1;
	*slash = '\0';
	return inotify_add_watch(fd, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) >= 0 ? 0 : -1;
}

/* The directory libpam loads modules named without a path from: "security"
 * beside libpam itself. */
static int module_dir(char *out, size_t cap)
{
	Dl_info info;
	if (!dladdr((void *)pam_start, &info) || !info.dli_fname || info.dli_fname[0] != '/')
		return -1;
	const char *slash = strrchr(info.dli_fname, '/');
	int len = (int)(slash - info.dli_fname);
	if ((size_t)snprintf(out, cap, "%.*s/security", len, info.dli_fname) >= cap)
		return -1;
	return 0;
}

/* Watch where libpam reads the stack of `service` from, and scan it for
 * its trust; -1 when a file or module of it is named by a path elsewhere,
 * or anything fails. The watches are set before the stack is read, so no
 * change after the read is missed. */
static int watch_stack(const char *service, struct pam_trust *trust)
{
	char modules[PATH_MAX];
	if (module_dir(modules, sizeof(modules)) < 0)
		return -1;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	/* /etc/pam.d must be there: without it libpam reads /etc/pam.conf. */
	if (inotify_add_watch(fd, "/etc/pam.d", WATCH_MASK) < 0 ||
	    watch_dir(fd, "/usr/lib/pam.d") < 0 || watch_dir(fd, modules) < 0) {
		close(fd);
		return -1;
	}
	/* libpam reads "other" beside the service. */
	struct pam_stack_report report;
	int rc = pam_stack_scan(NULL, service, &report);
	if ((rc < 0 && errno != ENOENT) || report.outside) {
		close(fd);
		return -1;
	}
	trust_of(service, rc == 0 ? &report : NULL, trust);
	if (!report.missing &&
	    ((pam_stack_scan(NULL, "other", &report) < 0 && errno != ENOENT) || report.outside)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int keep_module(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_name && strstr(info->dlpi_name, "/security/"))
		dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	return 0;
}

void pam_keep_modules(void)
{
	dl_iterate_phdr(keep_module, NULL);
}

void pam_prepared_open(struct pam_prepared *p, const char *service, const struct pam_conv *conv)
{
	memset(p, 0, sizeof(*p));
	p->watch = -1;
	if (!service[0] || strlen(service) >= sizeof(p->service))
		return;
	p->watch = watch_stack(service, &p->trust);
	if (p->watch < 0)
		return;
	snprintf(p->service, sizeof(p->service), "%s", service);
	if (pam_start(service, NULL, conv, &p->pamh) != PAM_SUCCESS) {
		p->pamh = NULL;
		pam_prepared_drop(p);
	}
}

/* No event queued on the watch since it was set. The events are counted,
 * never read: the watch is shared by every worker forked from the PAM
 * zygote (pam_zygote.c) and by the zygote, and one that read them would
 * take them from the others, which would then use a stack older than an
 * edit. */
static bool unchanged(int watch)
{
	int queued = 0;
	return ioctl(watch, FIONREAD, &queued) == 0 && queued == 0;
}

bool pam_prepared_fresh(const struct pam_prepared *p, const char *service)
{
	return p->pamh && strcmp(p->service, service) == 0 && unchanged(p->watch);
}

pam_handle_t *pam_prepared_take(struct pam_prepared *p, const char *service,
				struct pam_trust *trust)
{
	pam_handle_t *pamh = NULL;
	if (pam_prepared_fresh(p, service)) {
		pamh = p->pamh;
		*trust = p->trust;
	} else if (p->pamh) {
		pam_end(p->pamh, PAM_SUCCESS | PAM_DATA_SILENT);
	}
	p->pamh = NULL;
	return pamh;
}

void pam_prepared_drop(struct pam_prepared *p)
{
	if (p->pamh)
		pam_end(p->pamh, PAM_SUCCESS | PAM_DATA_SILENT);
	p->pamh = NULL;
	/* The watch stays open until the process ends: closing an inotify
	 * instance waits for an RCU grace period (milliseconds), which must
	 * not be on a request's path. */
}

void pam_prepared_reset(struct pam_prepared *p)
{
	pam_prepared_drop(p);
	/* The zygote's copy only: the workers forked from it keep theirs. */
	if (p->watch >= 0)
		close(p->watch);
	p->watch = -1;
	p->service[0] = '\0';
}
