#include "loader/safetensors_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "loader/error.h"
#include "loader/simdjson_util.h"
#include "loader/sorted_merge.h"

namespace moeckpt {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

[[noreturn]] void fail(Errc code, std::string_view label, std::string reason, std::string_view tensor = {}) {
  throw Error(code, std::string(label), std::move(reason), tensor);
}

std::string type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a non-integer number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

// A JSON integer >= 0, as simdjson types it (INT64 when it fits, UINT64 above that).
bool as_u64(element e, uint64_t* out) {
  if (e.type() == element_type::UINT64) {
    return e.get_uint64().get(*out) == simdjson::SUCCESS;
  }
  if (e.type() == element_type::INT64) {
    int64_t v = 0;
    if (e.get_int64().get(v) != simdjson::SUCCESS) return false;
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

TensorInfo parse_entry(std::string_view label, std::string_view name, element value, TensorArena& arena) {
  if (value.type() != element_type::OBJECT)
    fail(Errc::kTensorEntryInvalid, label, "entry is " + type_name(value.type()) + ", expected an object", name);
  element dtype_e, shape_e, offsets_e;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  simdjson::dom::object entry = json_util::take<simdjson::dom::object>(value.get_object(), Errc::kHeaderNotJson, label);
  for (auto field : entry) {
    std::string_view k = field.key;
    auto dup = [&](bool seen) {
      if (seen) fail(Errc::kTensorEntryInvalid, label, "field '" + std::string(k) + "' appears twice", name);
    };
    if (k == "dtype") { dup(has_dtype); dtype_e = field.value; has_dtype = true; }
    else if (k == "shape") { dup(has_shape); shape_e = field.value; has_shape = true; }
    else if (k == "data_offsets") { dup(has_offsets); offsets_e = field.value; has_offsets = true; }
  }
  if (!has_dtype) fail(Errc::kTensorEntryInvalid, label, "missing field 'dtype'", name);
  if (!has_shape) fail(Errc::kTensorEntryInvalid, label, "missing field 'shape'", name);
  if (!has_offsets) fail(Errc::kTensorEntryInvalid, label, "missing field 'data_offsets'", name);
  if (dtype_e.type() != element_type::STRING)
    fail(Errc::kTensorEntryInvalid, label, "'dtype' is " + type_name(dtype_e.type()) + ", expected a string", name);
  std::string_view dtype_s = json_util::take<std::string_view>(dtype_e.get_string(), Errc::kHeaderNotJson, label);
  auto dtype = parse_safetensors_dtype(dtype_s);
  if (!dtype) fail(Errc::kUnknownDtype, label, "unknown dtype '" + std::string(dtype_s) + "'", name);

  TensorInfo t;
  t.name = arena.keep(name);
  t.dtype = *dtype;
  if (shape_e.type() != element_type::ARRAY)
    fail(Errc::kShapeInvalid, label, "'shape' is " + type_name(shape_e.type()) + ", expected an array", t.name);
  simdjson::dom::array shape_a = json_util::take<simdjson::dom::array>(shape_e.get_array(), Errc::kHeaderNotJson, label);
  for (element d : shape_a) {
    uint64_t v;
    if (!as_u64(d, &v)) fail(Errc::kShapeInvalid, label, "'shape' holds " + type_name(d.type()) + " that is not a non-negative integer", t.name);
    t.shape.push_back(v);
  }
  if (offsets_e.type() != element_type::ARRAY)
    fail(Errc::kOffsetsInvalid, label, "'data_offsets' is " + type_name(offsets_e.type()) + ", expected [begin, end]", t.name);
  simdjson::dom::array arr = json_util::take<simdjson::dom::array>(offsets_e.get_array(), Errc::kHeaderNotJson, label);
  if (arr.size() != 2) fail(Errc::kOffsetsInvalid, label, "'data_offsets' has " + std::to_string(arr.size()) + " elements, expected 2", t.name);
  uint64_t begin = 0, end = 0;
  element b_e = json_util::take<element>(arr.at(0), Errc::kOffsetsInvalid, label);
  element e_e = json_util::take<element>(arr.at(1), Errc::kOffsetsInvalid, label);
  if (!as_u64(b_e, &begin) || !as_u64(e_e, &end))
    fail(Errc::kOffsetsInvalid, label, "'data_offsets' must be two non-negative integers", t.name);
  if (end < begin)
    fail(Errc::kOffsetsInvalid, label, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] end before begin", t.name);
  auto nbytes = checked_nbytes(t.shape, t.dtype);
  if (!nbytes) {
    auto n = checked_numel(t.shape);
    if (!n) fail(Errc::kOverflow, label, "shape " + shape_string(t.shape) + " has more elements than fit in 64 bits", t.name);
    fail(Errc::kSizeMismatch, label, "shape " + shape_string(t.shape) + " of " + std::string(dtype_s) +
         " is not a whole number of bytes", t.name);
  }
  if (*nbytes != end - begin)
    fail(Errc::kSizeMismatch, label, "shape " + shape_string(t.shape) + " of " + std::string(dtype_s) + " needs " +
         std::to_string(*nbytes) + " bytes but data_offsets span " + std::to_string(end - begin), t.name);
  t.nbytes = *nbytes;
  t.offset = begin;  // relative for now; made absolute once the layout is validated
  return t;
}

// N, the header's length, from the 8-byte little-endian prefix; checked against the limit and
// against the file.
uint64_t header_length(std::span<const std::byte> head, uint64_t file_size, std::string_view label) {
  if (file_size < 8)
    fail(Errc::kHeaderTooSmall, label, "file is " + std::to_string(file_size) + " bytes, too small for a safetensors header");
  if (head.size() < 8) fail(Errc::kTruncated, label, "the file's first 8 bytes did not arrive");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(head[static_cast<size_t>(i)]);
  if (n > kMaxSafetensorsHeader)
    fail(Errc::kHeaderOverLimit, label, "header length " + std::to_string(n) + " is over the 100,000,000-byte limit");
  if (n > file_size - 8)
    fail(Errc::kHeaderTooLarge, label, "header length " + std::to_string(n) + " runs past the end of the file (" +
         std::to_string(file_size) + " bytes)");
  if (n > head.size() - 8) fail(Errc::kTruncated, label, "the header's " + std::to_string(n) + " bytes did not all arrive");
  return n;
}

// The header's n bytes as a JSON object. It lives in this thread's parser, until the next call.
simdjson::dom::object parse_header_json(const char* text, uint64_t n, std::string_view label) {
  if (!simdjson::validate_utf8(text, n)) fail(Errc::kHeaderNotUtf8, label, "header is not valid UTF-8");
  thread_local simdjson::dom::parser parser;
  element doc;
  if (auto err = parser.parse(text, n, true).get(doc); err)
    fail(Errc::kHeaderNotJson, label, std::string("header is not JSON: ") + simdjson::error_message(err));
  if (doc.type() != element_type::OBJECT)
    fail(Errc::kHeaderNotObject, label, "header is " + type_name(doc.type()) + ", expected a JSON object");
  return json_util::take<simdjson::dom::object>(doc.get_object(), Errc::kHeaderNotJson, label);
}

// "__metadata__": an object of strings, each key once, kept in file order.
void read_metadata(element value, std::string_view label, SafetensorsHeader& h) {
  if (h.has_metadata) fail(Errc::kDuplicateName, label, "name appears twice in the header", "__metadata__");
  h.has_metadata = true;
  if (value.type() != element_type::OBJECT)
    fail(Errc::kMetadataInvalid, label, "__metadata__ is " + type_name(value.type()) + ", expected an object of strings");
  simdjson::dom::object meta = json_util::take<simdjson::dom::object>(value.get_object(), Errc::kHeaderNotJson, label);
  for (auto m : meta) {
    if (m.value.type() != element_type::STRING)
      fail(Errc::kMetadataInvalid, label, "__metadata__ value for '" + std::string(m.key) + "' is " +
           type_name(m.value.type()) + ", expected a string");
    for (const auto& [k, v] : h.metadata)
      if (k == m.key) fail(Errc::kMetadataInvalid, label, "__metadata__ key '" + std::string(m.key) + "' appears twice");
    std::string_view mv = json_util::take<std::string_view>(m.value.get_string(), Errc::kHeaderNotJson, label);
    h.metadata.emplace_back(std::string(m.key), std::string(mv));
  }
}

// Every key of the header: the metadata, or a tensor entry (offsets still relative).
void read_entries(simdjson::dom::object obj, std::string_view label, uint32_t file_index, SafetensorsHeader& h) {
  h.tensors.reserve(obj.size());
  size_t name_bytes = 0;
  for (auto field : obj) name_bytes += field.key.size();
  h.names.reserve(name_bytes);  // one block for the file's names
  for (auto field : obj) {
    std::string_view key = field.key;
    if (key == "__metadata__") {
      read_metadata(field.value, label, h);
      continue;
    }
    h.tensors.push_back(parse_entry(label, key, field.value, h.names));
    h.tensors.back().file = file_index;
  }
}

// The tensors' indexes in name order. Sorted, a duplicate sits next to its twin (no hashing:
// headers of big checkpoints hold ~100k names and this runs on every command).
std::vector<uint32_t> name_order(const std::vector<TensorInfo>& tensors, std::string_view label) {
  const size_t count = tensors.size();
  std::vector<uint32_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return tensors[a].name < tensors[b].name; });
  for (size_t i = 1; i < count; ++i)
    if (tensors[order[i]].name == tensors[order[i - 1]].name)
      fail(Errc::kDuplicateName, label, "name appears twice in the header", tensors[order[i]].name);
  return order;
}

// The ranges must tile [0, buffer) exactly. Ties on begin sort the empty tensors first.
void check_tiling(const std::vector<TensorInfo>& tensors, const std::vector<uint32_t>& order, uint64_t buffer,
                  std::string_view label) {
  std::vector<uint32_t> by_offset(order);
  std::sort(by_offset.begin(), by_offset.end(), [&](uint32_t x, uint32_t y) {
    const TensorInfo& a = tensors[x];
    const TensorInfo& b = tensors[y];
    if (a.offset != b.offset) return a.offset < b.offset;
    if (a.nbytes != b.nbytes) return a.nbytes < b.nbytes;
    return a.name < b.name;
  });
  uint64_t cursor = 0;
  const TensorInfo* prev = nullptr;
  for (uint32_t i : by_offset) {
    const TensorInfo& t = tensors[i];
    uint64_t begin = t.offset, end = t.offset + t.nbytes;
    if (end > buffer)
      fail(Errc::kOffsetsOutOfBounds, label, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
           "] run past the end of the data buffer (" + std::to_string(buffer) + " bytes)", t.name);
    if (begin < cursor)
      fail(Errc::kOffsetsOverlap, label, "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
           "] overlap tensor '" + (prev ? prev->name.str() : std::string()) + "' which ends at " + std::to_string(cursor), t.name);
    if (begin > cursor)
      fail(Errc::kOffsetsHole, label, "data_offsets begin at " + std::to_string(begin) + " leaving a hole of " +
           std::to_string(begin - cursor) + " bytes after " + std::to_string(cursor), t.name);
    cursor = end;
    prev = &t;
  }
  if (cursor != buffer)
    fail(Errc::kTrailingBytes, label, "data buffer is " + std::to_string(buffer) + " bytes but the tensors cover " +
         std::to_string(cursor) + " (" + std::to_string(buffer - cursor) + " bytes unaccounted for)");
}

}  // namespace

SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view label, uint32_t file_index) {
  return parse_safetensors_head(file, file.size(), label, file_index);
}

SafetensorsHeader parse_safetensors_head(std::span<const std::byte> head, uint64_t file_size, std::string_view label,
                                         uint32_t file_index) {
  SafetensorsHeader h;
  h.header_size = header_length(head, file_size, label);
  h.data_start = 8 + h.header_size;
  const char* text = reinterpret_cast<const char*>(head.data()) + 8;
  read_entries(parse_header_json(text, h.header_size, label), label, file_index, h);
  std::vector<uint32_t> order = name_order(h.tensors, label);
  check_tiling(h.tensors, order, file_size - h.data_start, label);
  permute_in_place(h.tensors, order);  // into name order
  for (TensorInfo& t : h.tensors) t.offset += h.data_start;  // absolute in the file
  return h;
}

}  // namespace moeckpt
