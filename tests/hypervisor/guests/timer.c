/*
 * Machine timer interrupts from C (freestanding): the handler is gcc's
 * __attribute__((interrupt("machine"))) (the compiler saves what it uses and
 * returns with mret).  Five ticks, each re-arming mtimecmp, while main sleeps
 * in wfi (interrupts enabled only between wakes); the handler records mcause, mip and mstatus.MPIE/MPP at entry and
 * whether MTIP dropped after re-arming.  Printed, then the finisher passes.
 */
#include <stdint.h>

#define UART0          0x10000000UL
#define UART_LSR       5
#define LSR_THRE       0x20
#define FINISHER       0x00100000UL
#define FINISHER_PASS  0x5555u
#define CLINT_MTIMECMP 0x02004000UL
#define CLINT_MTIME    0x0200bff8UL
#define MIP_MTIP       0x80UL
#define MSTATUS_MIE    0x8UL
#define TICKS          5
#define DELTA          100000UL /* 10 ms at 10 MHz */

#define csr_read(name) ({ uint64_t v_; __asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define csr_write(name, v) __asm__ volatile("csrw " #name ", %0" ::"r"((uint64_t)(v)))
#define csr_set(name, v) __asm__ volatile("csrs " #name ", %0" ::"r"((uint64_t)(v)))
#define csr_clear(name, v) __asm__ volatile("csrc " #name ", %0" ::"r"((uint64_t)(v)))

static volatile uint64_t *const mtime = (volatile uint64_t *)CLINT_MTIME;
static volatile uint64_t *const mtimecmp = (volatile uint64_t *)CLINT_MTIMECMP;

static volatile int ticks;
static uint64_t causes[TICKS], mips[TICKS], statuses[TICKS], after[TICKS];

static void putc_uart(char c)
{
    volatile uint8_t *uart = (volatile uint8_t *)UART0;
    while (!(uart[UART_LSR] & LSR_THRE))
        ;
    uart[0] = (uint8_t)c;
}

static void puts_uart(const char *s)
{
    while (*s)
        putc_uart(*s++);
}

static void put_hex(uint64_t v)
{
    for (int shift = 60; shift >= 0; shift -= 4)
        putc_uart("0123456789abcdef"[(v >> shift) & 0xf]);
}

static void arm(void)
{
    *mtimecmp = *mtime + DELTA;
}

__attribute__((interrupt("machine"), aligned(4))) static void on_trap(void)
{
    int i = ticks;
    causes[i] = csr_read(mcause);
    mips[i] = csr_read(mip) & MIP_MTIP;
    statuses[i] = csr_read(mstatus) & 0x1888;
    if (i + 1 < TICKS)
        arm();
    else
        *mtimecmp = UINT64_MAX;
    after[i] = csr_read(mip) & MIP_MTIP;
    ticks = i + 1;
}

void main_c(void)
{
    csr_write(mtvec, (uint64_t)&on_trap);
    csr_write(mie, MIP_MTIP);
    arm();
    /* Race-free sleep: test with MIE clear, wfi (which wakes on a pending
     * enabled interrupt even so), then open a one-instruction window. */
    while (ticks < TICKS) {
        __asm__ volatile("wfi");
        csr_set(mstatus, MSTATUS_MIE);
        csr_clear(mstatus, MSTATUS_MIE);
    }
    for (int i = 0; i < TICKS; i++) {
        puts_uart("tick mcause=");
        put_hex(causes[i]);
        puts_uart(" mip.MTIP=");
        put_hex(mips[i]);
        puts_uart(" mstatus=");
        put_hex(statuses[i]);
        puts_uart(" after re-arm mip.MTIP=");
        put_hex(after[i]);
        puts_uart("\r\n");
    }
    *(volatile uint32_t *)FINISHER = FINISHER_PASS;
    for (;;)
        ;
}

__attribute__((naked, section(".text.start"))) void _start(void)
{
    __asm__ volatile("la sp, __stack_top\n\tj main_c");
}
