// A restricted unpickler for the data.pkl of torch.save archives. It interprets the pickle
// opcodes (protocols 2-5) a state dict uses and builds an inert object graph; nothing is ever
// called or imported. Globals are only recorded, and only those the caller allows; REDUCE on
// one becomes a Call node for the caller to interpret (collections.OrderedDict() alone becomes
// an empty dict, so SETITEMS can fill it). Any other opcode or global is refused, and sizes
// are limited so a hostile file cannot exhaust memory.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moeckpt::pickle {

enum class Kind : uint8_t { kNone, kBool, kInt, kFloat, kStr, kTuple, kList, kDict, kGlobal, kCall, kPersId };

std::string_view kind_name(Kind k);  // "dict", "tuple", ...

inline constexpr uint32_t kNoObject = 0xFFFFFFFF;

// One node of the graph. Children are indexes into Pickle::objects, so shared references
// (memo hits, e.g. tied weights) are the same index and cycles cannot leak.
struct Object {
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string str;              // kStr: the text; kGlobal: "module name"
  std::vector<uint32_t> items;  // kTuple/kList: elements; kDict: key, value, key, value...;
                                // kCall: {callable (a kGlobal), args (a kTuple)}; kPersId: {pid}
  uint32_t state = kNoObject;   // what BUILD gave the object, if anything
};

struct Pickle {
  std::vector<Object> objects;
  uint32_t root = kNoObject;
  const Object& at(uint32_t i) const { return objects.at(i); }
};

struct Limits {
  uint64_t max_objects = 20'000'000;
  uint64_t max_stack = 10'000'000;     // values on the stack, all MARK levels together
  uint64_t max_marks = 10'000;         // MARKs open at once
  uint64_t max_memo = 20'000'000;
  uint64_t max_string = 16u << 20;     // bytes in one string
  uint64_t max_container = 20'000'000; // elements in one tuple, list or dict
};

// Parses data. `allowed` lists the globals the caller accepts, each spelled "module name".
// Throws Error naming label: kPickleOpcodeRefused (an opcode outside the supported set, with
// its offset), kPickleGlobalRefused (a global not in allowed), kPickleLimit (a limit above),
// kPickleInvalid (truncation, bad operands, stack underflow, wrong types, no STOP, trailing
// bytes).
Pickle unpickle(std::span<const std::byte> data, std::span<const std::string_view> allowed, std::string_view label,
                const Limits& limits = {});

}  // namespace moeckpt::pickle
