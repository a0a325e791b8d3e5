// A checkpoint's files on a server: what Checkpoint::open reads of a URL. Small JSON files
// whole, per safetensors file 8 bytes then its header (all files at once), a tensor's byte
// range on demand; nothing else. Headers and small files go through the HeaderCache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "loader/error.h"
#include "loader/header_cache.h"
#include "loader/http_transport.h"
#include "loader/remote_fetch.h"
#include "loader/remote_url.h"

namespace moeckpt {

struct RemoteOptions {
  std::string endpoint;   // HF_ENDPOINT ("" = https://huggingface.co)
  std::string revision;   // --revision ("" = @REVISION or main)
  std::string token;      // HF_TOKEN, else the hub CLI's token file
  bool offline = false;   // HF_HUB_OFFLINE=1: the cache only
  std::filesystem::path cache_dir;  // "" = no cache
  double connect_timeout_s = 10;
  double timeout_s = 60;  // --timeout: per request
  int attempts = 4;
  double retry_base_s = 0.25;
  std::shared_ptr<HttpTransport> transport;  // null = libcurl
};

// From the environment moeckpt shares with the hub's tools: HF_ENDPOINT, HF_TOKEN (else the
// file $HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token), HF_HUB_OFFLINE,
// XDG_CACHE_HOME / HOME. getenv is passed so tests can give their own.
RemoteOptions remote_options_from_env(const std::function<const char*(const char*)>& getenv);

// libcurl's timeouts from --timeout (the connect timeout never longer than it).
TransportOptions transport_options(const RemoteOptions& o);

struct RemoteStats {
  uint64_t bytes = 0;     // body bytes that came over the network
  uint64_t requests = 0;
  uint64_t cached = 0;    // files answered from the cache
};

struct RemoteHead {
  std::optional<Error> error;
  std::optional<Error> missing;  // set (the 404's line) when the server has no such file
  uint64_t size = 0;     // the whole file
  std::vector<std::byte> bytes;  // 8 + N bytes (fewer when the file or N is bad: the parser says why)
};

class RemoteSource {
 public:
  // Throws Error(kUsage) for a malformed URL.
  RemoteSource(const std::string& input, RemoteOptions options);
  const RemoteLocation& location() const { return loc_; }
  std::string label(const std::string& name) const;  // "URL/name" as messages name it

  // Whole small files by name; nullopt for one the server does not have. Throws for others.
  std::vector<std::optional<std::string>> read_small(const std::vector<std::string>& names);
  // Safetensors headers, all files at once.
  std::vector<RemoteHead> read_heads(const std::vector<std::string>& names);
  // count bytes at offset of a file (a tensor). Throws Error.
  std::vector<std::byte> read_range(const std::string& name, uint64_t offset, uint64_t count);
  RemoteStats stats() const;

 private:
  std::vector<std::optional<CacheEntry>> fresh_entries(const std::vector<std::string>& urls, bool ranged,
                                                      std::vector<FetchRequest>& reqs);
  std::string url(const std::string& name) const { return loc_.base + name; }
  void offline_miss(const std::string& name) const;

  RemoteOptions options_;
  RemoteLocation loc_;
  std::string input_dir_;  // the label prefix
  HeaderCache cache_;
  std::shared_ptr<HttpTransport> transport_;
  mutable std::mutex mu_;  // read_range may run on several threads
  std::unique_ptr<RemoteFetcher> fetcher_;
  uint64_t cached_ = 0;
};

}  // namespace moeckpt
