/* fakexen: an LD_PRELOAD library that stands where the Xen hypervisor
 * would be, so Debian's unmodified C xenstored (xen-utils-4.17) runs on a
 * host without Xen. It is a test fake, not part of govirtd.
 *
 * - The libxenctrl / libxenevtchn / libxengnttab entry points xenstored
 *   calls are answered here (grant maps are fresh zeroed pages).
 * - /proc/xen/xsd_kva and /proc/xen/xsd_port are redirected to files in
 *   $FAKEXEN_DIR (dom0's store ring and port).
 * - xc_domain_getinfo reports a domain alive unless its id is listed in
 *   the file $FAKEXEN_DEAD (one id a line): then it is dying.
 * - A byte written to the FIFO $FAKEXEN_VIRQ fires the VIRQ_DOM_EXC event
 *   channel, on which xenstored looks for dying domains and fires
 *   @releaseDomain, as it does when Xen reports a domain's death.
 *
 * Adapted from the project's probe in shared/tools/fakexen.c. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdarg.h>
#include <fcntl.h>
#include <unistd.h>
#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>

static int fake_handle;
static int virq_fd = -1, next_port = 10;
#define VIRQ_PORT 5

struct fake_dominfo { uint32_t domid, ssidref, flags, shutdown_reason; };

static int is_dead(uint32_t domid) {
	const char *f = getenv("FAKEXEN_DEAD");
	FILE *fp;
	int d, dead = 0;
	if (!f || !(fp = fopen(f, "r")))
		return 0;
	while (fscanf(fp, "%d", &d) == 1)
		if ((uint32_t)d == domid)
			dead = 1;
	fclose(fp);
	return dead;
}

void *xc_interface_open(void *a, void *b, unsigned f) { return &fake_handle; }
int xc_interface_close(void *x) { return 0; }
int xc_domain_getinfo(void *xch, uint32_t first, unsigned int max, void *info) {
	struct fake_dominfo *d = info;
	memset(d, 0, sizeof *d);
	d->domid = first;
	if (is_dead(first))
		d->flags = 1; /* dying */
	return 1;
}

void *xengnttab_open(void *l, unsigned f) { return &fake_handle; }
int xengnttab_close(void *x) { return 0; }
int xengnttab_set_max_grants(void *x, uint32_t n) { return 0; }
void *xengnttab_map_grant_ref(void *x, uint32_t dom, uint32_t ref, int prot) {
	void *p;
	return posix_memalign(&p, 4096, 4096) ? NULL : memset(p, 0, 4096);
}
int xengnttab_unmap(void *x, void *a, uint32_t c) { return 0; }

void *xenevtchn_open(void *l, unsigned f) {
	const char *fifo = getenv("FAKEXEN_VIRQ");
	if (fifo) {
		mkfifo(fifo, 0600);
		virq_fd = open(fifo, O_RDWR | O_NONBLOCK);
	} else {
		int p[2];
		if (pipe(p) == 0)
			virq_fd = p[0];
	}
	return &fake_handle;
}
void *xenevtchn_fdopen(void *l, int fd, unsigned f) { return xenevtchn_open(l, f); }
int xenevtchn_fd(void *x) { return virq_fd; }
int xenevtchn_bind_virq(void *x, unsigned v) { return VIRQ_PORT; }
int xenevtchn_bind_interdomain(void *x, uint32_t d, int rp) { return next_port++; }
int xenevtchn_notify(void *x, int p) { return 0; }
int xenevtchn_unbind(void *x, int p) { return 0; }
int xenevtchn_unmask(void *x, int p) { return 0; }
int xenevtchn_pending(void *x) {
	char c;
	return read(virq_fd, &c, 1) == 1 ? VIRQ_PORT : -1;
}

static char kva[PATH_MAX], port[PATH_MAX];

static const char *redirect(const char *p) {
	const char *dir = getenv("FAKEXEN_DIR");
	if (!dir)
		dir = "/tmp";
	if (!strcmp(p, "/proc/xen/xsd_kva")) {
		int fd;
		snprintf(kva, sizeof kva, "%s/fake_kva", dir);
		fd = open(kva, O_RDWR | O_CREAT, 0600);
		if (fd >= 0) {
			if (ftruncate(fd, 4096)) {}
			close(fd);
		}
		return kva;
	}
	if (!strcmp(p, "/proc/xen/xsd_port")) {
		FILE *fp;
		snprintf(port, sizeof port, "%s/fake_port", dir);
		if ((fp = fopen(port, "w"))) {
			fputs("1\n", fp);
			fclose(fp);
		}
		return port;
	}
	return p;
}

#define OPENLIKE(name)                                                  \
	int name(const char *p, int fl, ...) {                          \
		static int (*r)(const char *, int, ...);                \
		mode_t m = 0;                                           \
		if (!r)                                                 \
			r = dlsym(RTLD_NEXT, #name);                    \
		if (fl & O_CREAT) {                                     \
			va_list a;                                      \
			va_start(a, fl);                                \
			m = va_arg(a, int);                             \
			va_end(a);                                      \
		}                                                       \
		return r(redirect(p), fl, m);                           \
	}
OPENLIKE(open)
OPENLIKE(open64)
