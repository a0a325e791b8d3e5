// The header cache: the first bytes of remote files (a safetensors header, or a whole small
// JSON file) under $XDG_CACHE_HOME/moeckpt/headers, one file per URL, kept with the ETag the
// server gave them. An entry whose ETag the server still answers (304), or any entry when the
// revision is a commit hash or HF_HUB_OFFLINE=1, is used without reading the file again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moeckpt {

struct CacheEntry {
  std::string url;   // the URL as first requested (before redirects)
  std::string etag;
  uint64_t size = 0;  // the whole file's size
  std::vector<std::byte> bytes;  // its first bytes (all of them for a small file)
};

// The entry's file format: "moeckpt-header-cache 1\n", then "url ", "etag ", "size ",
// "length " lines, an empty line and exactly length bytes. nullopt for anything else
// (a cache file is input too: a torn or foreign file is a miss, not an error).
std::string encode_cache_entry(const CacheEntry& e);
std::optional<CacheEntry> decode_cache_entry(std::string_view text);

class HeaderCache {
 public:
  explicit HeaderCache(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // $XDG_CACHE_HOME/moeckpt, else $HOME/.cache/moeckpt; "" when neither is set.
  static std::filesystem::path default_dir(const char* xdg_cache_home, const char* home);

  std::optional<CacheEntry> find(const std::string& url) const;  // nullopt: a miss
  // Written to a temporary name and renamed, so a reader never sees half an entry. A cache
  // that cannot be written is no error: the next run reads the network again.
  void store(const CacheEntry& e) const;
  std::filesystem::path file_for(const std::string& url) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace moeckpt
