// scanRecords: the recovery scan over any ArrayBuffer (a mapping or a plain copy), results
// written into a caller-owned Float64Array so the call allocates nothing.
#include "recovery_scan.h"

#include "js_util.h"
#include "wraps.h"

namespace tidemq {
namespace {

constexpr size_t kOutSlots = 8;
// Slot indexes, mirrors ScanSlot in src/native.ts.
constexpr size_t kSlotEndPosition = 0;
constexpr size_t kSlotRecords = 1;
constexpr size_t kSlotLastStoreTimestamp = 2;
constexpr size_t kSlotStop = 3;
constexpr size_t kSlotFirstStoreTimestamp = 4;

}  // namespace

Napi::Value ScanRecordsJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "scanRecords", "mapping");
  const uint64_t start = ArgIndex(info, 1, "scanRecords", "start");
  const uint64_t end = ArgIndex(info, 2, "scanRecords", "end");
  const uint64_t fromOffset = ArgIndex(info, 3, "scanRecords", "segmentFromOffset");
  const bool checkCrc = ArgBool(info, 4, "scanRecords", "checkCrc");
  if (!info[5].IsTypedArray() ||
      info[5].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "scanRecords: out must be a Float64Array");
  }
  Napi::Float64Array out = info[5].As<Napi::Float64Array>();
  if (out.ElementLength() < kOutSlots) {
    throw Napi::RangeError::New(env, "scanRecords: out must have at least 8 elements");
  }
  const size_t length = buffer.ByteLength();
  if (start > end || end > length) {
    throw Napi::RangeError::New(env, "scanRecords: need start <= end <= mapping length (" +
                                         std::to_string(length) + ")");
  }

  const auto* data = static_cast<const uint8_t*>(buffer.Data());
  const ScanResult r = ScanRecords(data, static_cast<size_t>(start), static_cast<size_t>(end),
                                   fromOffset, checkCrc);
  double* slots = out.Data();
  slots[kSlotEndPosition] = static_cast<double>(r.endPosition);
  slots[kSlotRecords] = static_cast<double>(r.records);
  slots[kSlotLastStoreTimestamp] = static_cast<double>(r.lastStoreTimestamp);
  slots[kSlotStop] = static_cast<double>(static_cast<int>(r.stop));
  slots[kSlotFirstStoreTimestamp] = static_cast<double>(r.firstStoreTimestamp);
  return Napi::Number::New(env, static_cast<double>(r.endPosition));
}

}  // namespace tidemq
