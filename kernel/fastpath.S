# fastpath.S — placeholder replaced below
    .include "abi.inc"
    .include "config.inc"
    .text
    .globl fastpath_call, fastpath_reply_recv
fastpath_call:
fastpath_reply_recv:
    j syscall_dispatch
