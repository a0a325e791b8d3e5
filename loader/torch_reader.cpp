// Reads torch.save zip archives: the zip directory (zip_reader), data.pkl through the restricted
// unpickler, and then interprets the inert object graph as a state dict. Every tensor is
// checked against its storage here, so Checkpoint::bytes can slice or gather without trusting
// the file.
#include "loader/torch_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "loader/error.h"
#include "loader/unpickler.h"
#include "loader/zip_reader.h"

namespace moeckpt {
namespace {

using pickle::Kind;
using pickle::Object;

constexpr std::string_view kRebuildV2 = "torch._utils _rebuild_tensor_v2";
constexpr std::string_view kRebuildV3 = "torch._utils _rebuild_tensor_v3";
constexpr std::string_view kRebuildParameter = "torch._utils _rebuild_parameter";
constexpr std::string_view kRebuildParameterWithState = "torch._utils _rebuild_parameter_with_state";

struct NamedType {
  std::string_view global;
  DType dtype;
};

// Typed storage classes torch.save names in a storage's persistent id (torch/storage.py).
constexpr NamedType kTypedStorages[] = {
    {"torch FloatStorage", DType::kF32},  {"torch DoubleStorage", DType::kF64},   {"torch HalfStorage", DType::kF16},
    {"torch BFloat16Storage", DType::kBF16}, {"torch LongStorage", DType::kI64}, {"torch IntStorage", DType::kI32},
    {"torch ShortStorage", DType::kI16},  {"torch CharStorage", DType::kI8},     {"torch ByteStorage", DType::kU8},
    {"torch BoolStorage", DType::kBool},  {"torch ComplexFloatStorage", DType::kC64},
};
// Dtypes that _rebuild_tensor_v3 passes (pickled by name, e.g. GLOBAL 'torch float8_e4m3fn')
// with an UntypedStorage, for types that have no typed storage class.
constexpr NamedType kDtypes[] = {
    {"torch float32", DType::kF32},          {"torch float64", DType::kF64},
    {"torch float16", DType::kF16},          {"torch bfloat16", DType::kBF16},
    {"torch int64", DType::kI64},            {"torch int32", DType::kI32},
    {"torch int16", DType::kI16},            {"torch int8", DType::kI8},
    {"torch uint8", DType::kU8},             {"torch uint16", DType::kU16},
    {"torch uint32", DType::kU32},           {"torch uint64", DType::kU64},
    {"torch bool", DType::kBool},            {"torch complex64", DType::kC64},
    {"torch float8_e4m3fn", DType::kF8_E4M3}, {"torch float8_e5m2", DType::kF8_E5M2},
    {"torch float8_e8m0fnu", DType::kF8_E8M0}, {"torch float8_e4m3fnuz", DType::kF8_E4M3FNUZ},
    {"torch float8_e5m2fnuz", DType::kF8_E5M2FNUZ},
};
constexpr std::string_view kUntypedStorages[] = {"torch.storage UntypedStorage", "torch UntypedStorage"};

std::vector<std::string_view> allowed_globals() {
  std::vector<std::string_view> g = {"collections OrderedDict", kRebuildV2, kRebuildV3, kRebuildParameter,
                                     kRebuildParameterWithState};
  for (const auto& t : kTypedStorages) g.push_back(t.global);
  for (const auto& t : kDtypes) g.push_back(t.global);
  for (auto u : kUntypedStorages) g.push_back(u);
  return g;
}

std::optional<DType> lookup(std::span<const NamedType> table, std::string_view global) {
  for (const auto& t : table)
    if (t.global == global) return t.dtype;
  return std::nullopt;
}

constexpr uint64_t kMaxPickleBytes = 256u << 20;
constexpr int kMaxDictDepth = 64;

bool is_rebuild(std::string_view g) {
  return g == kRebuildV2 || g == kRebuildV3 || g == kRebuildParameter || g == kRebuildParameterWithState;
}

// Turns the unpickled graph into TensorInfos and the storage table.
class StateDict {
 public:
  StateDict(const pickle::Pickle& pk, const ZipArchive& zip, std::string top, std::string label, uint32_t file_index)
      : pk_(pk), zip_(zip), top_(std::move(top)), label_(std::move(label)), file_index_(file_index),
        dict_seen_(pk.objects.size(), false) {}

  TorchFile run() {
    const Object& root = pk_.at(pk_.root);
    if (root.kind != Kind::kDict)
      throw Error(Errc::kTorchInvalid, label_,
                  "data.pkl holds a " + std::string(pickle::kind_name(root.kind)) + ", not a dict of tensors (a state dict)");
    walk(pk_.root, "", 0);
    return std::move(out_);
  }

 private:
  [[noreturn]] void bad(std::string_view tensor, const std::string& why) const {
    throw Error(Errc::kTorchInvalid, label_, why, tensor);
  }
  const Object& at(uint32_t i) const { return pk_.at(i); }
  bool is_tensor(uint32_t i) const { return at(i).kind == Kind::kCall && is_rebuild(at(at(i).items[0]).str); }

  void walk(uint32_t dict, const std::string& prefix, int depth) {
    if (depth > kMaxDictDepth)
      throw Error(Errc::kPickleLimit, label_, "dicts nested more than " + std::to_string(kMaxDictDepth) + " deep");
    // A torch state dict never holds the same dict twice; refusing it also stops cycles.
    if (dict_seen_[dict]) throw Error(Errc::kTorchInvalid, label_, "a nested dict appears more than once ('" + prefix + "')");
    dict_seen_[dict] = true;
    const auto& items = at(dict).items;
    for (size_t k = 0; k + 1 < items.size(); k += 2) {
      const Object& key = at(items[k]);
      std::string name = prefix;
      if (key.kind == Kind::kStr) name += key.str;
      else if (key.kind == Kind::kInt) name += std::to_string(key.integer);
      else bad(prefix, "dict key is a " + std::string(pickle::kind_name(key.kind)) + ", not a string");
      const uint32_t value = items[k + 1];
      if (at(value).kind == Kind::kDict) walk(value, name + ".", depth + 1);
      else if (is_tensor(value)) add_tensor(name, value);
      else if (holds_tensor_data(value))
        bad(name, "holds tensors inside a " + std::string(pickle::kind_name(at(value).kind)) +
                      "; only (nested) dicts of tensors are supported");
      // Anything else (numbers, strings, None: e.g. an epoch counter) carries no tensor data.
    }
  }

  // Whether a value reaches a tensor or storage, without recursion (lists may nest deeply).
  bool holds_tensor_data(uint32_t root) const {
    std::vector<uint32_t> todo = {root};
    std::unordered_set<uint32_t> seen;
    while (!todo.empty()) {
      const uint32_t i = todo.back();
      todo.pop_back();
      if (!seen.insert(i).second) continue;
      const Object& o = at(i);
      if (o.kind == Kind::kCall || o.kind == Kind::kPersId) return true;
      if (o.kind == Kind::kTuple || o.kind == Kind::kList || o.kind == Kind::kDict)
        todo.insert(todo.end(), o.items.begin(), o.items.end());
    }
    return false;
  }

  const std::vector<uint32_t>& args_of(uint32_t call) const { return at(at(call).items[1]).items; }

  int64_t int_arg(const std::string& name, uint32_t i, const char* what) const {
    if (at(i).kind != Kind::kInt) bad(name, std::string(what) + " is not an integer");
    if (at(i).integer < 0) bad(name, std::string(what) + " is negative");
    return at(i).integer;
  }
  std::vector<uint64_t> int_tuple(const std::string& name, uint32_t i, const char* what) const {
    if (at(i).kind != Kind::kTuple) bad(name, std::string(what) + " is not a tuple");
    std::vector<uint64_t> v;
    for (uint32_t e : at(i).items) v.push_back(static_cast<uint64_t>(int_arg(name, e, what)));
    return v;
  }

  void add_tensor(const std::string& name, uint32_t call) {
    if (!names_.insert(name).second) bad(name, "two tensors have this name");
    std::string_view fn = at(at(call).items[0]).str;
    if (fn == kRebuildParameter || fn == kRebuildParameterWithState) {
      // nn.Parameter(data, requires_grad, backward_hooks[, state]): the tensor is data.
      const auto& a = args_of(call);
      if (a.size() != (fn == kRebuildParameter ? 3u : 4u) || !is_tensor(a[0]) ||
          at(at(a[0]).items[0]).str == kRebuildParameter || at(at(a[0]).items[0]).str == kRebuildParameterWithState)
        bad(name, "parameter does not wrap a tensor");
      call = a[0];
      fn = at(at(call).items[0]).str;
    }
    const bool v3 = fn == kRebuildV3;
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    // _rebuild_tensor_v3(..., backward_hooks, dtype[, metadata])
    const auto& a = args_of(call);
    const size_t base = v3 ? 7 : 6;
    if (a.size() != base && a.size() != base + 1)
      bad(name, std::string(v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2") + " has " + std::to_string(a.size()) + " arguments");
    if (at(a[4]).kind != Kind::kBool) bad(name, "requires_grad is not a bool");
    if (at(a[5]).kind != Kind::kDict) bad(name, "backward hooks are not a dict");
    std::optional<DType> dtype;
    if (v3) {
      if (at(a[6]).kind != Kind::kGlobal || !(dtype = lookup(kDtypes, at(a[6]).str))) bad(name, "dtype argument is not a dtype");
    }
    TensorInfo t;
    t.name = out_.arena.keep(name);
    t.file = file_index_;
    t.storage = storage_for(name, a[0], dtype);
    const TorchStorage& s = out_.storages[static_cast<size_t>(t.storage)];
    t.dtype = s.dtype;
    const uint64_t offset = static_cast<uint64_t>(int_arg(name, a[1], "storage offset"));
    t.shape = int_tuple(name, a[2], "size");
    const std::vector<uint64_t> stride = int_tuple(name, a[3], "stride");
    if (stride.size() != t.shape.size()) bad(name, "size and stride have different lengths");
    check_bounds(t, s, offset, stride);
    if (numel(t) > 0) {  // then each stride is <= INT64_MAX (checked)
      const std::vector<int64_t> strides(stride.begin(), stride.end());
      if (!is_row_major(t.shape, strides.data())) t.strides = out_.arena.keep(std::span<const int64_t>(strides)).data();
    }
    out_.tensors.push_back(std::move(t));
  }

  // Checks that every element the view reaches lies inside the storage, and fills offset and
  // nbytes.
  void check_bounds(TensorInfo& t, const TorchStorage& s, uint64_t offset, const std::vector<uint64_t>& stride) const {
    const uint64_t esize = static_cast<uint64_t>(dtype_bits(t.dtype)) / 8;
    auto numel = checked_numel(t.shape);
    if (!numel) bad(t.name, "element count of " + shape_string(t.shape) + " overflows");
    if (__builtin_mul_overflow(offset, esize, &t.offset) || t.offset > s.nbytes)
      bad(t.name, "storage offset " + std::to_string(offset) + " lies past its storage of " + std::to_string(s.nbytes) + " bytes");
    t.nbytes = *numel * esize;  // cannot overflow: checked against the storage below
    if (*numel == 0) return;
    uint64_t last = offset;  // element index of the last element the view reaches
    for (size_t d = 0; d < t.shape.size(); ++d) {
      uint64_t span = 0;
      if (__builtin_mul_overflow(t.shape[d] - 1, stride[d], &span) || __builtin_add_overflow(last, span, &last))
        bad(t.name, "size and stride overflow");
    }
    uint64_t end = 0;
    if (__builtin_add_overflow(last, 1, &end) || __builtin_mul_overflow(end, esize, &end) || end > s.nbytes)
      bad(t.name, "size " + shape_string(t.shape) + " with its strides and offset runs past its storage of " +
                      std::to_string(s.nbytes) + " bytes");
    // A view whose elements overlap (a stride of 0, as expand() makes) would have to be
    // gathered into more bytes than its storage holds; refuse rather than allocate them.
    if (*numel > s.nbytes / esize)
      bad(t.name, "view has more elements than its storage (overlapping strides); save a contiguous copy");
    for (uint64_t v : stride)
      if (v > static_cast<uint64_t>(INT64_MAX)) bad(t.name, "stride too large");
  }

  // The index of the storage a persistent id names, adding it on first use.
  // Persistent id: ('storage', storage_type, key, location, numel).
  int32_t storage_for(const std::string& name, uint32_t pid_obj, std::optional<DType> v3_dtype) {
    if (at(pid_obj).kind != Kind::kPersId) bad(name, "storage is not a persistent id");
    const Object& pid = at(at(pid_obj).items[0]);
    if (pid.kind != Kind::kTuple || pid.items.size() != 5 || at(pid.items[0]).kind != Kind::kStr ||
        at(pid.items[0]).str != "storage" || at(pid.items[1]).kind != Kind::kGlobal || at(pid.items[2]).kind != Kind::kStr ||
        at(pid.items[3]).kind != Kind::kStr || at(pid.items[4]).kind != Kind::kInt)
      bad(name, "storage persistent id is not ('storage', type, key, location, size)");
    const std::string& type = at(pid.items[1]).str;
    const std::string& key = at(pid.items[2]).str;
    const uint64_t count = static_cast<uint64_t>(int_arg(name, pid.items[4], "storage size"));
    std::optional<DType> dtype = lookup(kTypedStorages, type);
    const bool untyped = std::find(std::begin(kUntypedStorages), std::end(kUntypedStorages), type) != std::end(kUntypedStorages);
    if (!dtype && !untyped) bad(name, "'" + type + "' is not a storage type");
    if (dtype && v3_dtype && *dtype != *v3_dtype) bad(name, "dtype argument disagrees with the storage type");
    if (untyped && !v3_dtype) bad(name, "untyped storage without a dtype");
    const DType use = dtype ? *dtype : *v3_dtype;
    uint64_t nbytes = count;  // untyped storages count bytes, typed ones elements
    if (dtype && __builtin_mul_overflow(count, static_cast<uint64_t>(dtype_bits(use) / 8), &nbytes))
      bad(name, "storage size overflows");

    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      const Seen& seen = it->second;
      if (seen.type != type || seen.count != count)
        bad(name, "storage '" + key + "' is described two different ways");
      if (out_.storages[static_cast<size_t>(seen.index)].dtype != use)
        bad(name, "storage '" + key + "' is used as " + std::string(dtype_name(out_.storages[seen.index].dtype)) +
                      " and as " + std::string(dtype_name(use)));
      return seen.index;
    }
    const ZipEntry* e = zip_.find(top_ + "/data/" + key);
    if (!e) bad(name, "unknown storage key '" + key + "': the archive has no entry '" + top_ + "/data/" + key + "'");
    if (e->uncompressed_size != nbytes)
      bad(name, "storage '" + key + "' should hold " + std::to_string(nbytes) + " bytes but its entry has " +
                    std::to_string(e->uncompressed_size));
    TorchStorage s;
    s.key = key;
    s.dtype = use;
    s.nbytes = e->uncompressed_size;
    s.data_offset = e->data_offset;
    s.stored_size = e->compressed_size;
    s.deflated = !e->stored();
    s.crc32 = e->crc32;
    const auto index = static_cast<int32_t>(out_.storages.size());
    out_.storages.push_back(std::move(s));
    by_key_.emplace(key, Seen{type, count, index});
    return index;
  }

  struct Seen {
    std::string type;
    uint64_t count;
    int32_t index;
  };

  const pickle::Pickle& pk_;
  const ZipArchive& zip_;
  std::string top_;
  std::string label_;
  uint32_t file_index_;
  std::vector<bool> dict_seen_;
  std::unordered_map<std::string, Seen> by_key_;
  std::unordered_set<std::string> names_;
  TorchFile out_;
};

// torch.save before 1.6 wrote a bare pickle stream (starting with the PROTO opcode) or, even
// earlier, a tar archive; neither is a zip.
bool is_legacy(std::span<const std::byte> file) {
  if (file.size() >= 2 && file[0] == std::byte{0x80} && std::to_integer<int>(file[1]) <= 5) return true;
  return file.size() >= 262 && std::memcmp(file.data() + 257, "ustar", 5) == 0;
}

}  // namespace

TorchFile parse_torch_file(std::span<const std::byte> file, std::string_view label_view, uint32_t file_index) {
  const std::string label(label_view);
  if (is_legacy(file))
    throw Error(Errc::kTorchLegacyFormat, label,
                "legacy PyTorch file (written before PyTorch 1.6, not a zip archive); moeckpt reads only the zip "
                "format: load it with torch.load and re-save it with torch.save (PyTorch >= 1.6)");
  const ZipArchive zip = ZipArchive::open(file, label);
  if (zip.entries().empty()) throw Error(Errc::kTorchInvalid, label, "zip archive is empty");
  // Every entry lives under one directory named after the file; torch finds it from the first.
  const std::string& first = zip.entries().front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos) throw Error(Errc::kTorchInvalid, label, "archive entries are not under a directory");
  const std::string top = first.substr(0, slash);
  const ZipEntry* pkl = zip.find(top + "/data.pkl");
  if (!pkl) throw Error(Errc::kTorchInvalid, label, "archive has no " + top + "/data.pkl");
  std::vector<std::byte> scratch;
  if (const ZipEntry* order = zip.find(top + "/byteorder")) {
    auto b = zip_read(file, *order, label, scratch);
    if (std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) != "little")
      throw Error(Errc::kUnsupported, label, "only little-endian PyTorch files are supported");
  }
  if (pkl->uncompressed_size > kMaxPickleBytes)
    throw Error(Errc::kPickleLimit, label, "data.pkl is " + std::to_string(pkl->uncompressed_size) + " bytes, over the limit of " +
                                               std::to_string(kMaxPickleBytes));
  const auto pkl_bytes = zip_read(file, *pkl, label, scratch);
  const std::vector<std::string_view> allowed = allowed_globals();
  pickle::Pickle pk;
  try {
    pk = pickle::unpickle(pkl_bytes, allowed, label);
  } catch (const Error& e) {
    throw Error(e.code(), label, "data.pkl: " + e.reason());
  }
  return StateDict(pk, zip, top, label, file_index).run();
}

std::span<const std::byte> read_torch_storage(std::span<const std::byte> file, const TorchStorage& storage,
                                              std::string_view label, std::vector<std::byte>& scratch) {
  if (!storage.deflated && storage.stored_size != storage.nbytes)
    throw Error(Errc::kZipInvalid, std::string(label), "stored storage '" + storage.key + "' has two sizes");
  ZipEntry e;
  e.name = "data/" + storage.key;
  e.method = storage.deflated ? 8 : 0;
  e.crc32 = storage.crc32;
  e.compressed_size = storage.stored_size;
  e.uncompressed_size = storage.nbytes;
  e.data_offset = storage.data_offset;
  return zip_read(file, e, label, scratch);  // re-checks the range against this file
}

}  // namespace moeckpt
