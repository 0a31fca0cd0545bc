#include "recovery_scan.h"

#include "crc32.h"

namespace tidemq {
namespace {

uint32_t ReadU32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

uint64_t ReadU64(const uint8_t* p) { return uint64_t(ReadU32(p)) << 32 | ReadU32(p + 4); }

uint16_t ReadU16(const uint8_t* p) { return uint16_t(uint16_t(p[0]) << 8 | p[1]); }

// Outcome of validating one record of known totalSize that fits in the scanned range.
struct RecordCheck {
  ScanStop stop;  // kEnd means "valid"
  int64_t storeTimestamp;
};

// rec points at a record of totalSize bytes, all of them readable. Every read below is checked
// against totalSize first.
RecordCheck CheckRecord(const uint8_t* rec, size_t totalSize, uint64_t expectedPhysicalOffset,
                        bool checkCrc) {
  const uint32_t magic = ReadU32(rec + kOffMagic);
  const uint32_t sysFlag = ReadU32(rec + kOffSysFlag);
  const size_t bornHostBytes = (sysFlag & kSysFlagBornHostV6) ? kHostV6Bytes : kHostV4Bytes;
  const size_t storeHostBytes = (sysFlag & kSysFlagStoreHostV6) ? kHostV6Bytes : kHostV4Bytes;

  size_t pos = kOffBornHost + bornHostBytes;
  // storeTimestamp, storeHost, reconsumeTimes, preparedTransactionOffset, bodyLength
  const size_t offStoreTimestamp = pos;
  pos += 8 + storeHostBytes + 4 + 8;
  if (pos + 4 > totalSize) return {ScanStop::kLengthMismatch, 0};
  const int64_t storeTimestamp = static_cast<int64_t>(ReadU64(rec + offStoreTimestamp));

  const int32_t bodyLength = static_cast<int32_t>(ReadU32(rec + pos));
  pos += 4;
  if (bodyLength < 0 || static_cast<size_t>(bodyLength) > totalSize - pos) {
    return {ScanStop::kLengthMismatch, 0};
  }
  const uint8_t* body = rec + pos;
  pos += static_cast<size_t>(bodyLength);

  // V1 topic length is one byte (RocketMQ only writes V1 for topics up to 127 bytes).
  const size_t topicLenBytes = magic == kMagicV2 ? 2 : 1;
  if (topicLenBytes > totalSize - pos) return {ScanStop::kLengthMismatch, 0};
  const size_t topicLength = topicLenBytes == 2 ? ReadU16(rec + pos) : rec[pos];
  pos += topicLenBytes;
  if (topicLength > totalSize - pos) return {ScanStop::kLengthMismatch, 0};
  pos += topicLength;

  if (2 > totalSize - pos) return {ScanStop::kLengthMismatch, 0};
  const int16_t propertiesLength = static_cast<int16_t>(ReadU16(rec + pos));
  pos += 2;
  if (propertiesLength < 0 || static_cast<size_t>(propertiesLength) > totalSize - pos) {
    return {ScanStop::kLengthMismatch, 0};
  }
  pos += static_cast<size_t>(propertiesLength);
  if (pos != totalSize) return {ScanStop::kLengthMismatch, 0};

  if (ReadU64(rec + kOffPhysicalOffset) != expectedPhysicalOffset) {
    return {ScanStop::kOffsetMismatch, 0};
  }
  if (checkCrc) {
    const uint32_t crc = Crc32(body, static_cast<size_t>(bodyLength)) & 0x7FFFFFFFu;
    if (crc != ReadU32(rec + kOffBodyCrc)) return {ScanStop::kCrcMismatch, 0};
  }
  return {ScanStop::kEnd, storeTimestamp};
}

}  // namespace

ScanResult ScanRecords(const uint8_t* data, size_t start, size_t end, uint64_t segmentFromOffset,
                       bool checkCrc) {
  ScanResult result;
  size_t pos = start;
  for (;;) {
    result.endPosition = pos;
    if (pos >= end || end - pos < 4) {
      result.stop = ScanStop::kEnd;
      return result;
    }
    const size_t remaining = end - pos;
    const uint8_t* rec = data + pos;
    const uint32_t totalSize = ReadU32(rec + kOffTotalSize);
    if (totalSize == 0) {
      result.stop = ScanStop::kEnd;  // never-written space
      return result;
    }
    if (remaining < kBlankMarkerBytes) {
      result.stop = ScanStop::kBadSize;
      return result;
    }
    const uint32_t magic = ReadU32(rec + kOffMagic);
    if (magic == kMagicBlank) {
      result.stop = ScanStop::kBlank;
      return result;
    }
    if (magic != kMagicV1 && magic != kMagicV2) {
      result.stop = ScanStop::kBadMagic;
      return result;
    }
    // totalSize is a Java int: a value with the top bit set is negative, hence too small.
    if (totalSize > 0x7FFFFFFFu || totalSize < kMinRecordBytes || totalSize > remaining) {
      result.stop = ScanStop::kBadSize;
      return result;
    }
    const RecordCheck check = CheckRecord(rec, totalSize, segmentFromOffset + pos, checkCrc);
    if (check.stop != ScanStop::kEnd) {
      result.stop = check.stop;
      return result;
    }
    if (result.records == 0) result.firstStoreTimestamp = check.storeTimestamp;
    result.lastStoreTimestamp = check.storeTimestamp;
    ++result.records;
    pos += totalSize;
  }
}

}  // namespace tidemq
