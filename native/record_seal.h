// Sealing: computing and storing the body CRC of records already written into a mapping.
//
// The JS thread writes records with bodyCRC = 0 and hands ranges of them to a libuv thread that
// fills the CRC in (the second core does the CRC while the first keeps appending). A record is
// "sealed" once its CRC is stored; recovery truncates at the first record whose CRC does not
// match, so an unsealed tail left by a crash is cut, exactly like a torn write. Only complete
// records inside [start, end) are touched; a BLANK marker that ends exactly at `end` counts as
// sealed (the segment is complete), anything unparsable stops the walk.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tidemq {

// Seals the records in data[start, end) and returns the position after the last sealed record.
size_t SealRecords(uint8_t* data, size_t start, size_t end);

}  // namespace tidemq
