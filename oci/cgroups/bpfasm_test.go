package cgroups

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"
)

// Each instruction the device filter uses encodes to the bytes cilium/ebpf
// (little-endian: the hosts berth is built for)
// produces for it, jumps included.
func TestBPFEncodingMatchesCilium(t *testing.T) {
	ours := bpfProg{
		ldxW(r2, r1, 0),
		alu32Imm(bpfAND, r2, 0xFFFF),
		alu32Imm(bpfRSH, r3, 16),
		mov32Reg(r6, r3),
		jmpImm(bpfJNE, r2, 2, "deny"),
		jmpImm(bpfJEQ, r0, 0, "deny"),
		mov32Imm(r0, 1),
		bpfExit(),
		mov32Imm(r0, 0).at("deny"),
		bpfExit(),
	}
	theirs := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xFFFF),
		asm.RSh.Imm32(asm.R3, 16),
		asm.Mov.Reg32(asm.R6, asm.R3),
		asm.JNE.Imm(asm.R2, 2, "deny"),
		asm.JEq.Imm(asm.R0, 0, "deny"),
		asm.Mov.Imm32(asm.R0, 1),
		asm.Return(),
		asm.Mov.Imm32(asm.R0, 0).WithSymbol("deny"),
		asm.Return(),
	}
	got, err := ours.encode()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := theirs.Marshal(&want, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("encoding differs:\n ours   %x\n cilium %x", got, want.Bytes())
	}
	if _, err := (bpfProg{jmpImm(bpfJNE, r2, 0, "nowhere"), bpfExit()}).encode(); err == nil {
		t.Fatal("a jump to an unknown label was encoded")
	}
}
