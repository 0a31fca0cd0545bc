// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as java.util.zip.CRC32 computes it.
// RocketMQ stores it masked to 31 bits (crc & 0x7FFFFFFF); masking is the caller's business.
// On x86-64 with PCLMULQDQ (checked at run time) inputs of 64 bytes and more are folded with
// carry-less multiplication; elsewhere, and for the tail, slicing-by-8 tables. Same result.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tidemq {

uint32_t Crc32(const uint8_t* data, size_t length, uint32_t seed = 0);

// The table version alone (the reference the accelerated one is tested against).
uint32_t Crc32Table(const uint8_t* data, size_t length, uint32_t seed = 0);

// Whether Crc32 uses the carry-less multiplication path on this CPU.
bool Crc32Accelerated();

}  // namespace tidemq
