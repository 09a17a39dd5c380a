/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mem.c - the vhost-user memory table: guest memory a VMM shares with us.
 *
 * Theory of operation
 *   SET_MEM_TABLE hands us up to 8 regions, each a file descriptor (a
 *   memfd or hugetlbfs file the VMM backs guest RAM with) plus where the
 *   region sits in three address spaces: guest-physical (what the guest
 *   writes in descriptors), the VMM's virtual one (what SET_VRING_ADDR
 *   uses for the rings) and the file (mmap_offset).  We map each file
 *   MAP_SHARED from offset 0 to mmap_offset + size (mmap wants a page
 *   aligned offset; mmap_offset need not be) and keep our pointer to the
 *   region's start.
 *
 *   Every address the guest or the VMM gives is translated here and
 *   nowhere else, with overflow-safe bounds checks: an address outside
 *   every region, or a length past a region's end, gives NULL.  A region
 *   is checked before it is mapped: non-empty, offset + size without
 *   overflow and within the file's size (fstat: touching a MAP_SHARED
 *   page past the end of a file raises SIGBUS), and no overlap with
 *   another region in guest-physical or VMM-virtual space (an overlap
 *   would make a translation ambiguous).
 *
 *   A VMM that shrinks the file after we mapped it would raise SIGBUS in
 *   us at the next touch of a cut page.  A memfd can be sealed against
 *   that by anyone holding it, unless its creator forbade sealing: so
 *   before the size check each region's file gets F_SEAL_SHRINK when it
 *   lacks it and takes it (QEMU's memory-backend-memfd arrives sealed
 *   already, seal=on by default; a memfd made with MFD_ALLOW_SEALING but
 *   left unsealed gets it from us).  Sealing first means the size we
 *   check cannot drop after.  A region whose file cannot be sealed
 *   (DPDK's memfds, hugetlbfs or tmpfs files) is marked shrinkable and
 *   the backend says so in its log; so is a dirty log (SET_LOG_BASE)
 *   whose file cannot be; see docs/security.md.
 *
 *   Lookups scan the regions linearly: QEMU sends one to three (below
 *   and above the 4 GiB hole), DPDK a few; a scan of <= 8 entries costs
 *   less than the descriptor read that needs it.  Each ring keeps the
 *   index of the region its last buffer was in (a hint, checked against
 *   the table's current size and bounds like any other lookup): a
 *   guest's buffers mostly come from one pool, so the scan is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "mem.h"

static bool in_region(const struct netbe__vh_region *r, uint64_t gpa)
{
	return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* The region holding @gpa: region *@hint first (the last one hit, when
 * it is still in the table), then all. */
static const struct netbe__vh_region *find_gpa(const struct netbe__vh_mem *m,
					       uint64_t gpa, unsigned *hint)
{
	if (*hint < m->n && in_region(&m->r[*hint], gpa))
		return &m->r[*hint];
	for (unsigned i = 0; i < m->n; i++)
		if (in_region(&m->r[i], gpa)) {
			*hint = i;
			return &m->r[i];
		}
	return NULL;
}

void *netbe__vh_gpa(const struct netbe__vh_mem *m, uint64_t gpa,
		    uint64_t len, uint64_t *avail)
{
	unsigned hint = 0;

	return netbe__vh_gpa_hint(m, gpa, len, avail, &hint);
}

void *netbe__vh_gpa_hint(const struct netbe__vh_mem *m, uint64_t gpa,
			 uint64_t len, uint64_t *avail, unsigned *hint)
{
	const struct netbe__vh_region *r = find_gpa(m, gpa, hint);
	uint64_t off, left;

	if (!r)
		return NULL;
	off = gpa - r->gpa;
	left = r->size - off;
	*avail = len < left ? len : left;
	return r->host + off;
}

void *netbe__vh_gpa_all(const struct netbe__vh_mem *m, uint64_t gpa,
			uint64_t len)
{
	uint64_t avail = 0;
	void *p = netbe__vh_gpa(m, gpa, len, &avail);

	return p && avail == len ? p : NULL;
}

void *netbe__vh_uva(const struct netbe__vh_mem *m, uint64_t uva,
		    uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct netbe__vh_region *r = &m->r[i];
		uint64_t off = uva - r->uva;

		if (uva >= r->uva && off < r->size && len <= r->size - off)
			return r->host + off;
	}
	return NULL;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Seals @fd against shrinking where it can (else sets *@shrinkable),
 * then checks that it holds @end bytes. */
static int file_check(int fd, uint64_t end, bool *shrinkable,
		      const char **why)
{
	struct stat st;

	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 &&
	    !(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK))
		*shrinkable = true; /* not a memfd, or sealing forbidden */
	if (fstat(fd, &st) < 0) {
		*why = "fd of a mapping cannot be examined (fstat)";
		return -errno;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end) {
		*why = "mapping extends past the end of its file";
		return -EINVAL;
	}
	return 0;
}

/* Checks one region against the file behind @fd and the regions before
 * it; @why says what is wrong.  Seals the file against shrinking where
 * it can, else sets *@shrinkable. */
static int region_check(const struct netbe__vh_region_msg *reg, unsigned i,
			int fd, bool *shrinkable, const char **why)
{
	const struct netbe__vh_region_msg *g = &reg[i];

	if (!g->size || g->gpa + g->size < g->gpa ||
	    g->uva + g->size < g->uva ||
	    g->mmap_offset + g->size < g->mmap_offset ||
	    g->mmap_offset + g->size > (uint64_t)SIZE_MAX) {
		*why = "region empty or its end overflows";
		return -EINVAL;
	}
	for (unsigned j = 0; j < i; j++)
		if (overlap(g->gpa, g->size, reg[j].gpa, reg[j].size) ||
		    overlap(g->uva, g->size, reg[j].uva, reg[j].size)) {
			*why = "regions overlap";
			return -EINVAL;
		}
	return file_check(fd, g->mmap_offset + g->size, shrinkable, why);
}

static int region_map(struct netbe__vh_region *r,
		      const struct netbe__vh_region_msg *g, int fd,
		      const char **why)
{
	size_t len = (size_t)(g->mmap_offset + g->size);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		*why = "mmap of a region failed";
		return -errno;
	}
	r->gpa = g->gpa;
	r->size = g->size;
	r->uva = g->uva;
	r->map = p;
	r->map_len = len;
	r->host = (uint8_t *)p + g->mmap_offset;
	return 0;
}

int netbe__vh_mem_map(struct netbe__vh_mem *m,
		      const struct netbe__vh_region_msg *reg, const int *fds,
		      unsigned n, const char **why)
{
	bool shrinkable[NETBE__VH_MEM_MAX] = { false };
	int r = 0;

	if (n > NETBE__VH_MEM_MAX) {
		*why = "more than 8 regions";
		return -E2BIG;
	}
	for (unsigned i = 0; i < n && r == 0; i++)
		r = region_check(reg, i, fds[i], &shrinkable[i], why);
	for (unsigned i = 0; i < n && r == 0; i++) {
		r = region_map(&m->r[i], &reg[i], fds[i], why);
		if (r == 0) {
			m->n = i + 1;
			m->r[i].shrinkable = shrinkable[i];
		}
	}
	if (r < 0)
		netbe__vh_mem_unmap(m);
	return r;
}

void netbe__vh_mem_unmap(struct netbe__vh_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	m->n = 0;
}

/* ---- the dirty log ------------------------------------------------------ */

int netbe__vh_log_map(struct netbe__vh_log *l, int fd, uint64_t size,
		      uint64_t offset, const char **why)
{
	bool shrinkable = false;
	void *p;
	int r;

	if (!size || offset + size < offset || offset + size > SIZE_MAX) {
		*why = "log empty or its end overflows";
		return -EINVAL;
	}
	r = file_check(fd, offset + size, &shrinkable, why);
	if (r < 0)
		return r;
	p = mmap(NULL, (size_t)(offset + size), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*why = "mmap of the log failed";
		return -errno;
	}
	l->map = p;
	l->map_len = (size_t)(offset + size);
	l->bits = (uint8_t *)p + offset;
	l->len = size;
	l->shrinkable = shrinkable;
	return 0;
}

void netbe__vh_log_unmap(struct netbe__vh_log *l)
{
	if (l->map)
		munmap(l->map, l->map_len);
	*l = (struct netbe__vh_log){ 0 };
}

void netbe__vh_log_gpa(const struct netbe__vh_log *l, uint64_t gpa,
		       uint64_t len)
{
	uint64_t page, last;

	if (!len || gpa + len < gpa)
		return;
	last = (gpa + len - 1) / NETBE__VH_LOG_PAGE;
	/* Always the atomic or, never "load, or if clear": a load may pass
	 * our earlier stores to the page, see a bit the VMM is about to
	 * clear and skip it, and the VMM then copies the page without
	 * them. */
	for (page = gpa / NETBE__VH_LOG_PAGE;
	     page <= last && page / 8 < l->len; page++)
		__atomic_fetch_or(&l->bits[page / 8],
				  (uint8_t)(1u << (page % 8)), __ATOMIC_SEQ_CST);
}

void netbe__vh_log_host(const struct netbe__vh_log *l,
			const struct netbe__vh_mem *m, const void *p,
			uint64_t len)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < m->n; i++) {
		const struct netbe__vh_region *r = &m->r[i];

		if (b >= r->host && (uint64_t)(b - r->host) < r->size) {
			netbe__vh_log_gpa(l, r->gpa + (uint64_t)(b - r->host),
					  len);
			return;
		}
	}
}
