"""ns16550a UART: reset values, THRE/RDA/timeout/RLS/MSR interrupts and IIR
priorities, FIFOs and trigger levels, DLAB, loopback (PC16550D datasheet;
QEMU hw/char/serial.c for reset values)."""

from __future__ import annotations

import pickle

from septum.hypervisor.devices.base import IrqLine
from septum.hypervisor.devices.uart import Uart16550

RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7


class Board:
    def __init__(self) -> None:
        self.tx = bytearray()
        self.irq = IrqLine()
        self.uart = Uart16550(self.irq, self.tx.append)

    def r(self, off: int) -> int:
        return self.uart.read(off, 1)

    def w(self, off: int, value: int) -> None:
        self.uart.write(off, 1, value)


def test_reset_values() -> None:
    b = Board()
    # Datasheet table 9 reset states; QEMU serial_reset sets MCR OUT2, MSR
    # DCD|DSR|CTS (its default backend reports the carrier) and divisor 12.
    assert b.r(IER) == 0x00
    assert b.r(IIR) == 0x01  # no interrupt pending
    assert b.r(LCR) == 0x00
    assert b.r(MCR) == 0x08
    assert b.r(LSR) == 0x60  # THRE | TEMT
    assert b.r(MSR) == 0xB0
    assert b.r(SCR) == 0x00
    assert b.r(RBR) == 0x00
    b.w(LCR, 0x80)
    assert (b.r(DLL), b.r(DLM)) == (0x0C, 0x00)
    assert b.irq.level is False


def test_transmit_calls_on_tx_at_once() -> None:
    b = Board()
    for ch in b"hi\n":
        b.w(THR, ch)
    assert bytes(b.tx) == b"hi\n"
    assert b.r(LSR) & 0x60 == 0x60


def test_thre_interrupt_semantics() -> None:
    b = Board()
    b.w(IER, 0x02)  # ETBEI with THR empty: the THRE interrupt is raised
    assert b.irq.level is True
    assert b.r(IIR) == 0x02
    # Reading IIR while it shows THRE clears the indication.
    assert b.irq.level is False
    assert b.r(IIR) == 0x01
    b.w(THR, ord("x"))  # THR empties again at once: raised again
    assert b.irq.level is True
    b.w(IER, 0x00)
    assert b.irq.level is False and b.r(IIR) == 0x01


def test_receive_without_fifo() -> None:
    b = Board()
    b.uart.feed(b"ab")
    assert b.r(LSR) & 0x01 == 0x01  # DR
    assert b.irq.level is False  # ERBFI off
    b.w(IER, 0x01)
    assert b.irq.level is True and b.r(IIR) == 0x04
    assert b.r(RBR) == ord("a")
    # The host queue refills the one-byte receiver: no overrun from host input.
    assert b.r(LSR) & 0x03 == 0x01
    assert b.r(RBR) == ord("b")
    assert b.r(LSR) & 0x01 == 0 and b.irq.level is False and b.r(IIR) == 0x01


def test_fifo_trigger_level_and_timeout() -> None:
    b = Board()
    b.w(FCR, 0x01 | (2 << 6))  # FIFO on, trigger level 8
    b.w(IER, 0x01)
    assert b.r(IIR) == 0xC1  # FIFOs-enabled bits, nothing pending
    b.uart.feed(b"0123456789")
    assert b.r(IIR) == 0xC4  # 10 >= 8: received data available
    for ch in b"012":
        assert b.r(RBR) == ch
    # 7 left, below the trigger: character timeout indication.
    assert b.r(IIR) == 0xCC and b.irq.level is True
    for ch in b"3456789":
        assert b.r(RBR) == ch
    assert b.r(IIR) == 0xC1 and b.irq.level is False


def test_fifo_holds_sixteen_and_refills_from_host_queue() -> None:
    b = Board()
    b.w(FCR, 0x01)
    data = bytes(range(40))
    b.uart.feed(data)
    assert len(b.uart.rx) == 16
    got = bytes(b.r(RBR) for _ in range(40))
    assert got == data
    assert b.r(LSR) & 0x01 == 0


def test_fcr_rx_reset_clears_the_fifo() -> None:
    b = Board()
    b.w(FCR, 0x01)
    b.uart.feed(b"abc")
    b.w(FCR, 0x01 | 0x02)
    assert b.r(LSR) & 0x01 == 0


def test_dlab_switches_offsets_zero_and_one() -> None:
    b = Board()
    b.w(LCR, 0x83)
    b.w(DLL, 0x01)
    b.w(DLM, 0x02)
    assert (b.r(DLL), b.r(DLM)) == (0x01, 0x02)
    b.w(LCR, 0x03)
    assert b.r(IER) == 0  # IER untouched by the DLM write
    b.w(THR, ord("z"))
    assert bytes(b.tx) == b"z"
    assert b.uart.divisor == 0x0201


def test_loopback_overrun_and_line_status_priority() -> None:
    b = Board()
    b.w(MCR, 0x10)  # LOOP
    b.w(IER, 0x05)  # ERBFI | ELSI
    b.w(THR, ord("1"))
    b.w(THR, ord("2"))  # receiver (no FIFO) already full: overrun
    assert bytes(b.tx) == b""
    # Receiver line status outranks received data.
    assert b.r(IIR) == 0x06
    lsr = b.r(LSR)
    assert lsr & 0x03 == 0x03  # DR | OE
    assert b.r(LSR) & 0x02 == 0  # reading LSR cleared OE
    assert b.r(IIR) == 0x04
    assert b.r(RBR) == ord("2")  # the new character destroyed the unread one


def test_host_input_waits_while_in_loopback() -> None:
    b = Board()
    b.w(MCR, 0x10)
    b.uart.feed(b"k")
    assert b.r(LSR) & 0x01 == 0  # the receiver is cut off from the line
    b.w(MCR, 0x08)
    assert b.r(LSR) & 0x01 == 0x01 and b.r(RBR) == ord("k")


def test_loopback_modem_status_interrupt() -> None:
    b = Board()
    b.w(IER, 0x08)  # EDSSI
    b.w(MCR, 0x10)  # LOOP, all modem outputs low: CTS, DSR, DCD drop
    assert b.irq.level is True and b.r(IIR) == 0x00
    msr = b.r(MSR)
    assert msr & 0xF0 == 0x00 and msr & 0x0B == 0x0B  # DCTS DDSR DDCD
    assert b.irq.level is False
    b.w(MCR, 0x10 | 0x02)  # RTS -> CTS
    assert b.r(MSR) == 0x10 | 0x01


def test_word_access_reaches_the_byte_register() -> None:
    b = Board()
    b.uart.write(THR, 4, 0x41)
    assert bytes(b.tx) == b"A"
    assert b.uart.read(LSR, 4) == 0x60


def test_undefined_offset_is_ignored() -> None:
    b = Board()
    assert b.uart.read(0x10, 1) == 0
    b.uart.write(0x10, 1, 0xFF)
    assert b.r(LSR) == 0x60


def test_snapshot_round_trip() -> None:
    b = Board()
    b.w(FCR, 0x01)
    b.w(IER, 0x01)
    b.w(SCR, 0x5A)
    b.uart.feed(b"xyz" * 10)
    state = pickle.loads(pickle.dumps(b.uart.save()))
    first = bytes(b.r(RBR) for _ in range(30))
    b.w(SCR, 0)
    b.uart.restore(state)
    assert b.irq.level is True
    assert b.r(SCR) == 0x5A
    assert bytes(b.r(RBR) for _ in range(30)) == first == b"xyz" * 10
