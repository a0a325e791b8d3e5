// model.safetensors.index.json contents: parse_index accepts or throws Error; every shard
// path it accepts stays inside the directory. The check here is written independently of
// shard_path_is_safe: no absolute path, no backslash, no "." or ".." component (a file
// named "..x.safetensors" is legitimate and must not trip it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loader/error.h"
#include "loader/index_reader.h"

namespace {
bool escapes(std::string_view p) {
  if (p.empty() || p[0] == '/' || p.find('\\') != p.npos || p.find('\0') != p.npos) return true;
  std::string_view rest = p;
  for (;;) {
    auto slash = rest.find('/');
    auto part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return true;
    if (slash == rest.npos) return false;
    rest.remove_prefix(slash + 1);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto idx = moeckpt::parse_index(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (const auto& s : idx.shards)
      if (escapes(s)) __builtin_trap();
  } catch (const moeckpt::Error&) {
  }
  return 0;
}
