// The PyTorch reader against the fixtures torch.save wrote (checked tensor by tensor against
// reference.json, which torch.load produced independently), and against hostile archives
// built byte by byte here.
#include "loader/torch_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <map>
#include <string>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "test_util.h"
#include "zip_builder.h"

namespace moeckpt {
namespace {

using testing::build_zip;
using testing::ZipSpec;

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// SHA-256 (FIPS 180-4), small and slow, for comparing tensor bytes with reference.json.
std::string sha256_hex(std::span<const std::byte> data) {
  static constexpr std::array<uint32_t, 64> k = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::vector<uint8_t> msg(data.size());
  for (size_t i = 0; i < data.size(); ++i) msg[i] = std::to_integer<uint8_t>(data[i]);
  const uint64_t bits = uint64_t{data.size()} * 8;
  msg.push_back(0x80);
  while (msg.size() % 64 != 56) msg.push_back(0);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t{msg[off + 4 * i]} << 24 | uint32_t{msg[off + 4 * i + 1]} << 16 | uint32_t{msg[off + 4 * i + 2]} << 8 |
             msg[off + 4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    auto v = h;
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + k[i] + w[i];
      uint32_t t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
      for (int j = 7; j > 0; --j) v[j] = v[j - 1];
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; ++i) h[i] += v[i];
  }
  std::string out;
  char buf[9];
  for (uint32_t x : h) {
    std::snprintf(buf, sizeof buf, "%08x", x);
    out += buf;
  }
  return out;
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(as_bytes("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(as_bytes(std::string(1000, 'a'))),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

const nlohmann::json& reference() {
  static const nlohmann::json ref = nlohmann::json::parse(testing::read_file(testing::testdata("torchbin/reference.json")));
  return ref;
}

// Every tensor of the checkpoint at `path` matches reference.json's view of `view`: names,
// dtypes, shapes, storage offsets, strides, shared storages, and the bytes Checkpoint returns.
void expect_matches_reference(const std::string& path, const std::string& view) {
  SCOPED_TRACE(path);
  Checkpoint c = Checkpoint::open(testing::testdata(path));
  const auto& want = reference()["views"][view]["tensors"];
  ASSERT_EQ(c.tensors().size(), want.size());
  for (const auto& w : want) {
    const std::string name = w["name"];
    SCOPED_TRACE(name);
    const TensorInfo* t = c.find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(dtype_name(t->dtype), w["dtype"].get<std::string>());
    EXPECT_EQ(t->shape, w["shape"].get<std::vector<uint64_t>>());
    const uint64_t esize = static_cast<uint64_t>(dtype_bits(t->dtype) / 8);
    EXPECT_EQ(t->offset, w["storage_offset"].get<uint64_t>() * esize);
    EXPECT_EQ(t->nbytes, numel(*t) * esize);
    const auto stride = w["stride"].get<std::vector<int64_t>>();
    if (t->is_contiguous()) {
      EXPECT_EQ(t->strides, nullptr);
    } else {
      ASSERT_NE(t->strides, nullptr);
      EXPECT_EQ(std::vector<int64_t>(t->strides, t->strides + t->shape.size()), stride);
    }
    for (const auto& other : w["shares_storage_with"]) {
      const TensorInfo* o = c.find(other.get<std::string>());
      ASSERT_NE(o, nullptr);
      EXPECT_EQ(o->storage, t->storage) << "should share storage with " << other;
    }
    TensorBytes b = c.bytes(*t);
    EXPECT_EQ(b.size(), t->nbytes);
    EXPECT_EQ(sha256_hex(b.span()), w["sha256"].get<std::string>());
  }
}

TEST(TorchReader, StateBinMatchesReference) { expect_matches_reference("torchbin/state.bin", "state.bin"); }
TEST(TorchReader, Protocol4MatchesReference) {
  expect_matches_reference("torchbin/state_protocol4.pt", "state_protocol4.pt");
}
TEST(TorchReader, MixtralBinMatchesReference) {
  expect_matches_reference("torchbin/mixtral_bin/pytorch_model.bin", "mixtral_bin/pytorch_model.bin");
  expect_matches_reference("torchbin/mixtral_bin", "mixtral_bin/pytorch_model.bin");
}
TEST(TorchReader, ShardedMixtralMatchesTheSingleFile) {
  // generate.py shards the same state dict the single file holds.
  expect_matches_reference("torchbin/mixtral_bin_sharded", "mixtral_bin/pytorch_model.bin");
  Checkpoint c = Checkpoint::open(testing::testdata("torchbin/mixtral_bin_sharded"));
  EXPECT_EQ(c.format(), FileFormat::kTorch);
  EXPECT_EQ(c.layout(), Layout::kIndexed);
  EXPECT_EQ(c.files().size(), 2u);
}

// The main job for a .bin user: convert to safetensors. Every tensor of the output (strided
// views made contiguous, tied tensors each with its own copy) must hold the bytes torch.load gave.
void expect_convert_matches_reference(const std::string& input, const std::string& view) {
  SCOPED_TRACE(input);
  testing::TempDir tmp;
  auto r = testing::run_moeckpt({"convert", testing::testdata(input).string(), (tmp / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Checkpoint out = Checkpoint::open(tmp / "out");
  EXPECT_EQ(out.format(), FileFormat::kSafetensors);
  const auto& want = reference()["views"][view]["tensors"];
  ASSERT_EQ(out.tensors().size(), want.size());
  for (const auto& w : want) {
    const TensorInfo* t = out.find(w["name"].get<std::string>());
    ASSERT_NE(t, nullptr) << w["name"];
    EXPECT_EQ(dtype_name(t->dtype), w["dtype"].get<std::string>());
    EXPECT_EQ(t->shape, w["shape"].get<std::vector<uint64_t>>());
    EXPECT_EQ(sha256_hex(out.bytes(*t).span()), w["sha256"].get<std::string>()) << w["name"];
  }
}

TEST(TorchReader, ConvertToSafetensorsKeepsTheBytesTorchLoaded) {
  expect_convert_matches_reference("torchbin/state.bin", "state.bin");
  expect_convert_matches_reference("torchbin/mixtral_bin_sharded", "mixtral_bin/pytorch_model.bin");
}

TEST(TorchReader, StorageTableOfStateBin) {
  std::string bytes = testing::read_file(testing::testdata("torchbin/state.bin"));
  TorchFile f = parse_torch_file(as_bytes(bytes), "state.bin", 3);
  ASSERT_EQ(f.tensors.size(), 19u);
  EXPECT_EQ(f.tensors[0].name, "f32");  // state dict order
  EXPECT_EQ(f.storages.size(), 16u);    // tied_a, tied_b, view_rows and transposed share one
  std::map<std::string, const TensorInfo*> by;
  for (const auto& t : f.tensors) {
    EXPECT_EQ(t.file, 3u);
    by[t.name] = &t;
  }
  EXPECT_EQ(by["tied_a"]->storage, by["tied_b"]->storage);
  EXPECT_EQ(by["tied_a"]->storage, by["view_rows"]->storage);
  EXPECT_EQ(by["view_rows"]->offset, 8u * 4);
  ASSERT_NE(by["transposed"]->strides, nullptr);
  EXPECT_EQ(std::vector<int64_t>(by["transposed"]->strides, by["transposed"]->strides + 2), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(f.storages[by["fp8_e8m0"]->storage].dtype, DType::kF8_E8M0);
  EXPECT_EQ(f.storages[by["tied_a"]->storage].nbytes, 96u);
  std::vector<std::byte> scratch;
  for (const auto& s : f.storages) EXPECT_EQ(read_torch_storage(as_bytes(bytes), s, "state.bin", scratch).size(), s.nbytes);
}

Error parse_error(const std::string& bytes, const std::string& label = "x.bin") {
  try {
    parse_torch_file(as_bytes(bytes), label);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(label + ": "), std::string::npos) << e.what();
    return e;
  }
  ADD_FAILURE() << "accepted";
  return Error(Errc::kUsage, "", "");
}

TEST(TorchReader, RefusesTheLegacyFormat) {
  Error e = parse_error(testing::read_file(testing::testdata("torchbin/legacy.bin")), "legacy.bin");
  EXPECT_EQ(e.code(), Errc::kTorchLegacyFormat);
  EXPECT_NE(std::string(e.what()).find("torch.save"), std::string::npos) << e.what();
  try {
    Checkpoint::open(testing::testdata("torchbin/legacy.bin"));
    FAIL();
  } catch (const Error& e2) {
    EXPECT_EQ(e2.code(), Errc::kTorchLegacyFormat);
    EXPECT_EQ(e2.exit_code(), kExitInput);
  }
}

TEST(TorchReader, RefusesTruncatedFiles) {
  const std::string bytes = testing::read_file(testing::testdata("torchbin/state.bin"));
  for (size_t n : {size_t{0}, size_t{1}, size_t{30}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    Error e = parse_error(bytes.substr(0, n));
    EXPECT_TRUE(e.code() == Errc::kZipInvalid || e.code() == Errc::kZipEntryOutOfRange) << n << ": " << e.what();
  }
}

TEST(TorchReader, CorruptStorageFailsItsCrcWhenRead) {
  testing::TempDir dir;
  std::string bytes = testing::read_file(testing::testdata("torchbin/state.bin"));
  TorchFile f = parse_torch_file(as_bytes(bytes), "state.bin");
  const TensorInfo& f32 = f.tensors[0];
  ASSERT_EQ(f32.name, "f32");
  bytes[f.storages[f32.storage].data_offset + 5] ^= 0x10;
  testing::write_file(dir / "state.bin", bytes);
  Checkpoint c = Checkpoint::open(dir / "state.bin");  // opening reads no tensor data
  try {
    c.bytes(*c.find("f32"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kZipCrcMismatch) << e.what();
    EXPECT_NE(std::string(e.what()).find("data/0"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.bytes(*c.find("bf16")).size(), 48u);  // the others are intact
}

// ---- Hand-built archives -------------------------------------------------------------------

std::string u32le(uint32_t v) {
  std::string s;
  for (int k = 0; k < 4; ++k) s += static_cast<char>((v >> (8 * k)) & 0xFF);
  return s;
}
std::string str(std::string_view t) { return "X" + u32le(static_cast<uint32_t>(t.size())) + std::string(t); }
std::string bin_int(int32_t v) { return "J" + u32le(static_cast<uint32_t>(v)); }
std::string int_tuple(const std::vector<int32_t>& v) {
  std::string s = "(";
  for (int32_t x : v) s += bin_int(x);
  return s + "t";
}
const std::string kOrderedDict = "ccollections\nOrderedDict\n)R";

struct TensorSpec {
  std::string name;
  std::vector<int32_t> shape;
  std::vector<int32_t> stride;
  int32_t offset;
  int32_t numel;
  std::string key;
  std::string storage_type;
};
// A tensor entry; by default an F32[4] over all of storage "0" (16 bytes).
TensorSpec T(std::string name, std::vector<int32_t> shape = {4}, std::vector<int32_t> stride = {1}, int32_t offset = 0,
             int32_t numel = 4, std::string key = "0", std::string type = "FloatStorage") {
  return {std::move(name), std::move(shape), std::move(stride), offset, numel, std::move(key), std::move(type)};
}

std::string rebuild(const TensorSpec& t) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage") + "ctorch\n" + t.storage_type + "\n" + str(t.key) +
         str("cpu") + bin_int(t.numel) + "tQ" + bin_int(t.offset) + int_tuple(t.shape) + int_tuple(t.stride) + "\x89" +
         kOrderedDict + "tR";
}

std::string state_dict(const std::vector<TensorSpec>& tensors) {
  std::string p = "\x80\x02" + kOrderedDict + "(";
  for (const auto& t : tensors) p += str(t.name) + rebuild(t);
  return p + "u.";
}

std::string archive(const std::string& pkl, std::vector<ZipSpec> storages = {{"0", std::string(16, '\x01')}}) {
  std::vector<ZipSpec> entries = {{"archive/data.pkl", pkl}, {"archive/byteorder", "little"}};
  for (auto& s : storages) entries.push_back({"archive/data/" + s.name, s.data, s.deflate});
  entries.push_back({"archive/version", "3\n"});
  return build_zip(entries);
}

TEST(TorchReader, ReadsAHandBuiltArchiveWithNestedDictsAndDeflate) {
  std::string data;
  for (int i = 0; i < 64; ++i) data += static_cast<char>(i);
  // {"model": {"w": <f32[4,4] on storage 0>, "layers": {"0": <u8[8] at offset 3>}}, "epoch": 7}
  std::string p = "\x80\x02}(" + str("model") + "}(" + str("w") +
                  rebuild(T("", {4, 4}, {4, 1}, 0, 16)) + str("layers") + "}(" + str("0") +
                  rebuild(T("", {8}, {1}, 3, 16, "1", "ByteStorage")) +
                  "uuu" + str("epoch") + bin_int(7) + "s.";
  std::string z = archive(p, {{"0", data, true}, {"1", std::string(16, 'b')}});
  TorchFile f = parse_torch_file(as_bytes(z), "n.pt");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "model.w");
  EXPECT_EQ(f.tensors[1].name, "model.layers.0");
  EXPECT_EQ(f.tensors[1].offset, 3u);
  EXPECT_EQ(f.tensors[1].nbytes, 8u);
  ASSERT_EQ(f.storages.size(), 2u);
  EXPECT_TRUE(f.storages[0].deflated);
  std::vector<std::byte> scratch;
  auto s = read_torch_storage(as_bytes(z), f.storages[0], "n.pt", scratch);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(s.data()), s.size()), data);
}

TEST(TorchReader, RefusesDangerousGlobals) {
  for (std::string g : {"os\nsystem\n", "builtins\neval\n", "subprocess\nPopen\n", "torch\nload\n"}) {
    Error e = parse_error(archive("\x80\x02" "c" + g + "(" + str("id") + "tR."));
    EXPECT_EQ(e.code(), Errc::kPickleGlobalRefused) << e.what();
    EXPECT_NE(std::string(e.what()).find("data.pkl"), std::string::npos) << e.what();
  }
}

TEST(TorchReader, RefusesUnknownOpcodes) {
  Error e = parse_error(archive("\x80\x02(i__builtin__\nobject\n."));
  EXPECT_EQ(e.code(), Errc::kPickleOpcodeRefused) << e.what();
  EXPECT_NE(std::string(e.what()).find("INST"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("offset 3"), std::string::npos) << e.what();
}

TEST(TorchReader, RefusesDeepNestingAndHugeLengths) {
  // 100 dicts nested inside each other (built innermost-last, closed by 100 SETITEMs).
  std::string deep = "\x80\x02";
  for (int i = 0; i < 100; ++i) deep += "}" + str("k");
  deep += "}" + std::string(100, 's') + ".";
  EXPECT_EQ(parse_error(archive(deep)).code(), Errc::kPickleLimit);
  Error e = parse_error(archive("\x80\x02" + std::string(50000, '(') + "."));
  EXPECT_EQ(e.code(), Errc::kPickleLimit) << e.what();
  e = parse_error(archive("\x80\x02X\xff\xff\xff\x7f" "abc."));
  EXPECT_EQ(e.code(), Errc::kPickleLimit) << e.what();
}

TEST(TorchReader, RefusesTensorsOutsideTheirStorage) {
  struct Case {
    TensorSpec spec;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {T("w", {5}), "runs past its storage"},
      {T("w", {4}, {1}, 1), "runs past its storage"},
      {T("w", {4}, {1}, 9), "lies past its storage"},
      {T("w", {2, 2}, {3, 1}), "runs past its storage"},
      {T("w", {2}, {-1}), "negative"},
      {T("w", {-2}), "negative"},
      {T("w", {2, 2}, {1}), "different lengths"},
      {T("w", {65536, 65536, 65536, 65536}, {0, 0, 0, 0}), "overflows"},
      {T("w", {8}, {0}), "overlapping"},
      {T("w", {4}, {1}, 0, 4, "7"), "unknown storage key '7'"},
      {T("w", {4}, {1}, 0, 5), "should hold 20 bytes"},
      {T("w", {4}, {1}, 0, 4, "0", "Nope"), ""},
  };
  for (const auto& c : cases) {
    Error e = parse_error(archive(state_dict({c.spec})));
    if (c.needle.empty()) {
      EXPECT_EQ(e.code(), Errc::kPickleGlobalRefused) << e.what();
      continue;
    }
    EXPECT_EQ(errc_name(e.code()), errc_name(Errc::kTorchInvalid)) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
  }
}

TEST(TorchReader, RefusesInconsistentStorages) {
  // The same storage key as F32 and as I32.
  Error e = parse_error(archive(state_dict({T("a"), T("b", {4}, {1}, 0, 4, "0", "IntStorage")})));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // Two tensors with one name.
  e = parse_error(archive(state_dict({T("a"), T("a")})));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // A root that is not a dict.
  e = parse_error(archive("\x80\x02N."));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // Tensors inside a list.
  e = parse_error(archive("\x80\x02}" + str("l") + "]" + rebuild(T("")) + "as."));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // A dict that contains itself.
  e = parse_error(archive("\x80\x02}q\x01" + str("self") + "h\x01s."));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // No data.pkl.
  e = parse_error(build_zip({{"archive/other", "x"}}));
  EXPECT_EQ(e.code(), Errc::kTorchInvalid) << e.what();
  // Big-endian.
  e = parse_error(build_zip({{"archive/data.pkl", state_dict({})}, {"archive/byteorder", "big"}}));
  EXPECT_EQ(e.code(), Errc::kUnsupported) << e.what();
}

TEST(TorchReader, EmptyStateDictAndEmptyTensor) {
  EXPECT_TRUE(parse_torch_file(as_bytes(archive(state_dict({}))), "e.bin").tensors.empty());
  TorchFile f = parse_torch_file(as_bytes(archive(state_dict({T("e", {0, 3}, {3, 1}, 4)}))), "e.bin");
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].nbytes, 0u);
  EXPECT_EQ(f.tensors[0].offset, 16u);
}

}  // namespace
}  // namespace moeckpt
