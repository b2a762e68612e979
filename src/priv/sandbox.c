/*
 * sandbox.c: least privilege once the privileged start is over (habit 12).
 *
 * serve starts as root (or with capabilities) to bind its listeners (port
 * 80 needs CAP_NET_BIND_SERVICE) and install packet-filter rules.  Once it
 * listens and has its first credential, sandbox_enter drops for good:
 *
 *   1. the helper (channel.c) is started, when one is needed;
 *   2. as root: supplementary groups cleared, then gid, then uid
 *      (setresgid/setresuid) to --user (default nobody); the bounding set
 *      is cut down first, while CAP_SETPCAP is still there;
 *   3. every capability is dropped, except CAP_NET_ADMIN while packet-filter
 *      rules are installed (they are kept up to date, then removed at
 *      SIGTERM): effective = permitted = bounding = that one, no
 *      inheritable, no ambient;
 *   4. PR_SET_NO_NEW_PRIVS;
 *   5. a seccomp allow-list (libseccomp, loaded with dlopen like libcurl in
 *      sts.c and unloaded once the filter is in the kernel: it costs no
 *      resident memory afterwards).  The architecture is checked first
 *      (another ABI kills the process).
 *
 * Started as another user, there is no user switch (there is nothing to
 * switch from); capabilities the process may hold are still dropped, and
 * steps 4 and 5 still apply.  --no-sandbox skips all of it.
 *
 * What the filter does with a call outside the list: it fails with EPERM,
 * except a few that only injected code would make here (execve, execveat,
 * ptrace, process_vm_readv/writev), which kill the process at once
 * (SECCOMP_RET_KILL_PROCESS).  EPERM as the default keeps the daemon
 * serving when a library takes a rare path the list did not foresee (say a
 * resolver variant): that one operation fails and is logged and retried,
 * instead of every pod losing its credentials; the calls an exploit needs
 * to go further (run a program, reach into another process) end it.
 * clone3 fails with ENOSYS so that glibc falls back to clone, whose flags
 * the filter can see: threads (libcurl's resolver) only, no fork.
 *
 * The helper (channel.c, helper.c) keeps what the daemon gives up here: it
 * runs credential_process and opens the files re-read after the drop.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "priv/priv.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

/* The user to become, from sandbox_prepare. */
static struct {
	int		 have_user;
	uid_t		 uid;
	gid_t		 gid;
	char		 user[64];
} sbx;

/* ------------------------------------------------------------------ */
/* Privileges                                                          */
/* ------------------------------------------------------------------ */

int
sbx_caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) == -1)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

int
sbx_caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)prm;
	d[1].permitted = (uint32_t)(prm >> 32);
	d[0].inheritable = (uint32_t)inh;
	d[1].inheritable = (uint32_t)(inh >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

int
sbx_caps_settle(uint64_t eff, uint64_t prm, uint64_t inh, char *err, size_t errlen)
{
	if (sbx_caps_set(eff, prm, inh) == -1) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	/* EINVAL before Linux 4.3, which has no ambient set to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL) {
		snprintf(err, errlen, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
sbx_bounding_drop(uint64_t keep)
{
	int c;

	for (c = 0; c < SANDBOX_CAP_BITS; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break;		/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1)
			return -1;
	}
	return 0;
}

int
sbx_become(uid_t uid, gid_t gid, uint64_t keep, char *err, size_t errlen)
{
	uid_t ru, eu, su;

	/* keep the permitted set across setresuid only when something is kept */
	if (prctl(PR_SET_KEEPCAPS, keep != 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) == -1) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		snprintf(err, errlen, "setresgid %lu: %s", (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "setresuid %lu: %s", (unsigned long)uid, strerror(errno));
		return -1;
	}
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	/* paranoia, as OpenSSH: the old identity must be out of reach */
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid || su != uid ||
	    (uid != 0 && (setuid(0) != -1 || setgid(0) != -1))) {
		snprintf(err, errlen, "can't happen: root is still within reach after "
		    "switching to uid %lu", (unsigned long)uid);
		return -1;
	}
	return 0;
}

/* The user switch and capabilities: steps 2 and 3 of the top comment.  0 / -1 with err. */
static int
drop_privileges(uint64_t keep, uint64_t ambient, int *switched, char *err, size_t errlen)
{
	uint64_t eff, prm;

	*switched = 0;
	if (sbx_caps_get(&eff, &prm) == -1) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	keep &= prm;	/* a capability we do not have can't be kept */
	/* the bounding set can only be cut with CAP_SETPCAP; without it there is nothing to gain */
	if ((eff & (1ULL << CAP_SETPCAP)) && sbx_bounding_drop(keep) == -1) {
		snprintf(err, errlen, "PR_CAPBSET_DROP: %s", strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && sbx.have_user && sbx.uid != 0) {
		if (sbx_become(sbx.uid, sbx.gid, keep, err, errlen) == -1)
			return -1;
		*switched = 1;
	}
	ambient &= keep;
	if (sbx_caps_settle(keep, keep, ambient, err, errlen) == -1)
		return -1;
	/* what programs we exec keep (the iptables commands), despite no_new_privs */
	for (int c = 0; c < SANDBOX_CAP_BITS; c++)
		if ((ambient & (1ULL << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) == -1) {
			snprintf(err, errlen, "PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
			return -1;
		}
	if (sbx_caps_get(&eff, &prm) == -1 || eff != keep || prm != keep) {
		snprintf(err, errlen, "can't happen: capabilities %#llx/%#llx, wanted %#llx",
		    (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)keep);
		return -1;
	}
	return 0;
}

/*
 * Test hook (tests/wire/test_sandbox.py; not documented for users):
 * GIMME_TEST_FORBIDDEN_SYSCALL=eperm makes the daemon try unshare(0) once
 * the sandbox is up (a no-op when allowed; refused by the filter), =kill
 * tries execveat on no descriptor (EBADF when allowed; kills under the
 * filter).  Neither changes anything when it is allowed.
 */
static void
forbidden_probe(const char *what)
{
	long r;

	if (strcmp(what, "eperm") == 0) {
		r = syscall(SYS_unshare, 0);
		log_warn("sandbox test: unshare(0): %s", r == 0 ? "allowed" : strerror(errno));
	} else if (strcmp(what, "kill") == 0) {
		log_warn("sandbox test: execveat(-1) next");
		r = syscall(SYS_execveat, -1, "", NULL, NULL, AT_EMPTY_PATH);
		log_warn("sandbox test: execveat(-1): %s", r == 0 ? "allowed" : strerror(errno));
	}
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

int
sandbox_prepare(const struct sandbox_cfg *sc_, char *err, size_t errlen)
{
	const char *name = sc_->sbc_user != NULL ? sc_->sbc_user : SANDBOX_USER_DEFAULT;
	struct passwd *pw;

	if (sc_->sbc_disabled || geteuid() != 0)
		return 0;
	if (strlen(name) >= sizeof(sbx.user)) {
		snprintf(err, errlen, "user name '%s' is too long", name);
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "no user named '%s'%s%s", name, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return -1;
	}
	sbx.uid = pw->pw_uid;
	sbx.gid = pw->pw_gid;
	snprintf(sbx.user, sizeof(sbx.user), "%s", name);
	sbx.have_user = 1;
	return 0;
}

int
sandbox_helper_early(const struct sandbox_cfg *sc_, char *err, size_t errlen)
{
	char desc[ERRBUF_LEN];

	if (sc_->sbc_disabled || sc_->sbc_profile == NULL)
		return 0;
	return sbx_helper_start(sc_, geteuid() == 0 && sbx.have_user && sbx.uid != 0, desc,
	    sizeof(desc), err, errlen);
}

int
sandbox_enter(const struct sandbox_cfg *sc_, char *err, size_t errlen)
{
	const uint64_t keep = sc_->sbc_keep_net_admin ? 1ULL << CAP_NET_ADMIN : 0;
	const char *probe = getenv("GIMME_TEST_FORBIDDEN_SYSCALL");
	char helper[ERRBUF_LEN] = "", filter[256];
	int switching, switched = 0;
	unsigned nrules = 0;

	if (sc_->sbc_disabled) {
		log_warn("sandbox: off (--no-sandbox): uid %lu keeps every privilege it started "
		    "with", (unsigned long)geteuid());
		return 0;
	}
	switching = geteuid() == 0 && sbx.have_user && sbx.uid != 0;

	/* 1. (or it was started for start-up's first fetch: sandbox_helper_early) */
	if (sbx_helper_start(sc_, switching, helper, sizeof(helper), err, errlen) == -1)
		return -1;

	/*
	 * 2, 3. The user and capabilities.  (The packet-filter rules were
	 * installed before this call; keep says whether to keep CAP_NET_ADMIN.)
	 */
	if (drop_privileges(keep, sc_->sbc_exec_net_admin ? keep : 0, &switched, err,
	    errlen) == -1)
		return -1;
	if (!switched && sc_->sbc_user_set && geteuid() != 0)
		log_warn("sandbox: not started as root: --user %s ignored, staying uid %lu",
		    sc_->sbc_user, (unsigned long)geteuid());

	/* 4. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}

	/* 5. */
#ifdef SANDBOX_SANITIZER
	/* AddressSanitizer's runtime (LeakSanitizer's ptrace at exit) is not on the list */
	snprintf(filter, sizeof(filter), "no seccomp filter (sanitizer build)");
	(void)nrules;
#else
	if (sc_->sbc_exec_net_admin) {
		/* the iptables commands are exec'd, which the filter kills */
		snprintf(filter, sizeof(filter), "no seccomp filter (the magic IP's iptables rules "
		    "are kept up with the iptables commands; nftables allows one)");
	} else {
		if (sbx_seccomp_install(&nrules, err, errlen) == -1)
			return -1;
		snprintf(filter, sizeof(filter), "seccomp allow-list of %u rules (others EPERM; "
		    "exec and ptrace kill)", nrules);
	}
#endif
	if (switched)
		log_info("sandbox: user %s (uid %lu, gid %lu, no supplementary groups), "
		    "capabilities: %s, no_new_privs, %s%s", sbx.user, (unsigned long)sbx.uid,
		    (unsigned long)sbx.gid, keep ? (sc_->sbc_exec_net_admin ? "net_admin (also "
		    "ambient)" : "net_admin") : "none", filter, helper);
	else
		log_info("sandbox: uid %lu (not switched%s), capabilities: %s, no_new_privs, %s%s",
		    (unsigned long)geteuid(), geteuid() == 0 ? ": --user is root" : ": not root",
		    keep ? (sc_->sbc_exec_net_admin ? "net_admin (also ambient)" : "net_admin") :
		    "none", filter, helper);
	if (probe != NULL)
		forbidden_probe(probe);
	return 0;
}

