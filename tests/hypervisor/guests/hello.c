/*
 * Hello over the ns16550a UART from C (freestanding, no libc), with a little
 * arithmetic printed in decimal and hex, then the sifive test finisher ends
 * the run with EXIT_CODE (0: pass word 0x5555, else 0x3333 | code << 16).
 */
#include <stdint.h>

#define UART0      0x10000000UL
#define UART_THR   0
#define UART_LSR   5
#define LSR_THRE   0x20
#define FINISHER   0x00100000UL
#define FINISHER_FAIL 0x3333u
#define FINISHER_PASS 0x5555u

#ifndef EXIT_CODE
#define EXIT_CODE 0
#endif

#define UART_REG(off) (*(volatile uint8_t *)(UART0 + (off)))

static void putc_uart(char c)
{
    while (!(UART_REG(UART_LSR) & LSR_THRE))
        ;
    UART_REG(UART_THR) = (uint8_t)c;
}

static void puts_uart(const char *s)
{
    while (*s)
        putc_uart(*s++);
}

static void put_udec(uint64_t v)
{
    char buf[24];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        putc_uart(buf[--i]);
}

static void put_hex(uint64_t v)
{
    for (int shift = 60; shift >= 0; shift -= 4)
        putc_uart("0123456789abcdef"[(v >> shift) & 0xf]);
}

static __attribute__((noreturn)) void finish(uint32_t code)
{
    volatile uint32_t *finisher = (volatile uint32_t *)FINISHER;
    *finisher = code ? (code << 16) | FINISHER_FAIL : FINISHER_PASS;
    for (;;)
        ;
}

void main_c(void)
{
    uint64_t fib[2] = {0, 1};
    puts_uart("hello from C\r\n");
    for (int i = 0; i < 90; i++) {
        uint64_t next = fib[0] + fib[1];
        fib[0] = fib[1];
        fib[1] = next;
    }
    puts_uart("fib(91)=");
    put_udec(fib[1]);
    puts_uart(" hex=");
    put_hex(fib[1]);
    puts_uart("\r\n");
    finish(EXIT_CODE);
}

__attribute__((naked, section(".text.start"))) void _start(void)
{
    __asm__ volatile("la sp, __stack_top\n\tj main_c");
}
