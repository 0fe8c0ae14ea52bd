/*
 * Septum's block clock: a UC_HOOK_BLOCK callback that counts the
 * instructions of every translated block the hart enters.
 *
 * Unicorn 2.1.4 has no icount; its exact count (emu_start's count=) is a
 * helper call before every instruction.  This callback runs once per block
 * instead: it finds the block's bytes in host memory (guest RAM and the MROM
 * are host buffers the board owns), translating the block's virtual address
 * with the hart's current privilege and satp (Sv39/48/57, superpages
 * included) read straight from QEMU's CPURISCVState, and counts its
 * instructions from their lengths (RVC: low two bits != 3 -> 2 bytes).
 *
 * The rule that keeps a slice within its budget: a block that would carry
 * `done` past `limit` stops emulation (uc_emu_stop from a block callback
 * stops *before* the block runs) and is not counted.  While `done` is 0 the
 * first block always runs, unless `strict` is set (a slice whose end must
 * be exact then stops at once and the caller finishes it in count mode).
 *
 * The struct is shared with Python (hypervisor/blockclock.py mirrors it
 * field for field as a ctypes.Structure); the same arithmetic exists there
 * in Python for machines without a C compiler.
 *
 * No Python.h: the object is a plain shared library loaded with ctypes.
 */

#include <stdint.h>
#include <string.h>

#define SEPTUM_PAGE 4096ULL
#define PRIV_M 3ULL
#define SATP_MODE_SHIFT 60
#define SATP_PPN_MASK ((1ULL << 44) - 1)
#define PTE_V 1ULL
#define PTE_R 2ULL
#define PTE_X 8ULL
#define PTE_PPN_SHIFT 10
#define PTE_PPN_MASK ((1ULL << 44) - 1)

struct septum_blockclock {
    uint64_t done;        /* instructions of the blocks entered this slice */
    uint64_t limit;       /* the slice's budget */
    uint64_t block_pc;    /* the current block: virtual start ... */
    uint64_t block_n;     /* ... instructions counted for it ... */
    uint64_t block_size;  /* ... and bytes (0: no open block) */
    uint64_t stopped;     /* 1: this clock stopped the slice */
    uint64_t strict;      /* stop before any block that overshoots, done == 0 too */
    uint64_t irq_stop;    /* stop before the next block (a device raised a line) */
    uint64_t blocks;      /* statistics: blocks counted */
    uint64_t fallbacks;   /* statistics: blocks counted by the fallback */
    uint64_t *counter;    /* uc->emu_counter, mirrored for other block hooks */
    const uint8_t *env;   /* QEMU's CPURISCVState */
    uint64_t off_priv;    /* byte offsets of env->priv and env->satp */
    uint64_t off_satp;
    const uint8_t *ram;   /* guest RAM in host memory */
    uint64_t ram_base;
    uint64_t ram_size;
    const uint8_t *rom;   /* the MROM in host memory */
    uint64_t rom_base;
    uint64_t rom_size;
    const uint8_t *block_host;  /* host bytes of the current block, or NULL */
    int (*stop)(void *uc);      /* uc_emu_stop */
    /* Counts a block whose bytes are not in RAM/ROM (Python). */
    uint64_t (*fallback)(uint64_t pc, uint64_t size);
    /* SEPTUM_CACHE_SLOTS entries (or NULL): counts of recent blocks. */
    struct septum_cache_entry *cache;
};

/* A block counted before: where its bytes are on the host, how many (up
   to SEPTUM_CACHE_BYTES, rounded up to 8) and a copy of them, and its count.
   A hit needs the same bytes, so a block rewritten since (self-modifying
   code, a program loaded over another) is decoded again: the count is a
   function of the bytes alone. */
#define SEPTUM_CACHE_SLOTS 1024
#define SEPTUM_CACHE_BYTES 64
struct septum_cache_entry {
    const uint8_t *host;
    uint64_t span;
    uint64_t n;
    uint64_t words[SEPTUM_CACHE_BYTES / 8];
};

/* Size of the cache Python allocates for the struct's `cache`. */
uint64_t septum_blockclock_cache_size(void)
{
    return sizeof(struct septum_cache_entry) * SEPTUM_CACHE_SLOTS;
}

static const uint8_t *host_of(const struct septum_blockclock *c, uint64_t pa, uint64_t n)
{
    uint64_t off = pa - c->ram_base;
    if (pa >= c->ram_base && off < c->ram_size && n <= c->ram_size - off)
        return c->ram + off;
    off = pa - c->rom_base;
    if (c->rom && pa >= c->rom_base && off < c->rom_size && n <= c->rom_size - off)
        return c->rom + off;
    return NULL;
}

/* Physical address of an instruction fetch from va at the current level;
   0 when it cannot be walked over host memory. */
static int translate(const struct septum_blockclock *c, uint64_t va, uint64_t *pa)
{
    uint64_t priv, satp, mode, a;
    int levels, i;
    memcpy(&priv, c->env + c->off_priv, 8);
    memcpy(&satp, c->env + c->off_satp, 8);
    mode = satp >> SATP_MODE_SHIFT;
    if (priv == PRIV_M || mode == 0) {
        *pa = va;
        return 1;
    }
    if (mode < 8 || mode > 10)
        return 0;
    levels = (int)mode - 5; /* Sv39: 3, Sv48: 4, Sv57: 5 */
    a = (satp & SATP_PPN_MASK) << 12;
    for (i = levels - 1; i >= 0; i--) {
        uint64_t idx = (va >> (12 + 9 * i)) & 511, pte;
        const uint8_t *h = host_of(c, a + idx * 8, 8);
        if (!h)
            return 0;
        memcpy(&pte, h, 8);
        if (!(pte & PTE_V))
            return 0;
        if (pte & (PTE_R | PTE_X)) {
            uint64_t mask = (1ULL << (12 + 9 * i)) - 1;
            *pa = ((((pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK) << 12) & ~mask) | (va & mask);
            return 1;
        }
        a = ((pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK) << 12;
    }
    return 0;
}

/* Instructions starting in the first `len` bytes at host `p`, one at a
   time: each step's load depends on the one before (the fallback). */
static uint64_t count_insns_slow(const uint8_t *p, uint64_t len)
{
    uint64_t off = 0, n = 0;
    while (off < len) {
        off += ((p[off] & 3) == 3) ? 4 : 2;
        n++;
    }
    return n;
}

/* For a chunk of 8 halfwords: index = which of them have low bits 11 (the
   first half of a 32-bit instruction, if an instruction starts there),
   carry = position 0 continues the previous chunk's last instruction.
   Entry: which positions start an instruction (bits 0-7), the carry into
   the next chunk (bit 8). */
static uint16_t starts_table[2][256];
static uint8_t popcount8[256];
static int starts_ready;

static void build_starts_table(void)
{
    for (int carry = 0; carry < 2; carry++) {
        for (int m = 0; m < 256; m++) {
            int i = carry, bits = 0;
            while (i < 8) {
                bits |= 1 << i;
                i += 1 + ((m >> i) & 1);
            }
            starts_table[carry][m] = (uint16_t)(bits | ((i > 8) << 8));
        }
    }
    for (int b = 1; b < 256; b++)
        popcount8[b] = (uint8_t)((b & 1) + popcount8[b >> 1]);
    starts_ready = 1;
}

/* Bit k (k < 4): halfword k of little-endian w has low bits 11. */
static inline unsigned long_halves(uint64_t w)
{
    uint64_t x = w & (w >> 1) & 0x0001000100010001ULL;
    return (unsigned)((x * 0x0001000200040008ULL) >> 48) & 0xF;
}

/* The same count 16 bytes at a time, with no load depending on a decoded
   length (reads up to 15 bytes past `len`: the caller checks they are in
   the same host buffer). */
static uint64_t count_insns_fast(const uint8_t *p, uint64_t len)
{
    uint64_t n = 0, off = 0;
    unsigned carry = 0;
    if (!starts_ready)
        build_starts_table();
    while (off < len) {
        uint64_t w0, w1;
        unsigned e, bits;
        memcpy(&w0, p + off, 8);
        memcpy(&w1, p + off + 8, 8);
        e = starts_table[carry][long_halves(w0) | (long_halves(w1) << 4)];
        bits = e & 0xFF;
        if (len - off < 16)
            bits &= (1u << ((len - off + 1) / 2)) - 1;
        n += popcount8[bits];
        carry = e >> 8;
        off += 16;
    }
    return n;
}

/* Host bytes of the block at virtual pc (size bytes), or NULL.  Every
   instruction of a block starts on the block's first page (QEMU ends a
   block at the page end; only the last instruction may straddle it), so
   the first page's part is all the decoder reads. */
static const uint8_t *block_bytes(const struct septum_blockclock *c, uint64_t pc, uint64_t size,
                                  uint64_t *span)
{
    uint64_t pa, room = SEPTUM_PAGE - (pc & (SEPTUM_PAGE - 1));
    if (!translate(c, pc, &pa))
        return NULL;
    *span = size < room ? size : room;
    return host_of(c, pa, *span);
}

/* Instructions starting in the first `len` bytes at host `p` (guest RAM or
   ROM). */
static uint64_t count_insns(const struct septum_blockclock *c, const uint8_t *p, uint64_t len)
{
    uint64_t need = (len + 15) & ~15ULL;
    if ((p >= c->ram && p + need <= c->ram + c->ram_size)
        || (c->rom && p >= c->rom && p + need <= c->rom + c->rom_size))
        return count_insns_fast(p, len);
    return count_insns_slow(p, len);
}

/* count_insns through the cache: comparing a block's bytes with a copy is
   a few independent loads, decoding it is a chain of dependent ones. */
static uint64_t count_cached(const struct septum_blockclock *c, const uint8_t *p, uint64_t len)
{
    struct septum_cache_entry *e;
    uint64_t words = (len + 7) / 8, i, n, w;
    if (!c->cache || len > SEPTUM_CACHE_BYTES
        || !((p >= c->ram && p + words * 8 <= c->ram + c->ram_size)
             || (c->rom && p >= c->rom && p + words * 8 <= c->rom + c->rom_size)))
        return count_insns(c, p, len);
    e = &c->cache[((uintptr_t)p >> 1) & (SEPTUM_CACHE_SLOTS - 1)];
    if (e->host == p && e->span == len) {
        uint64_t diff = 0;
        for (i = 0; i < words; i++) {
            memcpy(&w, p + 8 * i, 8);
            diff |= w ^ e->words[i];
        }
        if (!diff)
            return e->n;
    }
    n = count_insns(c, p, len);
    e->host = p;
    e->span = len;
    e->n = n;
    memcpy(e->words, p, words * 8);
    return n;
}

void septum_blockclock_hook(void *uc, uint64_t pc, uint32_t size, void *user)
{
    struct septum_blockclock *c = user;
    uint64_t n, span = 0;
    const uint8_t *p = block_bytes(c, pc, size, &span);
    if (p) {
        n = count_cached(c, p, span);
    } else {
        n = c->fallback(pc, size);
        c->fallbacks++;
        p = NULL;
    }
    if (c->irq_stop || (c->done + n > c->limit && (c->done > 0 || c->strict))) {
        c->stopped = 1;
        c->block_size = 0;
        c->stop(uc);
        return;
    }
    if (c->counter)
        *c->counter = c->done; /* instructions begun before this block */
    c->done += n;
    c->block_pc = pc;
    c->block_n = n;
    c->block_size = size;
    c->block_host = p;
    c->blocks++;
}

/* Execution left the current block at pc, inside it: count the block's
   instructions before pc plus `extra` (1 when the instruction at pc counts
   as retired: a trap's), not the rest, and close the block.  Returns 0,
   changing nothing, when pc is not inside the open block. */
int septum_blockclock_retire(struct septum_blockclock *c, uint64_t pc, uint64_t extra)
{
    uint64_t k;
    if (!c->block_size || pc < c->block_pc || pc >= c->block_pc + c->block_size
        || !c->block_host)
        return 0;
    k = count_insns(c, c->block_host, pc - c->block_pc);
    c->done = c->done - c->block_n + k + extra;
    c->block_size = 0;
    if (c->counter)
        *c->counter = c->done;
    return 1;
}

/* How many instructions start in the block [pc, pc+size) as this clock
   counts them; -1 when its bytes are not in host memory. */
int64_t septum_blockclock_count(const struct septum_blockclock *c, uint64_t pc, uint64_t size)
{
    uint64_t span = 0;
    const uint8_t *p = block_bytes(c, pc, size, &span);
    return p ? (int64_t)count_insns(c, p, span) : -1;
}
