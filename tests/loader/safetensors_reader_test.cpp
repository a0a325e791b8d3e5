#include "loader/safetensors_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "loader/error.h"
#include "loader/mapped_file.h"
#include "malformed_cases.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using testing::malformed_safetensors_cases;
using testing::safetensors_bytes;

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(SafetensorsReader, ParsesAValidFile) {
  std::string data(24, '\0');
  std::string f = safetensors_bytes(
      R"({"__metadata__":{"format":"pt","k":"v"},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[16,24]},)"
      R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"e":{"dtype":"U8","shape":[0],"data_offsets":[16,16]}}  )",
      data);
  SafetensorsHeader h = parse_safetensors(as_bytes(f), "x.safetensors", 7);
  ASSERT_EQ(h.tensors.size(), 3u);
  // Sorted by name.
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[1].name, "b");
  EXPECT_EQ(h.tensors[2].name, "e");
  EXPECT_EQ(h.tensors[1].dtype, DType::kBF16);
  EXPECT_EQ(h.tensors[1].shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(h.tensors[1].nbytes, 8u);
  EXPECT_EQ(h.tensors[1].offset, h.data_start + 16);
  EXPECT_EQ(h.tensors[1].file, 7u);
  EXPECT_EQ(h.tensors[2].offset, h.data_start + 16);  // the empty tensor between a and b
  EXPECT_EQ(h.data_start, 8 + h.header_size);
  ASSERT_TRUE(h.has_metadata);
  ASSERT_EQ(h.metadata.size(), 2u);
  EXPECT_EQ(h.metadata[1], (std::pair<std::string, std::string>{"k", "v"}));
}

TEST(SafetensorsReader, AcceptsEmptyHeaderAndEmptyFile) {
  std::string f = safetensors_bytes("{}", "");
  EXPECT_TRUE(parse_safetensors(as_bytes(f), "e").tensors.empty());
}

TEST(SafetensorsReader, AcceptsSubByteTypesWithWholeBytes) {
  std::string f = safetensors_bytes(R"({"w":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}})", std::string(3, '\0'));
  auto h = parse_safetensors(as_bytes(f), "f4");
  EXPECT_EQ(h.tensors[0].nbytes, 3u);
  f = safetensors_bytes(R"({"w":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}})", std::string(3, '\0'));
  EXPECT_EQ(parse_safetensors(as_bytes(f), "f6").tensors[0].nbytes, 3u);
}

TEST(SafetensorsReader, IgnoresUnknownFieldsAsTheReferenceDoes) {
  std::string f = safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":[1]}})", "x");
  EXPECT_EQ(parse_safetensors(as_bytes(f), "x").tensors.size(), 1u);
}

class MalformedSafetensors : public ::testing::TestWithParam<testing::MalformedCase> {};

TEST_P(MalformedSafetensors, IsRefusedWithItsErrorCode) {
  const auto& c = GetParam();
  try {
    parse_safetensors(as_bytes(c.bytes), c.name + ".safetensors");
    FAIL() << "accepted " << c.name;
  } catch (const Error& e) {
    EXPECT_EQ(errc_name(e.code()), errc_name(c.code)) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.name + ".safetensors"), std::string::npos) << e.what();
    EXPECT_EQ(e.exit_code(), kExitInput);
  }
}

INSTANTIATE_TEST_SUITE_P(Spec6, MalformedSafetensors, ::testing::ValuesIn(malformed_safetensors_cases()),
                         [](const auto& p) { return p.param.name; });

// Every fixture transformers wrote: our parse agrees with the header as Python's safetensors
// read it (names, dtypes, shapes, offsets), recorded by testdata/generate.py in reference.json.
TEST(SafetensorsReader, AgreesWithSafetensorsOnEveryFixture) {
  int files = 0;
  for (const auto& dir : std::filesystem::directory_iterator(testing::testdata("models"))) {
    auto ref_path = dir.path() / "reference.json";
    if (!std::filesystem::exists(ref_path)) continue;
    auto ref = nlohmann::json::parse(testing::read_file(ref_path));
    for (const auto& [fname, finfo] : ref["files"].items()) {
      MappedFile m = MappedFile::open(dir.path() / fname);
      auto h = parse_safetensors(m.bytes(), fname);
      std::map<std::string, const TensorInfo*> ours;
      for (const auto& t : h.tensors) ours[t.name] = &t;
      ASSERT_EQ(ours.size(), finfo["tensors"].size()) << dir.path();
      for (const auto& rt : finfo["tensors"]) {
        const auto* t = ours.at(rt["name"].get<std::string>());
        EXPECT_EQ(dtype_name(t->dtype), rt["dtype"].get<std::string>()) << t->name;
        EXPECT_EQ(t->shape, rt["shape"].get<std::vector<uint64_t>>()) << t->name;
        EXPECT_EQ(t->offset - h.data_start, rt["data_offsets"][0].get<uint64_t>()) << t->name;
        EXPECT_EQ(t->offset - h.data_start + t->nbytes, rt["data_offsets"][1].get<uint64_t>()) << t->name;
      }
      ++files;
    }
  }
  EXPECT_GE(files, 40);
}

}  // namespace
}  // namespace moeckpt
