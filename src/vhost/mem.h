/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mem.h - the vhost-user memory table (mem.c): the guest memory regions a
 * VMM shares with SET_MEM_TABLE, mapped into this process, and the two
 * translations every ring access goes through.  Internal.
 */
#ifndef NETBE_VHOST_MEM_H
#define NETBE_VHOST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Regions of one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
#define NETBE__VH_MEM_MAX 8

struct netbe__vh_region {
	uint64_t gpa;	/* guest-physical start */
	uint64_t size;	/* bytes, > 0 */
	uint64_t uva;	/* the VMM's virtual address of gpa */
	uint8_t *host;	/* our address of gpa */
	void *map;	/* what we mmap()ed (NULL: not ours to unmap) */
	size_t map_len;
	bool shrinkable;	/* its file could not be sealed (F_SEAL_SHRINK) */
};

struct netbe__vh_mem {
	unsigned n;
	struct netbe__vh_region r[NETBE__VH_MEM_MAX];
};

/*
 * Guest-physical @gpa: our address of it, with *@avail set to how many of
 * the @len bytes from there lie in the same region (at least 1), or NULL
 * when @gpa is in no region.  A buffer may span adjacent regions: the
 * caller translates the rest from gpa + *avail.
 */
void *netbe__vh_gpa(const struct netbe__vh_mem *m, uint64_t gpa,
		    uint64_t len, uint64_t *avail);
/* The same, trying region *@hint first and leaving there the index of
 * the region that held @gpa (any value is safe: it is checked). */
void *netbe__vh_gpa_hint(const struct netbe__vh_mem *m, uint64_t gpa,
			 uint64_t len, uint64_t *avail, unsigned *hint);
/* All @len bytes at guest-physical @gpa in one region, or NULL. */
void *netbe__vh_gpa_all(const struct netbe__vh_mem *m, uint64_t gpa,
			uint64_t len);
/* All @len bytes at the VMM's virtual @uva in one region, or NULL. */
void *netbe__vh_uva(const struct netbe__vh_mem *m, uint64_t uva,
		    uint64_t len);

/* One region as SET_MEM_TABLE describes it. */
struct netbe__vh_region_msg {
	uint64_t gpa, size, uva, mmap_offset;
};

/*
 * Maps @n regions, region i from @fds[i], into @m (empty on entry).
 * Every region is checked first: non-empty, no overflow, inside the file
 * (fstat), no two overlapping in guest-physical or VMM space.  Returns 0,
 * or -errno with @why set and nothing mapped.  The fds are not closed.
 */
int netbe__vh_mem_map(struct netbe__vh_mem *m,
		      const struct netbe__vh_region_msg *reg, const int *fds,
		      unsigned n, const char **why);
/* Unmaps what @m mapped and empties it. */
void netbe__vh_mem_unmap(struct netbe__vh_mem *m);

/*
 * The dirty log of a live migration (SET_LOG_BASE, LOG_SHMFD): a bitmap
 * the VMM shares, bit p % 8 of byte p / 8 for guest-physical page p
 * (4 KiB), which we set for every page we write while the VMM logs.
 */
struct netbe__vh_log {
	uint8_t *map;	/* what we mmap()ed; NULL: no log */
	size_t map_len;
	uint8_t *bits;	/* map + the message's offset */
	uint64_t len;	/* bytes of bits */
	bool shrinkable; /* its file could not be sealed (F_SEAL_SHRINK) */
};

#define NETBE__VH_LOG_PAGE 4096

/* Maps @size bytes of log from @offset in @fd into @l (empty on entry),
 * after the checks a memory region gets (inside the file, sealed
 * against shrinking where it can be).  0 or -errno with @why set. */
int netbe__vh_log_map(struct netbe__vh_log *l, int fd, uint64_t size,
		      uint64_t offset, const char **why);
void netbe__vh_log_unmap(struct netbe__vh_log *l);
/* Marks the pages of guest-physical [@gpa, @gpa + @len) dirty, after the
 * writes to them; pages past the log's end are skipped. */
void netbe__vh_log_gpa(const struct netbe__vh_log *l, uint64_t gpa,
		       uint64_t len);
/* The same for @len bytes at our address @p, inside one region of @m. */
void netbe__vh_log_host(const struct netbe__vh_log *l,
			const struct netbe__vh_mem *m, const void *p,
			uint64_t len);

#endif
