"""The ns16550a UART of the board (UART0 at 0x1000_0000, PLIC source 10).

Register map (National Semiconductor PC16550D datasheet; QEMU hw/char/serial.c
for the reset values)::

    off  DLAB=0 read   DLAB=0 write   DLAB=1
    0    RBR           THR            DLL (divisor latch, low)
    1    IER           IER            DLM (divisor latch, high)
    2    IIR           FCR
    3    LCR (bit 7 = DLAB)
    4    MCR
    5    LSR (writes ignored)
    6    MSR (writes ignored)
    7    SCR

Model:

- Transmit is instantaneous in virtual time: a THR write calls ``on_tx(byte)``
  at once, so THR and the shifter are always empty (LSR THRE and TEMT stay
  set) and the THRE interrupt is pending again right after each write.
- Receive: ``feed(data)`` queues host input without bound; the guest sees it
  through the receive buffer: one byte (FIFOs off) or the 16-byte RX FIFO
  (FCR FIFOE), refilled from the host queue as the guest reads RBR.  Host
  input therefore never overruns.
- With FIFOs on, RDA is signalled when the FIFO holds at least the trigger
  level (1, 4, 8, 14 by FCR bits 7:6); below it, the character timeout
  indication is signalled at once, as no further character is on its way
  (there is no baud timing to wait four character times for).
- Loopback (MCR LOOP): THR bytes go to the receiver instead of ``on_tx``
  (an overrun sets LSR OE: without FIFOs the new byte replaces the unread
  one, a full FIFO keeps its contents), and the modem inputs follow
  the modem outputs: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.  Host
  input fed meanwhile waits in the host queue until LOOP is cleared.
- IIR priorities: receiver line status > received data / timeout > THR
  empty > modem status.  The THRE indication is cleared by reading IIR while
  it is the one shown, or by writing THR; it is set when THR empties with
  IER ETBEI set, and when ETBEI is enabled while THR is empty.
- The interrupt output is "IIR shows an interrupt" (QEMU does not gate it
  with MCR OUT2, nor do we).
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from septum.hypervisor import memmap

from .base import R, RW, W, Device, Field, IrqLine, Register

# IER: interrupt enable register.
IER_ERBFI = 0x01  # received data available
IER_ETBEI = 0x02  # transmitter holding register empty
IER_ELSI = 0x04  # receiver line status
IER_EDSSI = 0x08  # modem status

# IIR: interrupt identification register (bits 3:0), FIFO flags (bits 7:6).
IIR_NO_INT = 0x01
IIR_ID_MASK = 0x0F
IIR_MSI = 0x00  # modem status
IIR_THRI = 0x02  # transmitter holding register empty
IIR_RDI = 0x04  # received data available
IIR_RLSI = 0x06  # receiver line status
IIR_CTI = 0x0C  # character timeout
IIR_FIFO_ENABLED = 0xC0

# FCR: FIFO control register (write-only).
FCR_FIFOE = 0x01
FCR_RFIFOR = 0x02  # clear RX FIFO
FCR_XFIFOR = 0x04  # clear TX FIFO
FCR_DMA_MODE = 0x08
FCR_RTL_SHIFT = 6
RX_TRIGGER_LEVELS = (1, 4, 8, 14)

# LCR: line control register.
LCR_DLAB = 0x80

# MCR: modem control register.
MCR_DTR = 0x01
MCR_RTS = 0x02
MCR_OUT1 = 0x04
MCR_OUT2 = 0x08
MCR_LOOP = 0x10
MCR_MASK = 0x1F

# LSR: line status register.
LSR_DR = 0x01
LSR_OE = 0x02
LSR_PE = 0x04
LSR_FE = 0x08
LSR_BI = 0x10
LSR_THRE = 0x20
LSR_TEMT = 0x40
LSR_RXFE = 0x80  # error in RX FIFO
LSR_INT_ANY = LSR_OE | LSR_PE | LSR_FE | LSR_BI

# MSR: modem status register.
MSR_DCTS = 0x01
MSR_DDSR = 0x02
MSR_TERI = 0x04
MSR_DDCD = 0x08
MSR_CTS = 0x10
MSR_DSR = 0x20
MSR_RI = 0x40
MSR_DCD = 0x80
MSR_ANY_DELTA = 0x0F

FIFO_SIZE = 16

#: Power-on values, as QEMU's serial_reset.
RESET_MCR = MCR_OUT2
RESET_MSR = MSR_DCD | MSR_DSR | MSR_CTS
RESET_DIVISOR = 0x0C  # 9600 baud from a 1.8432 MHz clock

_DLAB0 = {
    # offset: (read register, write register)
    0: ("RBR", "THR"),
    1: ("IER", "IER"),
}
_DLAB1 = {0: ("DLL", "DLL"), 1: ("DLM", "DLM")}


class Uart16550(Device):
    """ns16550a with 16-byte FIFOs; ``on_tx(byte)`` receives transmitted
    bytes, ``feed(data)`` supplies received ones."""

    REGISTERS = (
        Register(0, "RBR", 1, R, 0, (), "receiver buffer"),
        Register(0, "THR", 1, W, 0, (), "transmitter holding"),
        Register(1, "IER", 1, RW, 0, (Field("ERBFI", 0), Field("ETBEI", 1), Field("ELSI", 2),
                                        Field("EDSSI", 3))),
        Register(2, "IIR", 1, R, IIR_NO_INT, (Field("IPEND_N", 0), Field("IID", 1, 3),
                                               Field("FIFOS", 6, 2))),
        Register(2, "FCR", 1, W, 0, (Field("FIFOE", 0), Field("RFIFOR", 1), Field("XFIFOR", 2),
                                      Field("DMA_MODE", 3), Field("RTL", 6, 2))),
        Register(3, "LCR", 1, RW, 0, (Field("WLS", 0, 2), Field("STB", 2), Field("PEN", 3),
                                       Field("EPS", 4), Field("STICK", 5), Field("BREAK", 6),
                                       Field("DLAB", 7))),
        Register(4, "MCR", 1, RW, RESET_MCR, (Field("DTR", 0), Field("RTS", 1), Field("OUT1", 2),
                                               Field("OUT2", 3), Field("LOOP", 4))),
        Register(5, "LSR", 1, R, LSR_THRE | LSR_TEMT,
                 (Field("DR", 0), Field("OE", 1), Field("PE", 2), Field("FE", 3), Field("BI", 4),
                  Field("THRE", 5), Field("TEMT", 6), Field("RXFE", 7))),
        Register(6, "MSR", 1, R, RESET_MSR,
                 (Field("DCTS", 0), Field("DDSR", 1), Field("TERI", 2), Field("DDCD", 3),
                  Field("CTS", 4), Field("DSR", 5), Field("RI", 6), Field("DCD", 7))),
        Register(7, "SCR", 1, RW, 0, (), "scratch"),
        # Divisor latch, visible at offsets 0 and 1 while LCR DLAB is set.
        Register(0, "DLL", 1, RW, RESET_DIVISOR & 0xFF),
        Register(1, "DLM", 1, RW, RESET_DIVISOR >> 8),
    )
    STATE = ("ier", "lcr", "mcr", "lsr", "msr", "scr", "fcr", "divisor", "rx", "host_rx",
             "thr_ipending")

    def __init__(self, irq: IrqLine, on_tx: Callable[[int], None], *, name: str = "uart0",
                 base: int = memmap.UART0_BASE) -> None:
        super().__init__(name, base, memmap.UART0_SIZE)
        self.irq = irq
        self.on_tx = on_tx
        self._by_name = self.regmap.by_name
        self._views = self._build_views()
        self.ier = 0
        self.lcr = 0
        self.mcr = RESET_MCR
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = RESET_MSR
        self.scr = 0
        self.fcr = 0
        self.divisor = RESET_DIVISOR
        self.rx: deque[int] = deque()  # what the guest's receiver holds
        self.host_rx: deque[int] = deque()  # host input not yet in the receiver
        self.thr_ipending = False
        self._level: bool | None = None
        self.reset()

    # ----- the register map depends on LCR DLAB --------------------------------

    def _build_views(self) -> tuple[tuple[dict[int, Register], ...], ...]:
        """[DLAB][is_write] -> {offset: register}: the four views of the map."""
        views = []
        for dlab in (_DLAB0, _DLAB1):
            pair = []
            for is_write in (False, True):
                view = {}
                for off in range(8):
                    names = dlab.get(off)
                    reg = (self._by_name[names[is_write]] if names is not None
                           else self.regmap.find(off, 1, is_write))
                    if reg is not None:
                        view[off] = reg
                pair.append(view)
            views.append(tuple(pair))
        return tuple(views)

    def lookup(self, offset: int, size: int, is_write: bool) -> Register | None:
        # Like QEMU's serial_mm, any access width reaches the byte register
        # at its offset (reg-io-width 1 drivers use bytes anyway).  Drivers
        # poll LSR constantly: the lookup is one dict access.
        return self._views[self.lcr >> 7 & 1][is_write].get(offset)

    # ----- host side ----------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Queue host input (keyboard, test) for the guest to receive.

        Call it from the thread that runs the machine, between slices: it
        may change the interrupt line, which reaches the hart's ``mip``."""
        self.host_rx.extend(data)
        self._refill()
        self.update_irq()

    @property
    def rx_capacity(self) -> int:
        """How many bytes the receiver holds: the FIFO, or the one RBR."""
        return FIFO_SIZE if self.fcr & FCR_FIFOE else 1

    def _refill(self) -> None:
        if self.mcr & MCR_LOOP:
            # In loopback the receiver is cut off from the line: host input
            # waits in the queue (rather than being lost) until LOOP clears.
            self._update_dr()
            return
        while self.host_rx and len(self.rx) < self.rx_capacity:
            self.rx.append(self.host_rx.popleft())
        self._update_dr()

    def _update_dr(self) -> None:
        if self.rx:
            self.lsr |= LSR_DR
        else:
            self.lsr &= ~LSR_DR

    def _loop_msr(self) -> int:
        """Modem inputs wired to the modem outputs in loopback."""
        m = self.mcr
        return ((MSR_CTS if m & MCR_RTS else 0) | (MSR_DSR if m & MCR_DTR else 0)
                | (MSR_RI if m & MCR_OUT1 else 0) | (MSR_DCD if m & MCR_OUT2 else 0))

    def _set_modem_inputs(self, new: int) -> None:
        old = self.msr
        delta = 0
        if (old ^ new) & MSR_CTS:
            delta |= MSR_DCTS
        if (old ^ new) & MSR_DSR:
            delta |= MSR_DDSR
        if (old ^ new) & MSR_DCD:
            delta |= MSR_DDCD
        if old & MSR_RI and not new & MSR_RI:  # trailing edge of RI
            delta |= MSR_TERI
        self.msr = (new & 0xF0) | (old & MSR_ANY_DELTA) | delta

    # ----- registers --------------------------------------------------------

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        name = reg.name
        if name == "LSR":
            value = self.lsr
            if self.lsr & LSR_INT_ANY:
                self.lsr &= ~(LSR_INT_ANY | LSR_RXFE)
                self.update_irq()
            return value
        if name == "RBR":
            value = self.rx.popleft() if self.rx else 0
            self._refill()
            self.update_irq()
            return value
        if name == "IER":
            return self.ier
        if name == "IIR":
            iir = self.iir()
            if iir & IIR_ID_MASK == IIR_THRI:
                # Reading IIR while it shows THRE clears that indication.
                self.thr_ipending = False
                self.update_irq()
            return iir
        if name == "LCR":
            return self.lcr
        if name == "MCR":
            return self.mcr
        if name == "MSR":
            value = self.msr
            if self.msr & MSR_ANY_DELTA:
                self.msr &= ~MSR_ANY_DELTA
                self.update_irq()
            return value
        if name == "SCR":
            return self.scr
        if name == "DLL":
            return self.divisor & 0xFF
        return self.divisor >> 8  # DLM

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        name = reg.name
        value &= 0xFF
        if name == "THR":
            self._transmit(value)
        elif name == "IER":
            old = self.ier
            self.ier = value & 0x0F
            if self.ier & IER_ETBEI and not old & IER_ETBEI and self.lsr & LSR_THRE:
                self.thr_ipending = True
        elif name == "FCR":
            self._write_fcr(value)
        elif name == "LCR":
            self.lcr = value
        elif name == "MCR":
            was_loop = self.mcr & MCR_LOOP
            self.mcr = value & MCR_MASK
            if self.mcr & MCR_LOOP:
                self._set_modem_inputs(self._loop_msr())
            elif was_loop:
                self._set_modem_inputs(RESET_MSR)
                self._refill()
        elif name == "SCR":
            self.scr = value
        elif name == "DLL":
            self.divisor = (self.divisor & 0xFF00) | value
        elif name == "DLM":
            self.divisor = (self.divisor & 0x00FF) | (value << 8)
        self.update_irq()

    def _transmit(self, byte: int) -> None:
        if self.mcr & MCR_LOOP:
            if len(self.rx) < self.rx_capacity:
                self.rx.append(byte)
            else:
                # Overrun.  Without FIFOs the new character replaces the
                # unread one in RBR; a full FIFO keeps its contents and the
                # new character is lost (datasheet, LSR bit 1).
                self.lsr |= LSR_OE
                if not self.fcr & FCR_FIFOE:
                    self.rx[-1] = byte
            self._update_dr()
        else:
            self.on_tx(byte)
        # The byte left at once: THR and the shifter are empty again.
        self.lsr |= LSR_THRE | LSR_TEMT
        self.thr_ipending = bool(self.ier & IER_ETBEI)

    def _write_fcr(self, value: int) -> None:
        if (value ^ self.fcr) & FCR_FIFOE:
            # Changing FIFOE clears both FIFOs (datasheet, FCR bit 0); the
            # bytes stay with the host so the guest still receives them.
            self.host_rx.extendleft(reversed(self.rx))
            self.rx.clear()
        elif value & FCR_RFIFOR:
            self.rx.clear()
        self.fcr = value & (FCR_FIFOE | FCR_DMA_MODE | (3 << FCR_RTL_SHIFT))
        self._refill()

    # ----- interrupts -------------------------------------------------------

    def iir(self) -> int:
        """The IIR value for the current state (no side effects)."""
        fifo = IIR_FIFO_ENABLED if self.fcr & FCR_FIFOE else 0
        if self.ier & IER_ELSI and self.lsr & LSR_INT_ANY:
            return fifo | IIR_RLSI
        if self.ier & IER_ERBFI and self.rx:
            if self.fcr & FCR_FIFOE:
                trigger = RX_TRIGGER_LEVELS[self.fcr >> FCR_RTL_SHIFT]
                return fifo | (IIR_RDI if len(self.rx) >= trigger else IIR_CTI)
            return fifo | IIR_RDI
        if self.ier & IER_ETBEI and self.thr_ipending:
            return fifo | IIR_THRI
        if self.ier & IER_EDSSI and self.msr & MSR_ANY_DELTA:
            return fifo | IIR_MSI
        return fifo | IIR_NO_INT

    def update_irq(self, force: bool = False) -> None:
        """The interrupt line is high while IIR shows an interrupt."""
        level = not self.iir() & IIR_NO_INT
        if force or level != self._level:
            self._level = level
            self.irq.set(level)

    def reset(self) -> None:
        """QEMU's serial_reset values; queued host input is kept."""
        self.ier = 0
        self.lcr = 0
        self.mcr = RESET_MCR
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = RESET_MSR
        self.scr = 0
        self.fcr = 0
        self.divisor = RESET_DIVISOR
        self.host_rx.extendleft(reversed(self.rx))
        self.rx.clear()
        self.thr_ipending = False
        self._refill()
        self.update_irq(force=True)
