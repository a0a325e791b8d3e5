#include "loader/index_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <functional>
#include <vector>

#include "loader/error.h"
#include "loader/simdjson_util.h"

namespace moeckpt {

using simdjson::dom::element;
using simdjson::dom::element_type;

namespace {

// A set of names viewing strings owned elsewhere: open addressing, no allocation per name
// (an index names ~100k tensors).
class NameSet {
 public:
  explicit NameSet(size_t expected) {
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    slots_.resize(cap);
    mask_ = cap - 1;
  }
  // False when the name is already there.
  bool insert(std::string_view name) {
    const size_t h = std::hash<std::string_view>{}(name);
    for (size_t s = h & mask_;; s = (s + 1) & mask_) {
      if (!slots_[s].used) {
        if (++count_ * 2 > slots_.size()) {
          grow();
          return insert_fresh(name, h);
        }
        slots_[s] = {name, h, true};
        return true;
      }
      if (slots_[s].hash == h && slots_[s].name == name) return false;
    }
  }

 private:
  struct Slot {
    std::string_view name;
    size_t hash = 0;
    bool used = false;
  };
  bool insert_fresh(std::string_view name, size_t h) {
    for (size_t s = h & mask_;; s = (s + 1) & mask_)
      if (!slots_[s].used) {
        slots_[s] = {name, h, true};
        return true;
      }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& o : old)
      if (o.used) insert_fresh(o.name, o.hash);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

[[noreturn]] void fail(Errc code, std::string_view label, std::string why, std::string tensor = {}) {
  throw Error(code, std::string(label), std::move(why), std::move(tensor));
}

// metadata.total_size: a non-negative integer. Some writers emit it as a float; an integral one
// is accepted.
uint64_t total_size_value(element v, std::string_view label) {
  int64_t i64 = 0;
  uint64_t u64 = 0;
  double d = 0;
  if (v.type() == element_type::INT64 && v.get_int64().get(i64) == simdjson::SUCCESS && i64 >= 0) return static_cast<uint64_t>(i64);
  if (v.type() == element_type::UINT64 && v.get_uint64().get(u64) == simdjson::SUCCESS) return u64;
  if (v.type() == element_type::DOUBLE && v.get_double().get(d) == simdjson::SUCCESS && d >= 0 && d < 1.8e19 &&
      std::floor(d) == d)
    return static_cast<uint64_t>(d);
  fail(Errc::kIndexInvalid, label, "'metadata.total_size' is not a non-negative integer");
}

// "metadata": null, or an object whose total_size, if any, is read; other keys are ignored.
void read_metadata(element value, std::string_view label, ShardIndex& idx) {
  if (value.type() == element_type::NULL_VALUE) return;
  if (value.type() != element_type::OBJECT) fail(Errc::kIndexInvalid, label, "'metadata' is not an object");
  simdjson::dom::object meta = json_util::take<simdjson::dom::object>(value.get_object(), Errc::kIndexInvalid, label);
  for (auto m : meta) {
    if (m.key != "total_size") continue;
    idx.total_size = total_size_value(m.value, label);
  }
}

// Numbers the shards of a weight_map in order of first appearance, refusing a new one whose
// path would leave the directory. Consecutive entries mostly name the same shard: the last one
// is remembered.
class ShardNumbering {
 public:
  explicit ShardNumbering(std::string_view label) : label_(label) {}

  uint32_t id(std::string_view shard, std::string_view tensor) {
    if (have_last_ && shard == last_shard_) return last_id_;
    auto [it, fresh] = ids_.emplace(shard, static_cast<uint32_t>(names_.size()));
    if (fresh) {
      if (!shard_path_is_safe(shard))
        fail(Errc::kIndexPathEscapes, label_, "shard path '" + std::string(shard) + "' is not a plain relative path inside the checkpoint directory", std::string(tensor));
      names_.push_back(shard);
    }
    last_shard_ = shard;
    last_id_ = it->second;
    have_last_ = true;
    return last_id_;
  }
  // In order of first appearance.
  const std::vector<std::string_view>& names() const { return names_; }

 private:
  std::string_view label_;
  std::unordered_map<std::string_view, uint32_t> ids_;
  std::vector<std::string_view> names_;
  std::string_view last_shard_;
  uint32_t last_id_ = 0;
  bool have_last_ = false;
};

// idx.shards: the shard names sorted; the map is renumbered accordingly.
void sort_shards(const std::vector<std::string_view>& shard_names, ShardIndex& idx) {
  std::vector<uint32_t> order(shard_names.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return shard_names[a] < shard_names[b]; });
  std::vector<uint32_t> rank(order.size());
  for (uint32_t r = 0; r < order.size(); ++r) {
    rank[order[r]] = r;
    idx.shards.emplace_back(shard_names[order[r]]);
  }
  for (auto& [name, id] : idx.weight_map) id = rank[id];
}

// "weight_map": every tensor once, each to a shard file name.
void read_weight_map(element value, std::string_view label, ShardIndex& idx) {
  if (value.type() != element_type::OBJECT) fail(Errc::kIndexInvalid, label, "'weight_map' is not an object");
  simdjson::dom::object obj = json_util::take<simdjson::dom::object>(value.get_object(), Errc::kIndexInvalid, label);
  idx.weight_map.reserve(obj.size());
  NameSet seen(obj.size());
  ShardNumbering shards(label);
  for (auto w : obj) {
    if (!seen.insert(w.key))
      fail(Errc::kDuplicateName, label, "weight_map names the tensor twice", std::string(w.key));
    if (w.value.type() != element_type::STRING)
      fail(Errc::kIndexInvalid, label, "weight_map value is not a file name", std::string(w.key));
    std::string_view shard = json_util::take<std::string_view>(w.value.get_string(), Errc::kIndexInvalid, label);
    idx.weight_map.emplace_back(w.key, shards.id(shard, w.key));
  }
  sort_shards(shards.names(), idx);
}

}  // namespace

bool shard_path_is_safe(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string_view::npos) return false;
  if (path.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// The weight_map's names copied into one buffer that the index keeps, so the parsed document
// (the text's padded copy, its strings and tape: ~3 x the text) is freed with the parser; an
// index of 1M tensors is ~90 MB of JSON.
void keep_names_only(ShardIndex& idx) {
  size_t total = 0;
  for (const auto& [name, shard] : idx.weight_map) total += name.size();
  auto names = std::make_shared<std::string>();
  names->reserve(total);
  for (const auto& [name, shard] : idx.weight_map) names->append(name);
  size_t at = 0;
  for (auto& [name, shard] : idx.weight_map) {
    name = std::string_view(names->data() + at, name.size());
    at += name.size();
  }
  idx.storage = std::move(names);
}

ShardIndex parse_index(std::string_view text, std::string_view label, size_t readable_padding,
                       const std::function<void()>& text_parsed) {
  ShardIndex idx;
  auto parser = std::make_unique<simdjson::dom::parser>();
  element doc;
  const bool copy = readable_padding < simdjson::SIMDJSON_PADDING;
  if (auto err = parser->parse(text.data(), text.size(), copy).get(doc); err)
    fail(Errc::kIndexInvalid, label, std::string("not JSON: ") + simdjson::error_message(err));
  if (text_parsed) text_parsed();  // the document holds its own copies of the strings
  if (doc.type() != element_type::OBJECT) fail(Errc::kIndexInvalid, label, "not a JSON object");
  bool has_map = false;
  simdjson::dom::object top = json_util::take<simdjson::dom::object>(doc.get_object(), Errc::kIndexInvalid, label);
  for (auto field : top) {
    if (field.key == "metadata") {
      read_metadata(field.value, label, idx);
    } else if (field.key == "weight_map") {
      if (has_map) fail(Errc::kIndexInvalid, label, "'weight_map' appears twice");
      has_map = true;
      read_weight_map(field.value, label, idx);
    }
  }
  if (!has_map) fail(Errc::kIndexInvalid, label, "no 'weight_map'");
  keep_names_only(idx);
  return idx;
}

}  // namespace moeckpt
