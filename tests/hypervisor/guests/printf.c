/*
 * picolibc printf over RISC-V semihosting (--oslib=semihost, crt0-semihost):
 * the command line arrives through SYS_GET_CMDLINE, stdout and stderr are
 * the semihosting console, and main's return value is the exit code
 * (SYS_EXIT).  EXIT_CODE is set at build time.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#ifndef EXIT_CODE
#define EXIT_CODE 0
#endif

int main(int argc, char **argv)
{
    printf("hello from picolibc printf\n");
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    printf("[%5d|%-5d|%05x|%+lld|%s|%c|%%]\n", 42, -7, 0xbeef, -1234567890123LL, "str", 'Z');
    printf("[%#lx|%o|%10.4s|%zu]\n", (unsigned long)UINT64_MAX, 0755, "truncate", strlen("abc"));
    uint64_t acc = 1;
    for (int i = 1; i <= 20; i++)
        acc *= (uint64_t)i;
    printf("20!=%llu\n", (unsigned long long)acc);
    fprintf(stderr, "stderr line\n");
    return EXIT_CODE;
}
