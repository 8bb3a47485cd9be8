/* Solaris privileges (privileges(5)) mapped to Linux capabilities. The
 * capability names are given as text and turned into numbers by libcap, so
 * this table never hard-codes a capability number. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "scope/capmap.h"

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
