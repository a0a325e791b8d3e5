#include "malformed_cases.h"

#include "test_util.h"

namespace moeckpt::testing {

std::vector<MalformedCase> malformed_safetensors_cases() {
  auto st = [](std::string_view header, std::string_view data) { return safetensors_bytes(header, data); };
  const std::string d16(16, '\x01');
  std::vector<MalformedCase> c;
  c.push_back({"too_small", std::string("\x05\x00\x00", 3), Errc::kHeaderTooSmall, "too small"});
  {
    std::string f(8, '\0');
    f[0] = '\x40';  // N = 64, file has 0 bytes after the prefix
    c.push_back({"length_past_end", f + "{}", Errc::kHeaderTooLarge, "past the end"});
  }
  {
    std::string f(8, '\0');
    uint64_t n = 100'000'001;
    for (int i = 0; i < 8; ++i) f[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    c.push_back({"length_over_limit", f + "{}", Errc::kHeaderOverLimit, "100,000,000"});
  }
  c.push_back({"not_utf8", st("{\"a\xff\":{}}", ""), Errc::kHeaderNotUtf8, "UTF-8"});
  c.push_back({"not_json", st("{\"a\": [1, 2", ""), Errc::kHeaderNotJson, "not JSON"});
  c.push_back({"not_object", st("[1, 2, 3]", ""), Errc::kHeaderNotObject, "expected a JSON object"});
  c.push_back({"entry_not_object", st("{\"w\": 5}", ""), Errc::kTensorEntryInvalid, "expected an object"});
  c.push_back({"missing_dtype", st(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kTensorEntryInvalid, "missing field 'dtype'"});
  c.push_back({"unknown_dtype", st(R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kUnknownDtype, "unknown dtype 'F12'"});
  c.push_back({"negative_shape", st(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kShapeInvalid, "non-negative integer"});
  c.push_back({"float_shape", st(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kShapeInvalid, "non-negative integer"});
  c.push_back({"size_mismatch", st(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kSizeMismatch, "needs 12 bytes"});
  c.push_back({"shape_overflow",
               st(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kOverflow, "64 bits"});
  c.push_back({"subbyte_odd", st(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", std::string(2, '\0')),
               Errc::kSizeMismatch, "whole number of bytes"});
  c.push_back({"end_before_begin", st(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", std::string(8, '\0')),
               Errc::kOffsetsInvalid, "end before begin"});
  c.push_back({"overlap", st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", d16),
               Errc::kOffsetsOverlap, "overlap"});
  c.push_back({"hole", st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", d16),
               Errc::kOffsetsHole, "hole"});
  c.push_back({"out_of_bounds", st(R"({"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", d16),
               Errc::kOffsetsOutOfBounds, "past the end of the data buffer"});
  c.push_back({"trailing_bytes", st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d16),
               Errc::kTrailingBytes, "unaccounted"});
  c.push_back({"duplicate_name", st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", d16),
               Errc::kDuplicateName, "twice"});
  c.push_back({"metadata_not_string", st(R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
               Errc::kMetadataInvalid, "expected a string"});
  c.push_back({"offsets_wrong_arity", st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", std::string(8, '\0')),
               Errc::kOffsetsInvalid, "expected 2"});
  return c;
}

}  // namespace moeckpt::testing
