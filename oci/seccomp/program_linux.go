package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Wire format of a Program (also the cache file format), little endian:
//
//	"BSCP" | version u8 | notify u8 | reserved u16 | flags u32 | count u32
//	count × (code u16, jt u8, jf u8, k u32) | crc32(IEEE) of all before
//
// The checksum lets a truncated or damaged cache file be told apart from a
// good one without trusting the kernel to reject it.
const (
	wireMagic   = "BSCP"
	wireVersion = 1
	headerSize  = 4 + 1 + 1 + 2 + 4 + 4
	// MaxEncodedSize bounds MarshalBinary's output, for readers that must
	// size a buffer (e.g. init reading the program from a pipe).
	MaxEncodedSize = headerSize + maxInsns*insnSize + 4
)

// ErrCorrupt is wrapped by UnmarshalBinary's errors.
var ErrCorrupt = errors.New("seccomp: corrupt program encoding")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// MarshalBinary encodes p to pass it to the init process or store it in the
// cache.
func (p *Program) MarshalBinary() ([]byte, error) {
	if p == nil || len(p.Filter) == 0 {
		return nil, errNilProgram
	}
	if len(p.Filter) > maxInsns {
		return nil, fmt.Errorf("seccomp: program has %d instructions, max %d", len(p.Filter), maxInsns)
	}
	if p.Flags > 0xffffffff {
		return nil, fmt.Errorf("seccomp: flags %#x do not fit in 32 bits", p.Flags)
	}
	b := make([]byte, 0, headerSize+len(p.Filter)*insnSize+4)
	b = append(b, wireMagic...)
	b = append(b, wireVersion, 0, 0, 0)
	if p.Notify {
		b[5] = 1
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Flags))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Filter)))
	b = encodeInsns(b, p.Filter, binary.LittleEndian)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return b, nil
}

// UnmarshalBinary decodes data written by MarshalBinary. Errors wrap
// ErrCorrupt; p is left unchanged on error.
func (p *Program) UnmarshalBinary(data []byte) error {
	if len(data) < headerSize+insnSize+4 {
		return corrupt("%d bytes is too short", len(data))
	}
	if string(data[:4]) != wireMagic {
		return corrupt("bad magic %q", data[:4])
	}
	if data[4] != wireVersion {
		return corrupt("version %d, want %d", data[4], wireVersion)
	}
	n := binary.LittleEndian.Uint32(data[12:16])
	if n == 0 || n > maxInsns {
		return corrupt("instruction count %d", n)
	}
	want := headerSize + int(n)*insnSize + 4
	if len(data) != want {
		return corrupt("%d bytes, header says %d", len(data), want)
	}
	body := data[:want-4]
	if got, sum := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(data[want-4:]); got != sum {
		return corrupt("checksum %08x, want %08x", got, sum)
	}
	filter := decodeInsns(body[headerSize:], binary.LittleEndian)
	if err := checkFilter(filter); err != nil {
		return corrupt("%v", err)
	}
	if data[5] > 1 {
		return corrupt("notify byte %d", data[5])
	}
	flags := uint(binary.LittleEndian.Uint32(data[8:12]))
	if flags&^knownFlagBits != 0 {
		return corrupt("unknown flag bits %#x", flags&^knownFlagBits)
	}
	p.Filter = filter
	p.Notify = data[5] == 1
	p.Flags = flags
	return nil
}
