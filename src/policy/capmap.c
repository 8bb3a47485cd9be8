/* Capabilities in the language: libcap's cap_from_text() text, and Solaris
 * privileges (privileges(5)) mapped to Linux capabilities. The capability
 * names are given as text and turned into numbers by libcap, so this table
 * never hard-codes a capability number. Pure: whether this kernel lets a
 * process hold them is scope/resolve_scope.c's question. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "policy/capmap.h"
#include "policy/policy.h"

struct privilege {
	const char *name;
	const char *capabilities; /* space-separated libcap names; NULL: none */
};

/* Names with a Linux equivalent. */
static const struct privilege mapped[] = {
	{ "net_privaddr", "cap_net_bind_service" },
	{ "net_rawaccess", "cap_net_raw" },
	{ "net_icmpaccess", "cap_net_raw" },
	{ "sys_net_config", "cap_net_admin" },
	{ "sys_ip_config", "cap_net_admin" },
	{ "sys_resource", "cap_sys_resource" },
	{ "proc_setid", "cap_setuid cap_setgid" },
	{ "proc_chroot", "cap_sys_chroot" },
	{ "proc_owner", "cap_kill" },
	{ "proc_priocntl", "cap_sys_nice" },
	{ "proc_lock_memory", "cap_ipc_lock" },
	{ "proc_audit", "cap_audit_write" },
	{ "sys_audit", "cap_audit_control" },
	{ "file_chown", "cap_chown" },
	{ "file_chown_self", "cap_chown" },
	{ "file_dac_read", "cap_dac_read_search" },
	{ "file_dac_search", "cap_dac_read_search" },
	{ "file_dac_write", "cap_dac_override" },
	{ "file_dac_execute", "cap_dac_override" },
	{ "file_owner", "cap_fowner" },
	{ "file_setid", "cap_fsetid" },
	{ "sys_admin", "cap_sys_admin" },
	{ "sys_mount", "cap_sys_admin" },
	{ "sys_time", "cap_sys_time" },
	{ "sys_config", "cap_sys_admin" },
	{ "sys_devices", "cap_mknod" },
	{ "sys_linkdir", "cap_fowner" },
	{ "ipc_dac_read", "cap_ipc_owner" },
	{ "ipc_dac_write", "cap_ipc_owner" },
	{ "ipc_owner", "cap_ipc_owner" },
	{ "sys_ipc_config", "cap_sys_resource" },
	{ "sys_suser_compat", "cap_sys_admin" },
	{ "sys_ptrace", "cap_sys_ptrace" },
	{ "proc_session", "cap_kill" },
	{ NULL, NULL },
};

/* Solaris names that mean nothing on Linux: accepted with a warning. */
static const char *const unmapped[] = {
	"net_bindmlp", "net_mac_aware", "net_mac_implicit", "net_observability",
	"file_downgrade_sl", "file_upgrade_sl", "file_flag_set", "file_link_any",
	"file_read", "file_write", "proc_exec", "proc_fork", "proc_info",
	"proc_clock_highres", "proc_taskid", "proc_zone", "sys_acct", "sys_dl_config",
	"sys_trans_label", "sys_res_config", "sys_smb", "sys_share",
	"sys_iptun_config", "sys_flow_config", "sys_ppp_config", "sys_fs_import",
	"sys_dtrace", "dtrace_kernel", "dtrace_proc", "dtrace_user", "graphics_access",
	"graphics_map", "win_colormap", "win_config", "win_dac_read", "win_dac_write",
	"win_devices", "win_dga", "win_downgrade_sl", "win_fontpath", "win_mac_read",
	"win_mac_write", "win_selection", "win_upgrade_sl", "contract_event",
	"contract_identity", "contract_observer", "virt_manage", "xvm_control",
	"hyperv_control", "net_access", NULL,
};

static const struct privilege *find_mapped(const char *name)
{
	for (size_t i = 0; mapped[i].name; i++)
		if (strcmp(mapped[i].name, name) == 0)
			return &mapped[i];
	return NULL;
}

static bool is_unmapped(const char *name)
{
	for (size_t i = 0; unmapped[i]; i++)
		if (strcmp(unmapped[i], name) == 0)
			return true;
	return false;
}

static int add_capabilities(const char *names, uint64_t *mask)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", names);
	char *save = NULL;
	for (char *name = strtok_r(buf, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		cap_value_t value;
		if (cap_from_name(name, &value) < 0 || value < 0 || value > 63)
			return -1;
		*mask |= UINT64_C(1) << value;
	}
	return 0;
}

static void suggest(const char *name, const struct origin *at, struct diag *d)
{
	const char *names[sizeof(mapped) / sizeof(mapped[0]) + 2];
	size_t n = 0;
	names[n++] = "basic";
	for (size_t i = 0; mapped[i].name; i++)
		names[n++] = mapped[i].name;
	names[n] = NULL;
	const char *nearest = diag_nearest(name, names);
	if (nearest)
		diag_error(d, at, "unknown Solaris privilege '%s'; did you mean '%s'?", name,
			   nearest);
	else
		diag_error(d, at, "unknown Solaris privilege '%s'", name);
}

int capmap_privileges(const char *text, const struct origin *at, uint64_t *mask,
		      struct diag *d)
{
	char *copy = strdup(text);
	if (!copy) {
		diag_error(d, at, "out of memory");
		return -1;
	}
	int rc = 0;
	char *save = NULL;
	for (char *name = strtok_r(copy, " \t\n,", &save); name;
	     name = strtok_r(NULL, " \t\n,", &save)) {
		if (strcmp(name, "basic") == 0)
			continue; /* what every Linux process may do anyway */
		const struct privilege *p = find_mapped(name);
		if (p) {
			if (add_capabilities(p->capabilities, mask) < 0) {
				diag_error(d, at, "privilege '%s' maps to %s, which this libcap "
						  "does not know",
					   name, p->capabilities);
				rc = -1;
			}
		} else if (is_unmapped(name)) {
			diag_warn(d, at, "Solaris privilege '%s' has no Linux equivalent; ignored",
				  name);
		} else {
			suggest(name, at, d);
			rc = -1;
		}
	}
	free(copy);
	return rc;
}

/* --- capability text (cap_from_text) ------------------------------------ */

int policy_parse_capabilities(const char *text, const struct origin *at, uint64_t *effective,
			      uint64_t *permitted, uint64_t *inheritable, struct diag *d)
{
	*effective = *permitted = *inheritable = 0;
	cap_t caps = cap_from_text(text);
	if (!caps) {
		/* Name the word libcap did not accept. */
		char *copy = strdup(text);
		const char *bad = NULL;
		char *save = NULL;
		for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && !bad;
		     w = strtok_r(NULL, " \t", &save)) {
			cap_t one = cap_from_text(w);
			if (!one)
				bad = w;
			cap_free(one);
		}
		if (bad)
			diag_error(d, at,
				   "capabilities \"%s\": cannot parse \"%s\" (expected names "
				   "like cap_net_bind_service+ep; see cap_from_text(3))",
				   text, bad);
		else
			diag_error(d, at,
				   "capabilities \"%s\" is not a capability text (see "
				   "cap_from_text(3))",
				   text);
		free(copy);
		return -1;
	}
	int rc = 0;
	cap_value_t max = cap_max_bits();
	for (cap_value_t c = 0; c < max && c < 64; c++) {
		cap_flag_value_t v;
		if (cap_get_flag(caps, c, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET)
			*effective |= UINT64_C(1) << c;
		if (cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			*permitted |= UINT64_C(1) << c;
		if (cap_get_flag(caps, c, CAP_INHERITABLE, &v) == 0 && v == CAP_SET)
			*inheritable |= UINT64_C(1) << c;
	}
	if (*effective & ~*permitted) {
		diag_error(d, at,
			   "capabilities \"%s\": a capability cannot be effective without being "
			   "permitted (write +ep, not +e)",
			   text);
		rc = -1;
	}
	cap_free(caps);
	return rc;
}

int policy_security_parse_capabilities(struct policy_security *s, struct diag *d)
{
	int rc = 0;
	s->cap_effective = s->cap_permitted = s->cap_inheritable = 0;
	if (s->capabilities.text &&
	    policy_parse_capabilities(s->capabilities.text, &s->capabilities.origin,
				      &s->cap_effective, &s->cap_permitted, &s->cap_inheritable,
				      d) < 0)
		rc = -1;
	if (s->privileges.text) {
		uint64_t mask = 0;
		if (capmap_privileges(s->privileges.text, &s->privileges.origin, &mask, d) < 0)
			rc = -1;
		s->cap_effective |= mask;
		s->cap_permitted |= mask;
	}
	return rc;
}

const char *policy_cap_name(int cap, char *buf, size_t len)
{
	char *name = cap_to_name((cap_value_t)cap);
	snprintf(buf, len, "%s", name ? name : "?");
	cap_free(name);
	return buf;
}
