// Shard indexes: model.safetensors.index.json and pytorch_model.bin.index.json,
// {"metadata": {"total_size": N, ...}, "weight_map": {tensor: shard file}}.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moeckpt {

struct ShardIndex {
  std::optional<uint64_t> total_size;  // metadata.total_size, if given
  std::vector<std::string> shards;     // distinct shard names, sorted
  // tensor name -> index into shards, in file order. The names view one buffer owned by
  // `storage`: an index of 100k tensors costs no allocation per name.
  std::vector<std::pair<std::string_view, uint32_t>> weight_map;
  std::shared_ptr<const void> storage;
};

// Parses and validates an index: a JSON object whose weight_map maps every tensor name once to
// a shard path that stays inside the index's directory (relative, no "..", no backslash).
// Throws Error(kIndexInvalid / kDuplicateName / kIndexPathEscapes) naming label.
// readable_padding: bytes past text's end that may be read (a mapping's last page); with
// enough of them the text is parsed in place instead of copied (an index of 1M tensors is
// ~90 MB of JSON).
// text_parsed, when given, is called as soon as the text is no longer read (the caller may
// then drop its pages before the names are copied out).
ShardIndex parse_index(std::string_view text, std::string_view label, size_t readable_padding = 0,
                       const std::function<void()>& text_parsed = {});

// Whether a shard path from an index stays inside the directory (exposed for tests).
bool shard_path_is_safe(std::string_view path);

}  // namespace moeckpt
