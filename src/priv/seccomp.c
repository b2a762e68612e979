/*
 * seccomp.c: the daemon's seccomp allow-list (step 5 of sandbox.c),
 * loaded with libseccomp by dlopen (like libcurl in sts.c) and unloaded
 * once the filter is in the kernel: it costs no resident memory afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>

#include <dlfcn.h>
#include <linux/sched.h>
#include <seccomp.h>

#include "priv/priv.h"

#define LIBSECCOMP_SONAME	"libseccomp.so.2"	/* libseccomp2, Debian 12 */

/* Calls allowed with any arguments. */
static const int allow_any[] = {
	/* descriptors and files (opens are checked below) */
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(write),
	SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl), SCMP_SYS(fcntl64),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(dup),
	SCMP_SYS(dup3), SCMP_SYS(pipe2), SCMP_SYS(eventfd2), SCMP_SYS(getdents64),
	/* the control socket's file at exit (as root-turned-nobody, the helper does it) */
	SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	/* the loop, libcurl's polling */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* libnftables waits for the kernel's answers with select */
	SCMP_SYS(select), SCMP_SYS(pselect6),
	/* sockets: serving, STS (connect, DNS over UDP and netlink), the helper's channels */
	SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(shutdown), SCMP_SYS(socketpair),
	/* memory (mmap and mprotect are checked below) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	/* who and where */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(uname),
	SCMP_SYS(sysinfo), SCMP_SYS(getrandom), SCMP_SYS(getrlimit),
	/* signals, exit, threads (libcurl's resolver) */
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall), SCMP_SYS(tgkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(futex), SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(wait4),
};

/* Calls that only injected code would make here: they kill the process. */
static const int kill_any[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
};

static struct {
	scmp_filter_ctx	(*init)(uint32_t);
	int		(*rule_add)(scmp_filter_ctx, uint32_t, int, unsigned int, ...);
	int		(*attr_set)(scmp_filter_ctx, enum scmp_filter_attr, uint32_t);
	int		(*load)(scmp_filter_ctx);
	void		(*release)(scmp_filter_ctx);
} lsc;

/*
 * Build and load the filter.  *nrules gets how many rules went in.
 * 0 / -1 with err.  libseccomp is loaded for this and unloaded after.
 */
int
sbx_seccomp_install(unsigned *nrules, char *err, size_t errlen)
{
	const uint32_t wx = PROT_WRITE | PROT_EXEC;
	const uint32_t ro_mask = O_ACCMODE | O_CREAT | O_TRUNC;
	const uint32_t allow = SCMP_ACT_ALLOW;
	scmp_filter_ctx ctx = NULL;
	void *h;
	size_t i;
	int rc = -1, bad = 0, r;

	*nrules = 0;
	if ((h = dlopen(LIBSECCOMP_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "seccomp: %s (install libseccomp2, or --no-sandbox)",
		    dlerror());
		return -1;
	}
	*(void **)&lsc.init = dlsym(h, "seccomp_init");
	*(void **)&lsc.rule_add = dlsym(h, "seccomp_rule_add");
	*(void **)&lsc.attr_set = dlsym(h, "seccomp_attr_set");
	*(void **)&lsc.load = dlsym(h, "seccomp_load");
	*(void **)&lsc.release = dlsym(h, "seccomp_release");
	if (lsc.init == NULL || lsc.rule_add == NULL || lsc.attr_set == NULL ||
	    lsc.load == NULL || lsc.release == NULL) {
		snprintf(err, errlen, "seccomp: %s lacks a function", LIBSECCOMP_SONAME);
		goto out;
	}
	if ((ctx = lsc.init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		goto out;
	}
	/* every thread (a resolver thread could be alive); no_new_privs is set already */
	(void)lsc.attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);

#define RULE(act, nr, ...) do {						\
		r = lsc.rule_add(ctx, (act), (nr), __VA_ARGS__);		\
		if (r == 0)						\
			(*nrules)++;					\
		else if (r != -EDOM)	/* not a call of this architecture */ \
			bad = r;					\
	} while (0)

	for (i = 0; i < sizeof(allow_any) / sizeof(allow_any[0]); i++)
		RULE(allow, allow_any[i], 0);
	for (i = 0; i < sizeof(kill_any) / sizeof(kill_any[0]); i++)
		RULE(SCMP_ACT_KILL_PROCESS, kill_any[i], 0);
	/* glibc tries clone3 first and falls back to clone on ENOSYS */
	RULE(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* clone: threads only (no fork, no new namespaces) */
	RULE(allow, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
	    CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWNET, CLONE_THREAD));
	/* files: read-only opens (config, shared files, /etc for DNS, /proc/self/smaps) */
	RULE(allow, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, ro_mask, O_RDONLY));
	RULE(allow, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, ro_mask, O_RDONLY));
	/* sockets of these families only (netlink: getaddrinfo, and the packet filter) */
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	/* ioctl: isatty (stdio), FIONREAD and FIONBIO (libcurl) */
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS));
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	/* W^X: no mapping both writable and executable */
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, 0));
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_WRITE));
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_EXEC));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, 0));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_WRITE));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_EXEC));
	/* getrlimit through prlimit64 (glibc): reading only */
	RULE(allow, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
#undef RULE
	if (bad != 0) {
		snprintf(err, errlen, "seccomp_rule_add: %s", strerror(-bad));
		goto out;
	}
	if ((r = lsc.load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
		goto out;
	}
	rc = 0;
out:
	if (ctx != NULL)
		lsc.release(ctx);
	memset(&lsc, 0, sizeof(lsc));
	dlclose(h);
	return rc;
}
