/*
 * watch.c: notice when the files we read change, with inotify.
 *
 * Editors and `aws configure` replace a file by writing a new one and
 * renaming it over the old: a watch on the file itself would follow the
 * old inode and miss the new one.  So the parent directories are watched
 * and events are filtered by name.  Bursts of events (write, then rename)
 * are folded into one callback WATCH_DELAY_MS after the last.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "core/core.h"

#define WATCH_EVENTS	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | \
			    IN_DELETE | IN_ATTRIB)
#define WATCH_BUF	(16 * (sizeof(struct inotify_event) + NAME_MAX + 1))

static struct {
	int		 fd;
	struct loop_watch lw;
	struct loop_timer timer;
	size_t		 n;
	int		 wd[WATCH_FILES_MAX];		/* per file: its directory's watch */
	char		 name[WATCH_FILES_MAX][NAME_MAX + 1];	/* per file: its base name */
	void		(*cb)(void *);
	void		*arg;
} wt = { .fd = -1 };

static void
watch_fire(void *unused)
{
	(void)unused;
	wt.cb(wt.arg);
}

static void
watch_readable(int fd, uint32_t events, void *unused)
{
	char buf[WATCH_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t r;
	size_t off, i;
	int hit = 0;

	(void)events;
	(void)unused;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off + sizeof(*ev) <= (size_t)r; off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (ev->mask & IN_Q_OVERFLOW)
				hit = 1;	/* events lost: assume ours was one */
			for (i = 0; i < wt.n; i++)
				if (ev->wd == wt.wd[i] && ev->len > 0 &&
				    strcmp(ev->name, wt.name[i]) == 0)
					hit = 1;
		}
	}
	if (hit)
		loop_timer_set(&wt.timer, WATCH_DELAY_MS, watch_fire, NULL);
}

int
watch_files(const char *const *paths, size_t n, void (*cb)(void *), void *arg, char *err,
    size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash;
	size_t i, dlen;

	if (n > WATCH_FILES_MAX) {
		snprintf(err, errlen, "can't happen: watching %zu files", n);
		return -1;
	}
	if ((wt.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		return -1;
	}
	wt.cb = cb;
	wt.arg = arg;
	for (i = 0; i < n; i++) {
		if ((slash = strrchr(paths[i], '/')) == NULL) {
			dlen = 1;
			memcpy(dir, ".", 2);
			slash = paths[i] - 1;
		} else {
			dlen = slash == paths[i] ? 1 : (size_t)(slash - paths[i]);
			if (dlen >= sizeof(dir)) {
				snprintf(err, errlen, "%s: path too long", paths[i]);
				goto fail;
			}
			memcpy(dir, paths[i], dlen);
			dir[dlen] = '\0';
		}
		if (strlen(slash + 1) > NAME_MAX || slash[1] == '\0') {
			snprintf(err, errlen, "%s: not a file name", paths[i]);
			goto fail;
		}
		snprintf(wt.name[i], sizeof(wt.name[i]), "%s", slash + 1);
		/* a directory that does not exist (no ~/.aws yet) is not watched */
		wt.wd[i] = inotify_add_watch(wt.fd, dir, WATCH_EVENTS | IN_ONLYDIR);
		if (wt.wd[i] == -1 && errno != ENOENT && errno != ENOTDIR) {
			snprintf(err, errlen, "watching %s: %s", dir, strerror(errno));
			goto fail;
		}
	}
	wt.n = n;
	if (loop_watch_add(&wt.lw, wt.fd, EPOLLIN, watch_readable, NULL) == -1) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(wt.fd);
	wt.fd = -1;
	return -1;
}

void
watch_stop(void)
{
	if (wt.fd == -1)
		return;
	loop_watch_del(&wt.lw);
	loop_timer_cancel(&wt.timer);
	close(wt.fd);
	wt.fd = -1;
}
