// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as java.util.zip.CRC32 computes it.
// RocketMQ stores it masked to 31 bits (crc & 0x7FFFFFFF); masking is the caller's business.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tidemq {

uint32_t Crc32(const uint8_t* data, size_t length, uint32_t seed = 0);

}  // namespace tidemq
