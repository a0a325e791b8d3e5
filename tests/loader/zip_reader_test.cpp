#include "loader/zip_reader.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "loader/error.h"
#include "test_util.h"
#include "zip_builder.h"

namespace moeckpt {
namespace {

using testing::build_zip;
using testing::ZipOptions;
using testing::ZipSpec;

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string as_string(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

Errc open_error(const std::string& zip) {
  try {
    ZipArchive::open(as_bytes(zip), "t.zip");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.zip: "), std::string::npos) << e.what();
    return e.code();
  }
  ADD_FAILURE() << "accepted";
  return Errc::kUsage;
}

TEST(ZipReader, ReadsStoredAndDeflatedEntries) {
  const std::string big(5000, 'x');
  for (bool descriptor : {true, false}) {
    for (bool zip64 : {true, false}) {
      ZipOptions o;
      o.data_descriptor = descriptor;
      o.zip64_end = zip64;
      o.comment = "a comment";
      std::string z = build_zip({{"a/data.pkl", "hello"}, {"a/data/0", big, true}, {"a/empty", ""}}, o);
      ZipArchive a = ZipArchive::open(as_bytes(z), "t.zip");
      ASSERT_EQ(a.entries().size(), 3u);
      EXPECT_EQ(a.entries()[0].name, "a/data.pkl");
      const ZipEntry* s = a.find("a/data.pkl");
      ASSERT_NE(s, nullptr);
      EXPECT_TRUE(s->stored());
      std::vector<std::byte> scratch;
      auto v = zip_read(as_bytes(z), *s, "t.zip", scratch);
      EXPECT_EQ(as_string(v), "hello");
      EXPECT_EQ(v.data(), as_bytes(z).data() + s->data_offset);  // a view, not a copy
      const ZipEntry* d = a.find("a/data/0");
      ASSERT_NE(d, nullptr);
      EXPECT_EQ(d->method, 8);
      EXPECT_LT(d->compressed_size, d->uncompressed_size);
      EXPECT_EQ(as_string(zip_read(as_bytes(z), *d, "t.zip", scratch)), big);
      EXPECT_EQ(as_string(zip_read(as_bytes(z), *a.find("a/empty"), "t.zip", scratch)), "");
      EXPECT_EQ(a.find("a/data"), nullptr);
      EXPECT_EQ(a.find("missing"), nullptr);
    }
  }
}

TEST(ZipReader, ReadsTheFixtureDirectoryAsPythonSawIt) {
  // reference.json records the entries Python's zipfile listed for each fixture.
  auto ref = nlohmann::json::parse(testing::read_file(testing::testdata("torchbin/reference.json")));
  for (const char* f : {"state.bin", "state_protocol4.pt", "mixtral_bin/pytorch_model.bin"}) {
    std::string bytes = testing::read_file(testing::testdata(std::string("torchbin/") + f));
    ZipArchive a = ZipArchive::open(as_bytes(bytes), f);
    const auto& want = ref["views"][f]["zip"]["entries"];
    ASSERT_EQ(a.entries().size(), want.size()) << f;
    std::vector<std::byte> scratch;
    for (size_t i = 0; i < want.size(); ++i) {
      const ZipEntry& e = a.entries()[i];
      EXPECT_EQ(e.name, want[i][0].get<std::string>());
      EXPECT_EQ(e.method, want[i][1].get<int>());
      EXPECT_EQ(e.uncompressed_size, want[i][2].get<uint64_t>());
      EXPECT_EQ(e.local_offset, want[i][3].get<uint64_t>());
      EXPECT_EQ(zip_read(as_bytes(bytes), e, f, scratch).size(), e.uncompressed_size);  // CRC checked
    }
  }
}

TEST(ZipReader, Crc32MatchesZlib) {
  const std::string s = "The quick brown fox";
  EXPECT_EQ(zip_crc32(as_bytes(s)), testing::crc_of(s));
  EXPECT_EQ(zip_crc32({}), 0u);
}

TEST(ZipReader, DetectsEndRecords) {
  EXPECT_TRUE(has_zip_end_record(as_bytes(build_zip({{"a", "b"}}))));
  EXPECT_FALSE(has_zip_end_record(as_bytes(std::string("\x80\x02}q\x00.", 6))));
  EXPECT_FALSE(has_zip_end_record({}));
}

TEST(ZipReader, RefusesCorruptCrcAndBadDeflate) {
  std::string z = build_zip({{"a/x", "payload"}, {"a/y", std::string(3000, 'q'), true}});
  ZipArchive a = ZipArchive::open(as_bytes(z), "t.zip");
  std::vector<std::byte> scratch;
  std::string bad = z;
  bad[a.find("a/x")->data_offset] ^= 1;
  try {
    zip_read(as_bytes(bad), *a.find("a/x"), "t.zip", scratch);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kZipCrcMismatch) << e.what();
    EXPECT_NE(std::string(e.what()).find("'a/x'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(as_string(zip_read(as_bytes(bad), *a.find("a/x"), "t.zip", scratch, false)), std::string("qayload"));
  // A deflate stream with garbage in it, or claiming more output than it has.
  ZipEntry y = *a.find("a/y");
  bad = z;
  for (uint64_t i = 0; i < y.compressed_size; ++i) bad[y.data_offset + i] = static_cast<char>(0xFF);
  EXPECT_THROW(zip_read(as_bytes(bad), y, "t.zip", scratch), Error);
  ZipEntry longer = y;
  longer.uncompressed_size += 1;
  try {
    zip_read(as_bytes(z), longer, "t.zip", scratch);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kZipInflate) << e.what();
  }
  ZipEntry bomb = y;
  bomb.uncompressed_size = uint64_t{1} << 50;
  try {
    zip_read(as_bytes(z), bomb, "t.zip", scratch);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kZipInflate) << e.what();
  }
}

TEST(ZipReader, RefusesStructuralProblems) {
  EXPECT_EQ(open_error(""), Errc::kZipInvalid);
  EXPECT_EQ(open_error("not a zip file at all, just some text......"), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"../evil", "x"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"/abs", "x"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"a\\b", "x"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"a/../../b", "x"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"", "x"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"same", "x"}, {"same", "y"}})), Errc::kZipInvalid);
  EXPECT_EQ(open_error(build_zip({{"enc", "x", false, 1}})), Errc::kZipUnsupported);
}

// Offsets of the records build_zip wrote, found by signature.
size_t find_sig(const std::string& z, const char* sig, size_t from = 0) { return z.find(std::string(sig, 4), from); }

TEST(ZipReader, RefusesTamperedRecords) {
  const std::string z = build_zip({{"a/one", "11111"}, {"a/two", "22222"}});
  const size_t cd = find_sig(z, "PK\x01\x02");
  const size_t eocd = find_sig(z, "PK\x05\x06");
  ASSERT_NE(cd, std::string::npos);
  ASSERT_NE(eocd, std::string::npos);
  auto patch = [&](size_t at, std::initializer_list<uint8_t> bytes) {
    std::string b = z;
    for (uint8_t v : bytes) b[at++] = static_cast<char>(v);
    return b;
  };
  // Truncations anywhere lose the end record or put the directory outside the file.
  for (size_t keep : {size_t{0}, size_t{10}, cd, eocd, z.size() - 1}) EXPECT_NE(open_error(z.substr(0, keep)), Errc::kUsage);
  // Method 12 (bzip2).
  EXPECT_EQ(open_error(patch(cd + 10, {12, 0})), Errc::kZipUnsupported);
  // Multi-disk.
  EXPECT_EQ(open_error(patch(eocd + 4, {1, 0})), Errc::kZipUnsupported);
  // Local header offset of the second entry pointing at the first: overlap / mismatch.
  const size_t cd2 = find_sig(z, "PK\x01\x02", cd + 4);
  EXPECT_EQ(open_error(patch(cd2 + 42, {0, 0, 0, 0})), Errc::kZipInvalid);
  // Local header offset past the end of the entries.
  EXPECT_EQ(open_error(patch(cd2 + 42, {0xF0, 0xFF, 0xFF, 0x7F})), Errc::kZipEntryOutOfRange);
  // Compressed size running into the central directory.
  EXPECT_EQ(open_error(patch(cd2 + 20, {0xFF, 0xFF, 0, 0}) /* stored: sizes now differ */), Errc::kZipInvalid);
  EXPECT_EQ(open_error(patch(cd2 + 20, {0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0})), Errc::kZipEntryOutOfRange);
  // Name in the local header differs from the central directory.
  EXPECT_EQ(open_error(patch(30 + 2, {'X'})), Errc::kZipInvalid);
  // Central directory size and offset that do not fit the file.
  const std::string plain = build_zip({{"a/one", "11111"}}, {.data_descriptor = true, .zip64_end = false, .comment = ""});
  const size_t peocd = find_sig(plain, "PK\x05\x06");
  std::string b = plain;
  b[peocd + 16] = static_cast<char>(0xF0);
  EXPECT_EQ(open_error(b), Errc::kZipEntryOutOfRange);
  b = plain;
  b[peocd + 10] = 5;  // five entries claimed
  b[peocd + 8] = 5;
  EXPECT_EQ(open_error(b), Errc::kZipInvalid);
  // A zip64 locator pointing nowhere.
  const size_t loc = find_sig(z, "PK\x06\x07");
  EXPECT_EQ(open_error(patch(loc + 8, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})), Errc::kZipEntryOutOfRange);
  // A classic record that disagrees with the zip64 one.
  EXPECT_EQ(open_error(patch(eocd + 10, {3, 0})), Errc::kZipUnsupported);
  EXPECT_EQ(open_error(patch(eocd + 8, {3, 0, 3, 0})), Errc::kZipInvalid);
}

TEST(ZipReader, EveryTruncationIsRefusedCleanly) {
  const std::string z = build_zip({{"a/data.pkl", "abc"}, {"a/data/0", std::string(300, 'z'), true}});
  for (size_t n = 0; n < z.size(); ++n) EXPECT_THROW(ZipArchive::open(as_bytes(z.substr(0, n)), "t"), Error) << n;
}

}  // namespace
}  // namespace moeckpt
