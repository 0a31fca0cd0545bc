#include "record_seal.h"

#include "crc32.h"
#include "recovery_scan.h"

namespace tidemq {
namespace {

uint32_t LoadBE32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

void StoreBE32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace

size_t SealRecords(uint8_t* data, size_t start, size_t end) {
  size_t pos = start;
  while (pos + kBlankMarkerBytes <= end) {
    const uint8_t* rec = data + pos;
    const uint32_t totalSize = LoadBE32(rec + kOffTotalSize);
    const uint32_t magic = LoadBE32(rec + kOffMagic);
    if (magic == kMagicBlank && totalSize == end - pos) return end;  // the segment's end marker
    if (magic != kMagicV1 && magic != kMagicV2) break;
    if (pos + kMinRecordBytes > end) break;
    if (totalSize < kMinRecordBytes || totalSize > end - pos) break;
    const uint32_t sysFlag = LoadBE32(rec + kOffSysFlag);
    const size_t bornHost = (sysFlag & kSysFlagBornHostV6) ? kHostV6Bytes : kHostV4Bytes;
    const size_t storeHost = (sysFlag & kSysFlagStoreHostV6) ? kHostV6Bytes : kHostV4Bytes;
    const size_t bodyLengthAt = kOffBornHost + bornHost + 8 + storeHost + 4 + 8;
    if (bodyLengthAt + 4 > totalSize) break;
    const uint32_t bodyLength = LoadBE32(rec + bodyLengthAt);
    if (bodyLength > totalSize - bodyLengthAt - 4) break;
    const uint32_t crc = Crc32(rec + bodyLengthAt + 4, bodyLength) & 0x7FFFFFFFu;
    StoreBE32(data + pos + kOffBodyCrc, crc);
    pos += totalSize;
  }
  return pos;
}

}  // namespace tidemq
