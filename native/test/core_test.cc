// Standalone test of the napi-free core, built under AddressSanitizer and UBSan by
// test/unit/native-core-sanitizer.test.ts:
//   g++ -std=c++17 -fsanitize=address,undefined -fno-sanitize-recover=all -pthread
//       native/test/core_test.cc native/crc32.cc native/recovery_scan.cc ... (every core .cc)
// Every buffer the scan sees is a heap block of exactly the scanned size, so a read past `end`
// is an ASan report. Usage: core_test [seed] [iterations]. Exit 0 and "core_test: ok" on success.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <memory>
#include <thread>
#include <random>
#include <string>
#include <vector>

#include "../crc32.h"
#include "../dir_lock.h"
#include "../flush.h"
#include "../mapped_file.h"
#include "../page_hints.h"
#include "../prefault_service.h"
#include "../probes.h"
#include "../recovery_scan.h"

using namespace tidemq;

namespace {

int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

void PutU32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
void PutU64(uint8_t* p, uint64_t v) {
  PutU32(p, uint32_t(v >> 32));
  PutU32(p + 4, uint32_t(v));
}

// Appends one valid V1/IPv4 record at the end of seg (physical offset = from + position).
void AppendRecord(std::vector<uint8_t>* seg, uint64_t from, const std::string& body,
                  const std::string& topic, const std::string& props, int64_t storeTs) {
  const size_t total = kMinRecordBytes + body.size() + topic.size() + props.size();
  const size_t pos = seg->size();
  seg->resize(pos + total, 0);
  uint8_t* r = seg->data() + pos;
  PutU32(r, uint32_t(total));
  PutU32(r + kOffMagic, kMagicV1);
  PutU32(r + kOffBodyCrc,
         Crc32(reinterpret_cast<const uint8_t*>(body.data()), body.size()) & 0x7FFFFFFFu);
  PutU64(r + kOffPhysicalOffset, from + pos);
  PutU64(r + 56, uint64_t(storeTs));
  PutU32(r + 84, uint32_t(body.size()));
  std::memcpy(r + 88, body.data(), body.size());
  size_t p = 88 + body.size();
  r[p++] = uint8_t(topic.size());
  std::memcpy(r + p, topic.data(), topic.size());
  p += topic.size();
  r[p++] = uint8_t(props.size() >> 8);
  r[p++] = uint8_t(props.size());
  std::memcpy(r + p, props.data(), props.size());
}

// Scans a private heap copy of exactly [0, end) of bytes, so ASan sees any over-read.
ScanResult ScanExact(const std::vector<uint8_t>& bytes, size_t start, size_t end, uint64_t from,
                     bool crc) {
  std::unique_ptr<uint8_t[]> exact(new uint8_t[end == 0 ? 1 : end]);
  if (end > 0) std::memcpy(exact.get(), bytes.data(), end);
  return ScanRecords(exact.get(), start, end, from, crc);
}

void TestCrc() {
  const char* check = "123456789";
  CHECK(Crc32(reinterpret_cast<const uint8_t*>(check), 9) == 0xCBF43926u);
  CHECK(Crc32(nullptr, 0) == 0);
  // Split computation through the seed equals one pass.
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
  CHECK(Crc32(data.data() + 333, 667, Crc32(data.data(), 333)) == Crc32(data.data(), 1000));
}

// The accelerated CRC (carry-less multiplication, when the CPU has it) against the table one:
// random lengths, alignments, contents and seeds; each input in a heap block of exactly its size
// (ASan sees any over-read).
void TestCrcAcceleratedMatchesTable(uint32_t seed, int iterations) {
  std::printf("core_test: crc32 accelerated: %s\n", Crc32Accelerated() ? "yes" : "no");
  std::mt19937 rng(seed ^ 0x5eedc4c5u);
  for (int it = 0; it < iterations; ++it) {
    const size_t length = (it % 4 == 0) ? rng() % 8192 : rng() % 300;
    const size_t align = rng() % 64;
    std::unique_ptr<uint8_t[]> block(new uint8_t[align + length + 1]);
    uint8_t* data = block.get() + align;
    for (size_t i = 0; i < length; ++i) data[i] = uint8_t(rng());
    const uint32_t crcSeed = (it % 3 == 0) ? 0 : uint32_t(rng());
    const uint32_t fast = Crc32(data, length, crcSeed);
    const uint32_t table = Crc32Table(data, length, crcSeed);
    if (fast != table) {
      std::fprintf(stderr, "crc32 mismatch: iteration %d length %zu align %zu seed %u\n", it, length,
                   align, crcSeed);
      ++failures;
      return;
    }
  }
  // Every length around the fold's steps, on one buffer.
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(rng());
  for (size_t length = 0; length <= data.size(); ++length) {
    CHECK(Crc32(data.data(), length) == Crc32Table(data.data(), length));
  }
}

void TestScanValid() {
  std::vector<uint8_t> seg;
  const uint64_t from = 1 << 20;
  for (int i = 0; i < 10; ++i) {
    AppendRecord(&seg, from, std::string(size_t(i * 13), char('a' + i)), "TopicTest", "k\1v\2",
                 1000 + i);
  }
  const size_t blankAt = seg.size();
  seg.resize(seg.size() + 64, 0);
  PutU32(seg.data() + blankAt, 64);
  PutU32(seg.data() + blankAt + 4, kMagicBlank);
  ScanResult r = ScanExact(seg, 0, seg.size(), from, true);
  CHECK(r.stop == ScanStop::kBlank);
  CHECK(r.endPosition == blankAt);
  CHECK(r.records == 10);
  CHECK(r.firstStoreTimestamp == 1000 && r.lastStoreTimestamp == 1009);
  r = ScanExact(seg, 0, seg.size(), from + 1, true);
  CHECK(r.stop == ScanStop::kOffsetMismatch && r.endPosition == 0);
  for (size_t cut = 0; cut <= seg.size(); ++cut) {
    r = ScanExact(seg, 0, cut, from, true);
    CHECK(r.endPosition <= cut);
  }
}

void TestScanGarbage(uint32_t seed, int iterations) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> base;
  for (int i = 0; i < 20; ++i) AppendRecord(&base, 0, std::string(size_t(i * 5), 'x'), "T", "", i);
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> bytes;
    if (it % 2 == 0) {
      bytes = base;
      for (int m = int(rng() % 8) + 1; m > 0; --m) bytes[rng() % bytes.size()] = uint8_t(rng());
    } else {
      bytes.resize(rng() % 2048);
      for (auto& b : bytes) b = uint8_t(rng());
      for (size_t p = 0; p + 8 <= bytes.size() && rng() % 10 < 7; p += 91 + rng() % 200) {
        PutU32(bytes.data() + p, 91 + rng() % 300);
        const uint32_t magics[] = {kMagicV1, kMagicV2, kMagicBlank};
        PutU32(bytes.data() + p + 4, magics[rng() % 3]);
      }
    }
    const size_t end = bytes.empty() ? 0 : rng() % (bytes.size() + 1);
    const size_t start = end == 0 ? 0 : rng() % (end + 1);
    const ScanResult r = ScanExact(bytes, start, end, 0, rng() % 2 == 0);
    CHECK(r.endPosition >= start && r.endPosition <= end);
  }
}

void TestMappedFileAndFlush() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tidemq-core-XXXXXX";
  std::vector<char> dirBuf(templ.begin(), templ.end());
  dirBuf.push_back('\0');
  char* dir = dirBuf.data();
  if (mkdtemp(dir) == nullptr) {
    ++failures;
    return;
  }
  const std::string path = std::string(dir) + "/seg";
  Mapping m;
  const char* detail = nullptr;
  CHECK(!MapFile(path, 1 << 16, kMapCreate, &m, &detail));
  CHECK(MapFile(path, 1 << 16, kMapCreate, &m, &detail).code == EEXIST);
  static_cast<uint8_t*>(m.base)[100] = 42;
  CHECK(!FlushRange(m.base, 100, 1));
  CHECK(!AdviseRange(m.base, 10, 5000, Advice::kSequential));
  PrefaultRange(m.base, 200, (1 << 16) - 200);
  UnmapFile(m.base, m.length);
  Mapping again;
  CHECK(!MapFile(path, 0, kMapReadOnly, &again, &detail));
  CHECK(again.length == (1 << 16) && static_cast<uint8_t*>(again.base)[100] == 42);
  UnmapFile(again.base, again.length);

  FlushFaults faults;
  faults.Arm(EIO, 2);
  CHECK(faults.Take() == EIO && faults.Take() == EIO && faults.Take() == 0);

  int fd = -1, fd2 = -1;
  const std::string lock = std::string(dir) + "/lock";
  CHECK(!LockFile(lock, &fd));
  CHECK(LockFile(lock, &fd2).code == EWOULDBLOCK);
  CHECK(!UnlockFile(fd));

  ProbeResult pr;
  CHECK(!ProbeGroupCommit(std::string(dir) + "/probe", 3, 100, 50, &pr));
  CHECK(pr.ops > 0 && pr.syncs > 0 && pr.syncs <= pr.ops);
  unlink(path.c_str());
  unlink(lock.c_str());
  rmdir(dir);
}

// The prefault thread follows writers over mappings that are forgotten and unmapped at random
// moments, some mid-step: Forget must return only once no step touches the mapping (a touch after
// munmap is a SIGSEGV). A follow with a lead covers exactly [wrote, wrote + lead) beyond the
// writer, and the stop cell ends it.
void TestPrefaultService(uint32_t seed, int iterations) {
  std::mt19937 rng(seed);
  PrefaultService service;
  WriterCells* cells = service.NewWriter();
  CHECK(service.OwnsWriter(cells));
  WriterCells stranger;
  CHECK(!service.OwnsWriter(&stranger));
  const size_t size = 4u << 20;
  const int rounds = iterations / 20 > 10 ? iterations / 20 : 10;
  for (int i = 0; i < rounds; i++) {
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      ++failures;
      return;
    }
    cells->values[0] = 1000.0 + static_cast<double>(rng() % (size / 2));
    service.Follow(FollowRequest{base, size, cells, 1000.0, size, 1u << 20, 1000});
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    service.Forget(base);
    CHECK(munmap(base, size) == 0);
    // A fresh mapping at the same address must see no touch from the forgotten follow.
    void* reuse = mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (reuse == base) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::vector<unsigned char> resident(size / static_cast<size_t>(sysconf(_SC_PAGESIZE)));
      CHECK(mincore(reuse, size, resident.data()) == 0);
      size_t touched = 0;
      for (unsigned char r : resident) touched += r & 1;
      CHECK(touched == 0);
    }
    if (reuse != MAP_FAILED) munmap(reuse, size);
  }
  CHECK(service.jobCount() == 0);

  // [wrote, wrote + lead) and nothing else, then the follow ends when idle.
  auto* bytes = static_cast<uint8_t*>(
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  cells->values[0] = static_cast<double>(size / 4);
  service.Follow(FollowRequest{bytes, size, cells, 0, size / 4, 64u << 10, 20});
  for (int i = 0; i < 2000 && service.jobCount() != 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(service.jobCount() == 0);
  std::vector<unsigned char> resident((size + page - 1) / page);
  CHECK(mincore(bytes, size, resident.data()) == 0);
  size_t before = 0, inside = 0, after = 0;
  for (size_t p = 0; p < resident.size(); p++) {
    if ((resident[p] & 1) == 0) continue;
    const size_t at = p * page;
    if (at < size / 4) before++;
    else if (at < size / 2) inside++;
    else after++;
  }
  CHECK(before == 0 && after == 0 && inside == size / 4 / page);

  // A renewed follow starts where the last one got, not at the writer: pages it faulted in
  // before are not faulted in again (MADV_REMOVE frees [step, size/2); a renewal from the writer
  // at `step` would bring them back).
  const size_t step = 64u << 10;
  CHECK(madvise(bytes + step, size / 2 - step, MADV_REMOVE) == 0);
  cells->values[0] = static_cast<double>(size / 4 + step);
  service.Follow(FollowRequest{bytes, size, cells, 0, size / 4, step, 20});
  for (int i = 0; i < 2000 && service.jobCount() != 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(mincore(bytes, size, resident.data()) == 0);
  size_t refaulted = 0, ahead = 0;
  for (size_t p = step / page; p < size / 2 / page; p++) refaulted += resident[p] & 1;
  for (size_t p = size / 2 / page; p < (size / 2 + step) / page; p++) ahead += resident[p] & 1;
  CHECK(refaulted == 0);
  CHECK(ahead == step / page);
  service.Forget(bytes);
  munmap(bytes, size);

  // The stop cell ends a follow mid-way: a 256 MiB lead stops far short of its end.
  WriterCells* stopper = service.NewWriter();
  const size_t big = 256u << 20;
  auto* large = static_cast<uint8_t*>(
      mmap(nullptr, big, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  service.Follow(FollowRequest{large, big, stopper, 0, big, 1u << 20, 60000});
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stopper->values[1] = 1;
  for (int i = 0; i < 200 && service.jobCount() != 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(service.jobCount() == 0);
  std::vector<unsigned char> bigResident(big / page);
  CHECK(mincore(large, big, bigResident.data()) == 0);
  size_t faulted = 0;
  for (unsigned char r : bigResident) faulted += r & 1;
  CHECK(faulted < big / page / 2);
  service.Forget(large);
  munmap(large, big);
  service.Stop();
  service.Follow(FollowRequest{nullptr, 0, cells, 0, 0, 1, 0});  // after Stop: ignored
  CHECK(service.jobCount() == 0);
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t seed = argc > 1 ? uint32_t(std::strtoul(argv[1], nullptr, 10)) : 12345u;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 2000;
  std::printf("core_test: seed %u, %d iterations\n", seed, iterations);
  TestCrc();
  TestCrcAcceleratedMatchesTable(seed, iterations);
  TestScanValid();
  TestScanGarbage(seed, iterations);
  TestMappedFileAndFlush();
  TestPrefaultService(seed, iterations);
  if (failures != 0) {
    std::printf("core_test: %d failures\n", failures);
    return 1;
  }
  std::printf("core_test: ok\n");
  return 0;
}
