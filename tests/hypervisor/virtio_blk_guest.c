/*
 * Bare-metal virtio-blk exerciser for test_dev_virtio_qemu.py: runs on
 * QEMU virt (-bios none, modern virtio-mmio) and on Septum's board, and
 * prints what the device answered over the UART so the two can be compared.
 *
 * Drives the first virtio device slot QEMU fills (slot 7, 0x10008000) with
 * one split virtqueue, polling (no interrupts), then powers off through the
 * sifive test finisher.
 */
#include <stdint.h>

#define UART0     0x10000000UL
#define FINISHER  0x00100000UL
#define VIRTIO    0x10008000UL

#define REG(off)  (*(volatile uint32_t *)(VIRTIO + (off)))
#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define VENDOR_ID 0x00c
#define DEVICE_FEATURES 0x010
#define DEVICE_FEATURES_SEL 0x014
#define DRIVER_FEATURES 0x020
#define DRIVER_FEATURES_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INTERRUPT_STATUS 0x060
#define INTERRUPT_ACK 0x064
#define STATUS 0x070
#define QUEUE_DESC_LOW 0x080
#define QUEUE_DESC_HIGH 0x084
#define QUEUE_DRIVER_LOW 0x090
#define QUEUE_DRIVER_HIGH 0x094
#define QUEUE_DEVICE_LOW 0x0a0
#define QUEUE_DEVICE_HIGH 0x0a4
#define CONFIG 0x100

#define QSIZE 8
#define F_NEXT 1
#define F_WRITE 2

struct desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; };
struct avail { uint16_t flags; uint16_t idx; uint16_t ring[QSIZE]; };
struct used_elem { uint32_t id; uint32_t len; };
struct used { uint16_t flags; uint16_t idx; struct used_elem ring[QSIZE]; };
struct req { uint32_t type; uint32_t reserved; uint64_t sector; };

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req hdr;
static uint8_t data[1024];
static volatile uint8_t status_byte;
static uint16_t avail_idx;

static void putc_(char c)
{
    volatile uint8_t *u = (volatile uint8_t *)UART0;
    while (!(u[5] & 0x20))
        ;
    u[0] = (uint8_t)c;
}

static void puts_(const char *s) { while (*s) putc_(*s++); }

static void puthex(uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static void field(const char *name, uint64_t v)
{
    puts_(name);
    putc_('=');
    puthex(v, 8);
    putc_('\n');
}

/* One request: header, optional data (device-writable if `in`), status. */
static void request(const char *name, uint32_t type, uint64_t sector, uint32_t len, int in)
{
    hdr.type = type;
    hdr.reserved = 0;
    hdr.sector = sector;
    status_byte = 0xff;
    int n = 0;
    descs[n] = (struct desc){ (uint64_t)(uintptr_t)&hdr, sizeof hdr, F_NEXT, (uint16_t)(n + 1) }; n++;
    if (len) {
        descs[n] = (struct desc){ (uint64_t)(uintptr_t)data, len, (uint16_t)(F_NEXT | (in ? F_WRITE : 0)), (uint16_t)(n + 1) };
        n++;
    }
    descs[n] = (struct desc){ (uint64_t)(uintptr_t)&status_byte, 1, F_WRITE, 0 };
    avail.ring[avail_idx % QSIZE] = 0;
    __sync_synchronize();
    avail.idx = ++avail_idx;
    __sync_synchronize();
    REG(QUEUE_NOTIFY) = 0;
    while (*(volatile uint16_t *)&used.idx != avail_idx)
        ;
    __sync_synchronize();
    puts_(name);
    puts_(" status=");
    puthex(status_byte, 2);
    puts_(" id=");
    puthex(used.ring[(avail_idx - 1) % QSIZE].id, 2);
    /* QEMU reports the whole writable length even for failed requests;
     * the spec asks for the bytes written: compare successes only. */
    if (status_byte == 0) {
        puts_(" len=");
        puthex(used.ring[(avail_idx - 1) % QSIZE].len, 4);
    }
    puts_(" irq=");
    puthex(REG(INTERRUPT_STATUS), 1);
    putc_('\n');
    REG(INTERRUPT_ACK) = REG(INTERRUPT_STATUS);
}

static uint32_t checksum(uint32_t len)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = sum * 31 + data[i];
    return sum;
}

int main(void)
{
    field("magic", REG(MAGIC));
    field("version", REG(VERSION));
    field("device", REG(DEVICE_ID));
    field("vendor", REG(VENDOR_ID));

    REG(STATUS) = 0;
    REG(STATUS) = 1;
    REG(STATUS) = 1 | 2;
    REG(DEVICE_FEATURES_SEL) = 1;
    uint32_t hi = REG(DEVICE_FEATURES);
    REG(DEVICE_FEATURES_SEL) = 0;
    uint32_t lo = REG(DEVICE_FEATURES);
    field("version_1", hi & 1);
    field("flush", (lo >> 9) & 1);
    field("ro", (lo >> 5) & 1);

    /* First without VERSION_1: a modern device must refuse FEATURES_OK. */
    REG(DRIVER_FEATURES_SEL) = 1;
    REG(DRIVER_FEATURES) = 0;
    REG(STATUS) = 1 | 2 | 8;
    field("features_ok_without_v1", (REG(STATUS) >> 3) & 1);
    REG(STATUS) = 0;
    REG(STATUS) = 1 | 2;
    REG(DRIVER_FEATURES_SEL) = 1;
    REG(DRIVER_FEATURES) = 1;            /* VIRTIO_F_VERSION_1 */
    REG(DRIVER_FEATURES_SEL) = 0;
    REG(DRIVER_FEATURES) = 1u << 9;      /* VIRTIO_BLK_F_FLUSH */
    REG(STATUS) = 1 | 2 | 8;
    field("features_ok", (REG(STATUS) >> 3) & 1);

    REG(QUEUE_SEL) = 0;
    field("queue_ready_before", REG(QUEUE_READY));
    field("queue_max_ok", REG(QUEUE_NUM_MAX) >= QSIZE);
    REG(QUEUE_NUM) = QSIZE;
    REG(QUEUE_DESC_LOW) = (uint32_t)(uintptr_t)descs;
    REG(QUEUE_DESC_HIGH) = 0;
    REG(QUEUE_DRIVER_LOW) = (uint32_t)(uintptr_t)&avail;
    REG(QUEUE_DRIVER_HIGH) = 0;
    REG(QUEUE_DEVICE_LOW) = (uint32_t)(uintptr_t)&used;
    REG(QUEUE_DEVICE_HIGH) = 0;
    REG(QUEUE_READY) = 1;
    REG(STATUS) = 1 | 2 | 8 | 4;
    field("status", REG(STATUS));

    uint64_t capacity = REG(CONFIG) | ((uint64_t)REG(CONFIG + 4) << 32);
    field("capacity", capacity);

    request("read0", 0, 0, 1024, 1);
    field("sum0", checksum(1024));
    for (uint32_t i = 0; i < 512; i++)
        data[i] = (uint8_t)(i * 5 + 3);
    request("write1", 1, 1, 512, 0);
    request("flush", 4, 0, 0, 0);
    for (uint32_t i = 0; i < 1024; i++)
        data[i] = 0;
    request("read1", 0, 1, 512, 1);
    field("sum1", checksum(512));
    request("getid", 8, 0, 20, 1);
    puts_("serial=");
    for (int i = 0; i < 20 && data[i]; i++)
        putc_((char)data[i]);
    putc_('\n');
    request("read_past_end", 0, capacity, 512, 1);
    request("read_partial", 0, 0, 100, 1);
    request("unsupported", 0x20, 0, 0, 0);
    field("status_end", REG(STATUS));
    puts_("done\n");
    *(volatile uint32_t *)FINISHER = 0x5555;
    for (;;)
        ;
}

__attribute__((naked, section(".text.start"))) void _start(void)
{
    __asm__ volatile(
        "la sp, __stack_top\n"
        "call main\n"
        "1: j 1b\n");
}
