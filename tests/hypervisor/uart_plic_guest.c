/*
 * Bare-metal CLINT + ns16550a + PLIC exerciser for test_dev_uart_qemu.py: runs on
 * QEMU virt (-bios none) and on Septum's board.  Register values are
 * recorded while the UART is in loopback (where printing is impossible) and
 * printed at the end, then the guest powers off through the test finisher.
 *
 * Timing: QEMU signals the RX character timeout 4 character times after
 * the last FIFO activity (host time); the board signals it at once.  The
 * guest sets a slow baud rate (divisor 0x400: ~26 ms a character on QEMU's
 * 399193 Hz clock) and waits 300 ms of mtime around every FIFO step, so
 * that each recorded IIR is the same on both whatever the host load.
 */
#include <stdint.h>

#define UART0     0x10000000UL
#define FINISHER  0x00100000UL
#define PLIC      0x0c000000UL
#define MTIME     0x0200bff8UL
#define MTIMECMP  0x02004000UL

#define U(off)        (*(volatile uint8_t *)(UART0 + (off)))
#define PLIC32(off)   (*(volatile uint32_t *)(PLIC + (off)))
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define PLIC_PRIORITY(n)  (4 * (n))
#define PLIC_PENDING0     0x1000
#define PLIC_ENABLE0(ctx) (0x2000 + 0x80 * (ctx))
#define PLIC_THRESHOLD(c) (0x200000 + 0x1000 * (c))
#define PLIC_CLAIM(c)     (0x200004 + 0x1000 * (c))
#define UART_IRQ 10

static const char *names[128];
static uint32_t values[128];
static int count;

static void rec(const char *name, uint32_t value)
{
    names[count] = name;
    values[count] = value;
    count++;
}

/* Sleep in wfi until mtime passes ms milliseconds from now: MTIE is
 * enabled in mie but mstatus.MIE stays 0, so the timer wakes the hart
 * without trapping (and the board fast-forwards its virtual time). */
static void wait_ms(uint32_t ms)
{
    volatile uint64_t *mtime = (volatile uint64_t *)MTIME;
    volatile uint64_t *mtimecmp = (volatile uint64_t *)MTIMECMP;
    uint64_t end = *mtime + (uint64_t)ms * 10000; /* 10 MHz timebase */
    *mtimecmp = end;
    __asm__ volatile("csrs mie, %0" : : "r"(1u << 7));
    while (*mtime < end)
        __asm__ volatile("wfi");
    __asm__ volatile("csrc mie, %0" : : "r"(1u << 7));
    *mtimecmp = ~0ull;
}

static void putc_(char c)
{
    while (!(U(LSR) & 0x20))
        ;
    U(THR) = (uint8_t)c;
}

static void puts_(const char *s) { while (*s) putc_(*s++); }

int main(void)
{
    /* CLINT out of reset (QEMU: mtimecmp 0); msip keeps bit 0 only. */
    volatile uint32_t *clint = (volatile uint32_t *)0x02000000UL;
    rec("msip", clint[0]);
    rec("mtimecmp_lo", clint[0x4000 / 4]);
    rec("mtimecmp_hi", clint[0x4004 / 4]);
    clint[0x4004 / 4] = 0x12345678;
    clint[0x4000 / 4] = 0x9abcdef0;
    rec("mtimecmp_lo_rw", clint[0x4000 / 4]);
    rec("mtimecmp_hi_rw", clint[0x4004 / 4]);
    clint[0x4000 / 4] = 0xffffffff;
    clint[0x4004 / 4] = 0xffffffff;
    clint[0] = 0xffffffff;
    rec("msip_set", clint[0]);
    clint[0] = 0;
    rec("msip_clear", clint[0]);

    /* UART reset values. */
    rec("ier", U(IER));
    rec("iir", U(IIR));
    rec("lcr", U(LCR));
    rec("mcr", U(MCR));
    rec("lsr", U(LSR));
    rec("msr", U(MSR));
    rec("scr", U(SCR));
    U(LCR) = 0x80;
    rec("dll", U(DLL));
    rec("dlm", U(DLM));
    U(DLL) = 0x00;
    U(DLM) = 0x04;
    U(LCR) = 0x03;
    rec("lcr_8n1", U(LCR));
    U(SCR) = 0x5a;
    rec("scr_rw", U(SCR));

    /* THRE interrupt and the PLIC gateway (context 0 = M-mode). */
    PLIC32(PLIC_PRIORITY(UART_IRQ)) = 1;
    PLIC32(PLIC_ENABLE0(0)) = 1u << UART_IRQ;
    PLIC32(PLIC_THRESHOLD(0)) = 0;
    rec("plic_pending_idle", PLIC32(PLIC_PENDING0) & (1u << UART_IRQ));
    U(IER) = 0x02;
    rec("plic_pending_thre", PLIC32(PLIC_PENDING0) & (1u << UART_IRQ));
    rec("plic_claim", PLIC32(PLIC_CLAIM(0)));
    rec("plic_claim_again", PLIC32(PLIC_CLAIM(0)));
    rec("iir_thre", U(IIR));
    rec("iir_thre_read", U(IIR));
    PLIC32(PLIC_CLAIM(0)) = UART_IRQ;
    rec("plic_pending_done", PLIC32(PLIC_PENDING0) & (1u << UART_IRQ));
    PLIC32(PLIC_THRESHOLD(0)) = 1;
    U(IER) = 0x00;
    U(IER) = 0x02;
    rec("plic_claim_masked", PLIC32(PLIC_CLAIM(0)));
    U(IER) = 0x00;
    PLIC32(PLIC_THRESHOLD(0)) = 0;
    rec("plic_pending_off", PLIC32(PLIC_PENDING0) & (1u << UART_IRQ));

    /* Loopback without FIFOs: the second byte overruns the first. */
    U(MCR) = 0x18;
    U(THR) = 'A';
    rec("lb_lsr1", U(LSR));
    U(THR) = 'B';
    U(IER) = 0x05;
    rec("lb_iir_oe", U(IIR));
    rec("lb_lsr_oe", U(LSR));
    rec("lb_lsr_after", U(LSR));
    rec("lb_iir_rda", U(IIR));
    rec("lb_rbr", U(RBR));
    rec("lb_lsr_empty", U(LSR));
    rec("lb_iir_none", U(IIR));

    /* Loopback with FIFOs, trigger level 14. */
    U(FCR) = 0x07;
    U(FCR) = 0xc1;
    rec("fifo_iir", U(IIR));
    U(IER) = 0x01;
    U(THR) = 'x';
    U(THR) = 'y';
    U(THR) = 'z';
    wait_ms(300);
    rec("fifo_iir_timeout", U(IIR));
    rec("fifo_rbr1", U(RBR));
    rec("fifo_rbr2", U(RBR));
    rec("fifo_rbr3", U(RBR));
    rec("fifo_iir_drained", U(IIR));
    wait_ms(300); /* let QEMU's stale timeout timer expire on an empty FIFO */
    for (int i = 0; i < 14; i++)
        U(THR) = (uint8_t)('a' + i);
    rec("fifo_iir_trigger", U(IIR));
    rec("fifo_rbr_a", U(RBR));
    wait_ms(300);
    rec("fifo_iir_below", U(IIR));
    for (int i = 0; i < 13; i++)
        (void)U(RBR);
    rec("fifo_lsr_drained", U(LSR));
    wait_ms(300);
    for (int i = 0; i < 17; i++)
        U(THR) = (uint8_t)('0' + i);
    rec("fifo_lsr_overrun", U(LSR));
    uint32_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum = sum * 31 + U(RBR);
    rec("fifo_sum", sum);
    rec("fifo_lsr_end", U(LSR));
    U(FCR) = 0x07;
    U(FCR) = 0x00;
    U(IER) = 0x00;
    U(MCR) = 0x08;
    rec("end_iir", U(IIR));
    rec("end_lsr", U(LSR));

    for (int i = 0; i < count; i++) {
        puts_(names[i]);
        putc_('=');
        for (int d = 7; d >= 0; d--)
            putc_("0123456789abcdef"[(values[i] >> (4 * d)) & 15]);
        putc_('\n');
    }
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
