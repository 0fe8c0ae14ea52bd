"""Tests of septum.toolchain: assembler, ELF writer, disassembler, CLI."""
