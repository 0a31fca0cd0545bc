// Recovery scan of a RocketMQ commit log segment: walk records forward from a position and find
// where valid data ends (docs: rocketmq-store-format.md §1, §6).
//
// Record layout, all integers big-endian, offsets for IPv4 hosts (sysFlag bit 4 / bit 5 widen
// bornHost / storeHost from 8 to 20 bytes and shift everything after them):
//
//   0       4       8       12      16      20              28              36
//   +-------+-------+-------+-------+-------+---------------+---------------+
//   | total | magic | body  | queue | flag  | queueOffset   | physical      |
//   | Size  |       | CRC   | Id    |       | (8)           | Offset (8)    |
//   +-------+-------+-------+-------+-------+---------------+---------------+
//   36      40              48              56              64              72
//   +-------+---------------+---------------+---------------+---------------+
//   | sys   | bornTimestamp | bornHost      | storeTimestamp| storeHost     |
//   | Flag  | (8)           | (8 | 20)      | (8)           | (8 | 20)      |
//   +-------+---------------+---------------+---------------+---------------+
//   72      76              84      88       88+B     89+B|90+B
//   +-------+---------------+-------+--------+--------+-------+-------+------------+
//   | recon | preparedTx    | body  | body   | topic  | topic | props | properties |
//   | sume  | Offset (8)    | Len   | (B)    | Len 1|2| (T)   | Len 2 | (P)        |
//   +-------+---------------+-------+--------+--------+-------+-------+------------+
//
//   magic 0xDAA320A7 (V1): topicLen is 1 byte; 0xDAA320AB (V2): topicLen is 2 bytes.
//   propsLen is a signed short. bodyCRC = CRC32(body) & 0x7FFFFFFF.
//   totalSize = 91 + 12*(bornHost v6) + 12*(storeHost v6) + (V2 ? 1 : 0) + B + T + P.
//
//   BLANK end-of-segment marker (the segment is full, the writer rolled to the next one):
//   +-----------------------------+------------+
//   | totalSize = bytes remaining | 0xCBD43194 |   rest of the tail: whatever was there
//   +-----------------------------+------------+
//
// What a crash leaves behind: a torn last record (its lengths or CRC do not add up), garbage
// or zeroes past it (never-written space of a preallocated file reads as zero). The scan stops
// at the first record that does not validate; everything before it is the valid prefix.
//
// The scan reads only bytes inside [start, end) of the buffer, whatever those bytes are.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tidemq {

constexpr uint32_t kMagicV1 = 0xDAA320A7u;
constexpr uint32_t kMagicV2 = 0xDAA320ABu;
constexpr uint32_t kMagicBlank = 0xCBD43194u;

// Field offsets (IPv4 hosts, up to the first variable field).
constexpr size_t kOffTotalSize = 0;
constexpr size_t kOffMagic = 4;
constexpr size_t kOffBodyCrc = 8;
constexpr size_t kOffQueueId = 12;
constexpr size_t kOffFlag = 16;
constexpr size_t kOffQueueOffset = 20;
constexpr size_t kOffPhysicalOffset = 28;
constexpr size_t kOffSysFlag = 36;
constexpr size_t kOffBornTimestamp = 40;
constexpr size_t kOffBornHost = 48;

constexpr size_t kHostV4Bytes = 8;   // 4-byte IPv4 address + int32 port
constexpr size_t kHostV6Bytes = 20;  // 16-byte IPv6 address + int32 port
constexpr uint32_t kSysFlagBornHostV6 = 1u << 4;
constexpr uint32_t kSysFlagStoreHostV6 = 1u << 5;

// Smallest possible record: V1, IPv4 hosts, empty body, topic and properties.
constexpr size_t kMinRecordBytes = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + kHostV4Bytes + 8 +
                                   kHostV4Bytes + 4 + 8 + 4 + 1 + 2;
static_assert(kMinRecordBytes == 91, "RocketMQ fixed record overhead (IPv4, V1) is 91 bytes");
static_assert(kOffBornHost == kOffBornTimestamp + 8, "bornHost follows bornTimestamp");
static_assert(kOffSysFlag == kOffPhysicalOffset + 8, "sysFlag follows physicalOffset");
constexpr size_t kBlankMarkerBytes = 8;  // totalSize + magic
static_assert(kBlankMarkerBytes < kMinRecordBytes, "a BLANK marker fits where a record does not");

// Mirrors ScanStop in src/native.ts.
enum class ScanStop : int {
  kEnd = 0,
  kBlank = 1,
  kBadMagic = 2,
  kBadSize = 3,
  kCrcMismatch = 4,
  kLengthMismatch = 5,
  kOffsetMismatch = 6,
};

struct ScanResult {
  size_t endPosition = 0;
  uint64_t records = 0;
  int64_t firstStoreTimestamp = 0;
  int64_t lastStoreTimestamp = 0;
  ScanStop stop = ScanStop::kEnd;
};

// Scans data[start, end). The caller guarantees start <= end and that data has end bytes.
// segmentFromOffset is the segment's first physical offset; a record at position p must carry
// physicalOffset == segmentFromOffset + p.
ScanResult ScanRecords(const uint8_t* data, size_t start, size_t end, uint64_t segmentFromOffset,
                       bool checkCrc);

}  // namespace tidemq
