#include "loader/header_cache.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace moeckpt {
namespace {

using testing::TempDir;

CacheEntry entry(const std::string& url) {
  CacheEntry e;
  e.url = url;
  e.etag = "\"abc\"";
  e.size = 1000;
  for (int i = 0; i < 40; ++i) e.bytes.push_back(static_cast<std::byte>(i * 7));
  e.bytes.push_back(std::byte{'\n'});
  return e;
}

TEST(HeaderCache, EncodesAndDecodes) {
  CacheEntry e = entry("http://h/x.safetensors");
  auto d = decode_cache_entry(encode_cache_entry(e));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->url, e.url);
  EXPECT_EQ(d->etag, e.etag);
  EXPECT_EQ(d->size, e.size);
  EXPECT_EQ(d->bytes, e.bytes);
}

TEST(HeaderCache, EveryTornOrAlteredFileIsAMiss) {
  const std::string text = encode_cache_entry(entry("http://h/x"));
  for (size_t n = 0; n < text.size(); ++n) EXPECT_FALSE(decode_cache_entry(text.substr(0, n))) << n;
  EXPECT_FALSE(decode_cache_entry(text + "x"));
  std::string longer = text;
  longer.replace(longer.find("length 41"), 9, "length 42");
  EXPECT_FALSE(decode_cache_entry(longer));
  std::string bigger = text;
  bigger.replace(bigger.find("size 1000"), 9, "size 1");  // more bytes than the file has
  EXPECT_FALSE(decode_cache_entry(bigger));
  EXPECT_FALSE(decode_cache_entry("moeckpt-header-cache 2\n"));
}

TEST(HeaderCache, StoresAndFindsByUrl) {
  TempDir d;
  HeaderCache c(d.path());
  EXPECT_FALSE(c.find("http://h/a"));
  c.store(entry("http://h/a"));
  auto got = c.find("http://h/a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->bytes, entry("x").bytes);
  EXPECT_FALSE(c.find("http://h/b"));
  // A file at another URL's name (a hash collision, a copied file) is not that URL's entry.
  std::filesystem::copy_file(c.file_for("http://h/a"), c.file_for("http://h/b"));
  EXPECT_FALSE(c.find("http://h/b"));
  // Without an ETag nothing could revalidate the entry: it is not kept.
  CacheEntry no_tag = entry("http://h/c");
  no_tag.etag.clear();
  c.store(no_tag);
  EXPECT_FALSE(c.find("http://h/c"));
  EXPECT_FALSE(HeaderCache({}).find("http://h/a"));
}

TEST(HeaderCache, DefaultDirectory) {
  EXPECT_EQ(HeaderCache::default_dir("/x", "/home/u"), std::filesystem::path("/x/moeckpt"));
  EXPECT_EQ(HeaderCache::default_dir("", "/home/u"), std::filesystem::path("/home/u/.cache/moeckpt"));
  EXPECT_EQ(HeaderCache::default_dir(nullptr, nullptr), std::filesystem::path());
}

}  // namespace
}  // namespace moeckpt
