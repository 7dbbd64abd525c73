/*
 * seqid_renumber: rewrites ecpriSeqid so that sequence IDs run on per
 * flow (plane, direction, eAxC ID), starting at 0 and wrapping at 256.
 *
 * The interop fault it fixes: some DUs number messages with one counter
 * for all eAxCs (or per plane only), while the O-RAN CUS spec, and RUs
 * that check it, expect ecpriSeqid to increase by one per message on
 * each eAxC. An RU that sees gaps counts lost packets or drops them.
 *
 * Radio-transport-layer fragments keep their subsequence ID and E bit;
 * they share the sequence ID of their message, which advances after the
 * fragment with the E bit. Every eCPRI message of a frame is handled
 * (concatenated ones too). Over UDP, a non-zero UDP checksum is updated
 * incrementally (RFC 1624).
 *
 * Written in C against translators/ABI.md v2 without the Rust SDK, to
 * show that any language that follows the ABI works. No libc.
 * Build: clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -o seqid_renumber.wasm seqid_renumber.c
 * Configuration: none (any key is refused, naming it).
 * Effects (ABI.md section 6): "seq_id * -> renumbered"; the format is unchanged.
 * Counters: renumbered (messages whose ecpriSeqid changed), flows,
 * table_full (messages of flows beyond the table's capacity, left as they are).
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

/* --- ABI v2 layout (ABI.md section 3) --------------------------------- */

enum {
    MAX_IN = 64,
    MAX_OUT = 128,
    SLOT_SIZE = 16384,
    SLOT_STRIDE = SLOT_SIZE + 64, /* slots start a cache line apart in a page */
    DESCRIPTORS_OFFSET = 64,
    DESCRIPTOR_LEN = 64,
    SLOTS_OFFSET = DESCRIPTORS_OFFSET + MAX_OUT * DESCRIPTOR_LEN,
    IO_REGION_SIZE = SLOTS_OFFSET + MAX_OUT * SLOT_STRIDE,
};

/* Descriptor field offsets. */
enum {
    D_OFFSET = 0,
    D_LEN = 4,
    D_CAPACITY = 8,
    D_VERDICT = 12,
    D_DIRECTION = 13,
    D_PLANE = 14,
    D_ECPRI_OFFSET = 26,
};

enum { VERDICT_FORWARD = 0, VERDICT_MODIFIED = 2 };

static u8 region[IO_REGION_SIZE] __attribute__((aligned(8)));

/* --- The fhgate.meta custom section (ABI.md section 5) ----------------
 * clang 14 puts section("...") data into a data segment, but wasm-ld turns
 * an assembler section named .custom_section.NAME into a custom section. */
__asm__(".section .custom_section.fhgate.meta,\"\",@\n"
        ".ascii \"name=seqid_renumber\\n\"\n"
        ".ascii \"version=1.0.0\\n\"\n"
        ".ascii \"planes=u,c\\n\"\n"
        ".ascii \"directions=any\\n\"\n"
        ".ascii \"types=0,2\\n\"\n"
        ".text\n");

/* --- Host imports (ABI.md section 6) ---------------------------------- */

__attribute__((import_module("fhgate"), import_name("log")))
void fh_log(int level, const char *ptr, int len);
__attribute__((import_module("fhgate"), import_name("counter_define")))
int fh_counter_define(const char *ptr, int len);
__attribute__((import_module("fhgate"), import_name("counter_add")))
void fh_counter_add(int id, i64 delta);
__attribute__((import_module("fhgate"), import_name("effect")))
int fh_effect(const char *ptr, int len);

/* The compiler may emit calls to these for copies and clears. */
void *memset(void *d, int c, unsigned long n) {
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n) {
    u8 *p = d;
    const u8 *q = s;
    while (n--) *p++ = *q++;
    return d;
}

static unsigned long cstrlen(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

static void log_msg(int level, const char *s) { fh_log(level, s, (int)cstrlen(s)); }

/* --- Little-endian descriptor fields, big-endian wire fields ---------- */

static u32 le32(const u8 *p) { return p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24; }
static u16 le16(const u8 *p) { return (u16)(p[0] | p[1] << 8); }
static void set_le32(u8 *p, u32 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); p[3] = (u8)(v >> 24); }
static u16 be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static void set_be16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }

/* --- Per-flow next sequence IDs: open addressing, linear probing ------ */

enum { TABLE_SIZE = 4096 }; /* a power of two; holds TABLE_SIZE - 1 flows */

static u32 table_key[TABLE_SIZE]; /* key + 1; 0 = empty */
static u8 table_next[TABLE_SIZE];
static u32 table_len;

static int c_renumbered = -1, c_flows = -1, c_table_full = -1;

/* The next sequence ID of a flow, inserting it at 0; 0 when full. */
static u8 *next_seq(u32 key) {
    u32 k = key + 1;
    u32 i = (k * 2654435761u) >> 20 & (TABLE_SIZE - 1);
    for (;;) {
        if (table_key[i] == k) return &table_next[i];
        if (table_key[i] == 0) {
            if (table_len + 1 >= TABLE_SIZE) return 0;
            table_key[i] = k;
            table_next[i] = 0;
            table_len++;
            fh_counter_add(c_flows, 1);
            return &table_next[i];
        }
        i = (i + 1) & (TABLE_SIZE - 1);
    }
}

/* --- Exports ---------------------------------------------------------- */

__attribute__((export_name("fhgate_abi_version"))) int fhgate_abi_version(void) { return 2; }

__attribute__((export_name("fhgate_io"))) int fhgate_io(void) { return (int)(unsigned long)region; }

__attribute__((export_name("fhgate_init"))) int fhgate_init(int cfg_ptr, int cfg_len) {
    const u8 *cfg = (const u8 *)(unsigned long)cfg_ptr;
    /* The configuration lies in the region's data area (ABI.md section 2). */
    if (cfg_ptr < (int)(unsigned long)region || cfg_len < 0 ||
        (unsigned long)cfg_ptr - (unsigned long)region + (unsigned long)cfg_len > IO_REGION_SIZE) {
        log_msg(0, "init failed: config outside the I/O region");
        return 3;
    }
    /* No keys: refuse any non-empty line, naming its key. */
    for (int i = 0; i < cfg_len; i++) {
        if (cfg[i] == '\n' || cfg[i] == ' ' || cfg[i] == '\r') continue;
        char msg[96] = "config key `";
        int n = (int)cstrlen(msg);
        while (i < cfg_len && cfg[i] != '=' && cfg[i] != '\n' && n < 80) msg[n++] = (char)cfg[i++];
        const char *tail = "`: unknown key";
        for (int j = 0; tail[j]; j++) msg[n++] = tail[j];
        fh_log(0, msg, n);
        return 1;
    }
    for (int i = 0; i < TABLE_SIZE; i++) table_key[i] = 0;
    table_len = 0;
    /* What it changes: sequence numbering, nothing of the format. */
    {
        const char *effect = "seq_id * -> renumbered";
        if (fh_effect(effect, (int)cstrlen(effect)) < 0) {
            log_msg(0, "init failed: the host refused the declared effect");
            return 4;
        }
    }
    c_renumbered = fh_counter_define("renumbered", 10);
    c_flows = fh_counter_define("flows", 5);
    c_table_full = fh_counter_define("table_full", 10);
    if (c_renumbered < 0 || c_flows < 0 || c_table_full < 0) {
        log_msg(0, "init failed: the host refused a counter");
        return 2;
    }
    return 0;
}

/* Where UDP starts when the frame is eCPRI over UDP, else -1. */
static int udp_offset(const u8 *p, u32 len, u32 ecpri_offset) {
    u32 at = 12;
    while (at + 4 <= len && (be16(p + at) == 0x8100 || be16(p + at) == 0x88A8) && at < 20) at += 4;
    if (at + 2 > len) return -1;
    u16 et = be16(p + at);
    if ((et == 0x0800 || et == 0x86DD) && ecpri_offset >= at + 2 + 28) return (int)ecpri_offset - 8;
    return -1;
}

/* RFC 1624: the checksum after a 16-bit word changes from old to new. */
static u16 csum_update(u16 hc, u16 old, u16 new_) {
    u32 s = (u16)~hc + (u32)(u16)~old + new_;
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    return (u16)~s;
}

/* Renumbers every message of one packet; returns 1 if anything changed. */
static int renumber(u8 *p, u32 len, u32 ecpri_offset, u8 direction) {
    int changed = 0;
    int udp = udp_offset(p, len, ecpri_offset);
    u32 end = len;
    if (udp >= 0 && (u32)udp + 8 <= len && (u32)udp + be16(p + udp + 4) <= len) end = (u32)udp + be16(p + udp + 4);
    u32 at = ecpri_offset;
    for (;;) {
        if (at + 4 > end) break;
        u8 *h = p + at;
        u32 size = be16(h + 2);
        if (h[0] >> 4 != 1 || at + 4 + size > end) break; /* not eCPRI revision 1, or cut short */
        u8 type = h[1];
        if ((type == 0 || type == 2) && size >= 4) {
            u16 eaxc = be16(h + 4);
            u8 *seq = h + 6; /* ecpriSeqid: sequence ID, then E bit and subsequence ID */
            u32 key = (u32)(type == 2) << 17 | (u32)(direction & 1) << 16 | eaxc;
            u8 *next = next_seq(key);
            if (!next) {
                fh_counter_add(c_table_full, 1);
            } else {
                u8 old = seq[0];
                seq[0] = *next;
                if (seq[1] & 0x80) *next = (u8)(*next + 1); /* E bit: the message is complete */
                if (old != seq[0]) {
                    changed = 1;
                    fh_counter_add(c_renumbered, 1);
                    /* The word [seq, E|subseq] is 16-bit aligned within UDP
                     * (messages start 4-byte aligned after the UDP header). */
                    if (udp >= 0 && be16(p + udp + 6) != 0) {
                        u16 c = csum_update(be16(p + udp + 6), (u16)(old << 8 | seq[1]), be16(seq));
                        set_be16(p + udp + 6, c ? c : 0xFFFF);
                    }
                }
            }
        }
        if (!(h[0] & 1)) break; /* no C bit: last message */
        u32 total = 4 + size;
        at += total + (4 - total % 4) % 4;
    }
    return changed;
}

__attribute__((export_name("fhgate_process"))) int fhgate_process(int n) {
    if (n < 1 || n > MAX_IN) return n;
    for (int i = 0; i < n; i++) {
        u8 *d = region + DESCRIPTORS_OFFSET + i * DESCRIPTOR_LEN;
        u32 off = le32(d + D_OFFSET), len = le32(d + D_LEN), cap = le32(d + D_CAPACITY);
        u32 ecpri_offset = le16(d + D_ECPRI_OFFSET);
        /* Only a descriptor that describes its own slot, as the ABI promises. */
        if (off != (u32)(SLOTS_OFFSET + i * SLOT_STRIDE) || cap > SLOT_SIZE || len > cap || ecpri_offset >= len) continue;
        if (renumber(region + off, len, ecpri_offset, d[D_DIRECTION])) {
            d[D_VERDICT] = VERDICT_MODIFIED;
            set_le32(d + D_LEN, len);
        }
    }
    return n;
}

__attribute__((export_name("fhgate_unload"))) void fhgate_unload(void) {}
