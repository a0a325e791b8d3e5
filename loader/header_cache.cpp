#include "loader/header_cache.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <system_error>

namespace moeckpt {
namespace {

constexpr std::string_view kMagic = "moeckpt-header-cache 1\n";
constexpr uint64_t kMaxEntry = 200'000'000;  // a header is at most 100,000,000 bytes

// "KEY VALUE\n" at the front of text; the value, text advanced past the line.
std::optional<std::string_view> take_line(std::string_view& text, std::string_view key) {
  if (text.substr(0, key.size()) != key || text.size() <= key.size() || text[key.size()] != ' ') return std::nullopt;
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view value = text.substr(key.size() + 1, nl - key.size() - 1);
  text.remove_prefix(nl + 1);
  return value;
}

std::optional<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string encode_cache_entry(const CacheEntry& e) {
  std::string out(kMagic);
  out += "url " + e.url + "\netag " + e.etag + "\nsize " + std::to_string(e.size) + "\nlength " +
         std::to_string(e.bytes.size()) + "\n\n";
  out.append(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
  return out;
}

std::optional<CacheEntry> decode_cache_entry(std::string_view text) {
  if (text.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  text.remove_prefix(kMagic.size());
  CacheEntry e;
  auto url = take_line(text, "url");
  auto etag = url ? take_line(text, "etag") : std::nullopt;
  auto size = etag ? take_line(text, "size") : std::nullopt;
  auto length = size ? take_line(text, "length") : std::nullopt;
  if (!length || text.empty() || text.front() != '\n') return std::nullopt;
  text.remove_prefix(1);
  auto sz = number(*size), len = number(*length);
  if (!sz || !len || *len > kMaxEntry || *len > *sz || *len != text.size() || url->empty()) return std::nullopt;
  e.url = std::string(*url);
  e.etag = std::string(*etag);
  e.size = *sz;
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  e.bytes.assign(p, p + text.size());
  return e;
}

std::filesystem::path HeaderCache::default_dir(const char* xdg_cache_home, const char* home) {
  if (xdg_cache_home && *xdg_cache_home) return std::filesystem::path(xdg_cache_home) / "moeckpt";
  if (home && *home) return std::filesystem::path(home) / ".cache" / "moeckpt";
  return {};
}

std::filesystem::path HeaderCache::file_for(const std::string& url) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(fnv1a(url)));
  return dir_ / "headers" / name;
}

std::optional<CacheEntry> HeaderCache::find(const std::string& url) const {
  if (dir_.empty()) return std::nullopt;
  std::ifstream in(file_for(url), std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto e = decode_cache_entry(text);
  if (!e || e->url != url) return std::nullopt;  // a torn file, or another URL with the same hash
  return e;
}

void HeaderCache::store(const CacheEntry& e) const {
  if (dir_.empty() || e.etag.empty()) return;  // no ETag: nothing to revalidate it by
  std::error_code ec;
  const auto path = file_for(e.url);
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return;
  const auto tmp = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string text = encode_cache_entry(e);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace moeckpt
