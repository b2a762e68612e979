/*
 * control.c: the control socket, `serve --control PATH`.
 *
 * A Unix stream socket, never a TCP listener: whoever may open the file
 * (mode 0600 by default) may change what the instance serves.  The
 * protocol, one exchange per connection:
 *
 *	client:	["spot-interrupt","--action","terminate","--in","2m"]\n
 *	server:	ok spot terminate at 2025-06-02T09:22:00Z\n	(then closes)
 *	    or:	error spot-interrupt: --action is terminate, stop or hibernate, ...\n
 *
 * The request is one line: a JSON array of 1 to CONTROL_ARGS_MAX strings,
 * the words of a `ctl` command line, at most CONTROL_LINE_MAX bytes with
 * its LF.  The reply is one line, "ok", "ok TEXT" or "error MESSAGE".  What
 * the words mean is the handler's business (serve/daemon.c, imds/lifecycle.c); this
 * file only moves lines, on the event loop, never blocking: a client that
 * does not finish its line within CONTROL_TIMEOUT_MS is dropped, and at
 * most CONTROL_CLIENTS_MAX are served at once (more wait in the backlog).
 *
 * The socket file: a stale one (nobody accepts on it: a daemon that died)
 * is replaced; a live one, or a file that is not a socket, is refused.  The
 * daemon is often root, and the socket's directory may be writable by
 * others, so its mode and owner are never changed through the path, which
 * another user could swap for a symbolic link to any file between bind and
 * chmod (#17 finding 3).  Instead it is bound inside a private directory
 * made beside it (mkdtemp, 0700, reached only through its descriptor),
 * given its mode and owner there, where nobody else can reach it, and then
 * renamed into place, never over an existing file (RENAME_NOREPLACE, or
 * where that is unsupported a hard link and an unlink); the inode at the
 * path is then checked to be the one bound.  It listens before the rename,
 * so that at the path it is never a socket that refuses connections (which
 * a second daemon, or the sandbox helper at exit, would take for a stale
 * one).  control_close removes the file, if it is still ours; so does the
 * sandbox helper (control_remove_bound), given the file's device and inode
 * (control_bound).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "ops/ops.h"

#define CONTROL_BACKLOG		16	/* listen(2) backlog of the control socket */
#define CONTROL_TMP_SUFFIX	".XXXXXX"	/* mkdtemp template: the private directory beside PATH */
#define CONTROL_TMP_NAME	"s"	/* the socket's name inside that directory */

struct ctl_client {
	int		 ck_fd;		/* -1: free slot */
	struct loop_watch ck_watch;
	struct loop_timer ck_timer;	/* the deadline */
	size_t		 ck_inlen;
	int		 ck_writing;	/* the reply is being written */
	int		 ck_toolong;	/* the line is over CONTROL_LINE_MAX: discarding to its LF */
	size_t		 ck_outlen;
	size_t		 ck_sent;
	uid_t		 ck_uid;	/* the peer, for the log */
	char		 ck_in[CONTROL_LINE_MAX];
	char		 ck_out[CONTROL_REPLY_MAX];
};

static struct {
	int		 fd;		/* the listener, -1 when closed */
	struct loop_watch watch;
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t		 dev;		/* the file we created, to remove only that */
	ino_t		 ino;
	control_fn	 fn;
	struct ctl_client *clients;	/* CONTROL_CLIENTS_MAX, allocated at open */
	size_t		 nbusy;
	int		 paused;	/* accepting stopped: all slots busy */
} ctl = { .fd = -1 };

static void	 on_listen(int fd, uint32_t events, void *arg);
static void	 on_client(int fd, uint32_t events, void *arg);

static void
client_close(struct ctl_client *c)
{
	if (c->ck_fd < 0)
		return;
	loop_watch_del(&c->ck_watch);
	loop_timer_cancel(&c->ck_timer);
	close(c->ck_fd);
	c->ck_fd = -1;
	ctl.nbusy--;
	if (ctl.paused && ctl.fd >= 0 &&
	    loop_watch_add(&ctl.watch, ctl.fd, EPOLLIN, on_listen, NULL) == 0)
		ctl.paused = 0;
}

static void
on_deadline(void *arg)
{
	struct ctl_client *c = arg;

	log_warn("control: a client (uid %u) took longer than %d ms; dropped",
	    (unsigned)c->ck_uid, CONTROL_TIMEOUT_MS);
	client_close(c);
}

/* Write what is left of the reply; close when done. */
static void
client_write(struct ctl_client *c)
{
	ssize_t n;

	while (c->ck_sent < c->ck_outlen) {
		n = send(c->ck_fd, c->ck_out + c->ck_sent, c->ck_outlen - c->ck_sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* EPOLLOUT calls again */
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->ck_sent += (size_t)n;
	}
	client_close(c);
}

/* Send the reply line built in ck_out (an LF is added). */
static void
client_reply(struct ctl_client *c)
{
	size_t n = strnlen(c->ck_out, sizeof(c->ck_out) - 1);

	c->ck_out[n++] = '\n';
	c->ck_outlen = n;
	c->ck_sent = 0;
	c->ck_writing = 1;
	loop_watch_del(&c->ck_watch);
	if (loop_watch_add(&c->ck_watch, c->ck_fd, EPOLLOUT, on_client, c) == -1) {
		client_close(c);
		return;
	}
	client_write(c);
}

int
control_parse_request(const char *line, size_t len, char ***argvp, size_t *argcp,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	char **argv, *p;
	size_t i, n, total = 0;

	*argvp = NULL;
	*argcp = 0;
	if ((root = json_loadb(line, len, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "the request is not JSON: %s (column %d)", jerr.text,
		    jerr.column);
		return -1;
	}
	n = json_array_size(root);
	if (!json_is_array(root) || n == 0 || n > CONTROL_ARGS_MAX) {
		snprintf(err, errlen, "the request is a JSON array of 1 to %d strings",
		    CONTROL_ARGS_MAX);
		json_decref(root);
		return -1;
	}
	json_array_foreach(root, i, v) {
		/* an embedded NUL would cut the word short: refused */
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen, "word %zu of the request is not a string (or holds "
			    "a NUL)", i + 1);
			json_decref(root);
			return -1;
		}
		total += json_string_length(v) + 1;
	}
	/* one block: the pointers, then the words */
	if ((argv = malloc((n + 1) * sizeof(*argv) + total)) == NULL) {
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -1;
	}
	p = (char *)(argv + n + 1);
	json_array_foreach(root, i, v) {
		argv[i] = p;
		memcpy(p, json_string_value(v), json_string_length(v) + 1);
		p += json_string_length(v) + 1;
	}
	argv[n] = NULL;
	json_decref(root);
	*argvp = argv;
	*argcp = n;
	return 0;
}

/* A whole line arrived: run it. */
static void
client_line(struct ctl_client *c, size_t len)
{
	char err[ERRBUF_LEN], *reply;
	char **argv;
	size_t argc;

	if (control_parse_request(c->ck_in, len, &argv, &argc, err, sizeof(err)) == -1) {
		log_warn("control: uid %u: refused: %s", (unsigned)c->ck_uid, err);
		snprintf(c->ck_out, sizeof(c->ck_out), "error %s", err);
		client_reply(c);
		return;
	}
	/* the reply is built in place: ck_out is free until client_reply */
	reply = c->ck_out;
	reply[0] = '\0';
	ctl.fn((const char *const *)argv, argc, reply, sizeof(c->ck_out) - 1);
	/* one line whatever the handler echoed of the request */
	text_clean(reply, sizeof(c->ck_out), reply, strlen(reply));
	if (strncmp(reply, "ok", 2) == 0)
		log_info("control: uid %u: %s: %.200s", (unsigned)c->ck_uid, argv[0], reply);
	else
		log_warn("control: uid %u: %s: %.200s", (unsigned)c->ck_uid, argv[0], reply);
	free(argv);
	client_reply(c);
}

static void
on_client(int fd, uint32_t events, void *arg)
{
	struct ctl_client *c = arg;
	char *lf;
	ssize_t n;

	(void)fd;
	if (c->ck_writing) {
		client_write(c);
		return;
	}
	(void)events;
	for (;;) {
		n = read_some(c->ck_fd, c->ck_in + c->ck_inlen, sizeof(c->ck_in) - c->ck_inlen);
		if (n == -1)
			return;
		if (n == 0) {
			/* EOF (or an error) before a whole line: nothing to answer */
			client_close(c);
			return;
		}
		lf = memchr(c->ck_in + c->ck_inlen, '\n', (size_t)n);
		c->ck_inlen += (size_t)n;
		if (lf != NULL && c->ck_toolong) {
			log_warn("control: uid %u: a request line longer than %d bytes; refused",
			    (unsigned)c->ck_uid, CONTROL_LINE_MAX);
			snprintf(c->ck_out, sizeof(c->ck_out), "error a request line is at most "
			    "%d bytes", CONTROL_LINE_MAX);
			client_reply(c);
			return;
		}
		if (lf != NULL) {
			client_line(c, (size_t)(lf - c->ck_in));
			return;
		}
		if (c->ck_inlen == sizeof(c->ck_in)) {
			/*
			 * Too long: read on to its end (within the deadline) and
			 * only then answer, so that the unread rest cannot turn
			 * our close into a reset that destroys the answer.
			 */
			c->ck_toolong = 1;
			c->ck_inlen = 0;
		}
	}
}

static void
on_listen(int fd, uint32_t events, void *arg)
{
	struct ctl_client *c;
	struct ucred cred;
	socklen_t clen;
	size_t i;
	int cfd;

	(void)events;
	(void)arg;
	for (;;) {
		if (ctl.nbusy == CONTROL_CLIENTS_MAX) {
			/* the rest wait in the backlog until a slot frees */
			loop_watch_del(&ctl.watch);
			ctl.paused = 1;
			return;
		}
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control: accept: %s", strerror(errno));
			return;
		}
		for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
			if (ctl.clients[i].ck_fd < 0)
				break;
		c = &ctl.clients[i];
		memset(c, 0, sizeof(*c) - sizeof(c->ck_in) - sizeof(c->ck_out));
		c->ck_fd = cfd;
		clen = sizeof(cred);
		c->ck_uid = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 ?
		    cred.uid : (uid_t)-1;
		ctl.nbusy++;
		if (loop_watch_add(&c->ck_watch, cfd, EPOLLIN, on_client, c) == -1) {
			client_close(c);
			continue;
		}
		loop_timer_set(&c->ck_timer, CONTROL_TIMEOUT_MS, on_deadline, c);
	}
}

int
control_dial(const struct sockaddr_un *sa, int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (timeout_ms != 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		snprintf(err, errlen, "control socket %s: %s", sa->sun_path, strerror(errno));
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* lstat(2) of the socket file: 1 there, 0 nothing there, -1 with err. */
static int
control_stat(const char *path, struct stat *sb, char *err, size_t errlen)
{
	if (lstat(path, sb) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	return -1;
}

int
control_remove_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat sb;
	int fd, there;

	if (control_addr(path, &sa, err, errlen) == -1)
		return -1;
	if ((there = control_stat(path, &sb, err, errlen)) != 1)
		return there;
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "control socket %s: the file exists and is not a socket",
		    path);
		return -1;
	}
	if ((fd = control_dial(&sa, 0, err, errlen)) != -1) {
		close(fd);
		snprintf(err, errlen, "control socket %s: another daemon is listening on it",
		    path);
		return -1;
	}
	if (errno != ECONNREFUSED)
		return -1;
	/* nobody listens: left by a daemon that has stopped */
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: removing the stale socket: %s", path,
		    strerror(errno));
		return -1;
	}
	return 1;
}

int
control_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* a path, not the abstract namespace (which file modes do not protect) */
	if (path[0] == '\0' || strlen(path) >= sizeof(sa->sun_path)) {
		snprintf(err, errlen, "control socket '%.64s': a path of 1 to %zu bytes", path,
		    sizeof(sa->sun_path) - 1);
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Remove path if it is still the file (dev, ino). */
static void
remove_if_ours(const char *path, dev_t dev, ino_t ino)
{
	struct stat sb;

	if (lstat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino)
		unlink(path);
}

int
control_bound(dev_t *dev, ino_t *ino)
{
	if (ctl.fd < 0)
		return -1;
	*dev = ctl.dev;
	*ino = ctl.ino;
	return 0;
}

int
control_remove_bound(const char *path, dev_t dev, ino_t ino, char *err, size_t errlen)
{
	struct stat sb;
	int there;

	if ((there = control_stat(path, &sb, err, errlen)) != 1)
		return there;
	if (sb.st_dev != dev || sb.st_ino != ino) {
		snprintf(err, errlen, "control socket %s: another file is there now (another "
		    "daemon's)", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

/*
 * Bind fd in the private directory dfd (as CONTROL_TMP_NAME), with the
 * umask closed: the process's working directory is dfd for the one call,
 * so that no path anyone else can change is resolved.  0 / -1 (errno).
 */
static int
bind_in(int fd, int dfd)
{
	struct sockaddr_un sa;
	mode_t old;
	int cwd, rc, saved;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, CONTROL_TMP_NAME, sizeof(CONTROL_TMP_NAME));
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fchdir(dfd) == -1) {
		close_keep_errno(cwd);
		return -1;
	}
	old = umask(077);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	umask(old);
	if (fchdir(cwd) == -1)
		fatal(EXIT_SYSTEM, "control socket: returning to the working directory");
	close(cwd);
	errno = saved;
	return rc;
}

/*
 * Bind fd to path with mode and owner (see the top): in a private
 * directory beside path, then renamed into place.  *dev, *ino: the socket
 * file.  0 / -1 with err (nothing left behind).
 */
static int
bind_private(int fd, const char *path, unsigned mode, uid_t uid, gid_t gid, dev_t *dev,
    ino_t *ino, char *err, size_t errlen)
{
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path) + sizeof(CONTROL_TMP_SUFFIX)];
	struct stat sb;
	int dfd = -1, bound = 0, placed = 0, rc = -1;

	snprintf(tmp, sizeof(tmp), "%s%s", path, CONTROL_TMP_SUFFIX);
	if (mkdtemp(tmp) == NULL) {
		snprintf(err, errlen, "control socket %s: making a private directory beside it: %s",
		    path, strerror(errno));
		return -1;
	}
	/* the directory made, not one swapped in for it since */
	if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(dfd, &sb) == -1) {
		snprintf(err, errlen, "control socket %s: %s: %s", path, tmp, strerror(errno));
		goto done;
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "control socket %s: %s was replaced while starting", path, tmp);
		goto done;
	}
	if (bind_in(fd, dfd) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		goto done;
	}
	bound = 1;
	if (fchmodat(dfd, CONTROL_TMP_NAME, mode, 0) == -1) {
		snprintf(err, errlen, "control socket %s: chmod %o: %s", path, mode, strerror(errno));
		goto done;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(dfd, CONTROL_TMP_NAME, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(err, errlen, "control socket %s: chown: %s", path, strerror(errno));
		goto done;
	}
	if (fstatat(dfd, CONTROL_TMP_NAME, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "control socket %s: the socket bound is gone", path);
		goto done;
	}
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	/*
	 * Listening before it is in place: a second daemon that finds it at
	 * the path sees a live one (connect succeeds), never a stale one to
	 * remove; nobody else can reach it in the private directory.
	 */
	if (listen(fd, CONTROL_BACKLOG) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		goto done;
	}
	/*
	 * Never over a file: what was there was checked (control_remove_stale).
	 * Where RENAME_NOREPLACE is not supported (EINVAL), a hard link, which
	 * fails on an existing file too, then the private name is removed.
	 */
	if (renameat2(dfd, CONTROL_TMP_NAME, AT_FDCWD, path, RENAME_NOREPLACE) == -1) {
		if (errno != EINVAL || linkat(dfd, CONTROL_TMP_NAME, AT_FDCWD, path, 0) == -1) {
			snprintf(err, errlen, "control socket %s: %s", path, errno == EEXIST ?
			    "a file appeared there while starting" : strerror(errno));
			goto done;
		}
		placed = 1;
		if (unlinkat(dfd, CONTROL_TMP_NAME, 0) == -1) {
			snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
			goto done;
		}
	}
	placed = 1;
	if (lstat(path, &sb) == -1 || sb.st_dev != *dev || sb.st_ino != *ino) {
		snprintf(err, errlen, "control socket %s: replaced by another file while starting",
		    path);
		goto done;
	}
	rc = 0;
done:
	if (rc != 0 && placed)
		remove_if_ours(path, *dev, *ino);
	if (rc != 0 && bound)
		unlinkat(dfd, CONTROL_TMP_NAME, 0);	/* ENOENT once renamed */
	if (dfd != -1)
		close(dfd);
	if (rmdir(tmp) == -1)
		log_warn("control socket %s: removing %s: %s", path, tmp, strerror(errno));
	return rc;
}

int
control_open(const char *path, unsigned mode, uid_t uid, gid_t gid, control_fn fn,
    char *err, size_t errlen)
{
	struct sockaddr_un sa;
	dev_t dev = 0;
	ino_t ino = 0;
	size_t i;
	int fd = -1, bound = 0, stale;

	if (control_addr(path, &sa, err, errlen) == -1 ||
	    (stale = control_remove_stale(path, err, errlen)) == -1)
		return -1;
	if (stale)
		log_info("control socket %s: replaced a stale socket", path);
	if ((ctl.clients = calloc(CONTROL_CLIENTS_MAX, sizeof(*ctl.clients))) == NULL) {
		snprintf(err, errlen, "control socket: out of memory");
		return -1;
	}
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		ctl.clients[i].ck_fd = -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind_private(fd, path, mode, uid, gid, &dev, &ino, err, errlen) == -1)
		goto fail;
	bound = 1;
	if (loop_watch_add(&ctl.watch, fd, EPOLLIN, on_listen, NULL) == -1) {
		snprintf(err, errlen, "control socket: epoll: %s", strerror(errno));
		goto fail;
	}
	ctl.fd = fd;
	ctl.dev = dev;
	ctl.ino = ino;
	ctl.fn = fn;
	memcpy(ctl.path, sa.sun_path, sizeof(ctl.path));
	log_info("control socket %s (mode %04o)", path, mode);
	return 0;
fail:
	if (bound)
		remove_if_ours(path, dev, ino);
	if (fd != -1)
		close(fd);
	free(ctl.clients);
	ctl.clients = NULL;
	return -1;
}

void
control_close(void)
{
	size_t i;

	if (ctl.fd < 0)
		return;
	for (i = 0; i < CONTROL_CLIENTS_MAX; i++)
		client_close(&ctl.clients[i]);
	if (!ctl.paused)
		loop_watch_del(&ctl.watch);
	close(ctl.fd);
	ctl.fd = -1;
	/* only our own file: another daemon may have replaced it since */
	remove_if_ours(ctl.path, ctl.dev, ctl.ino);
	free(ctl.clients);
	ctl.clients = NULL;
}
