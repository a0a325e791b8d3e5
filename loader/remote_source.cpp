#include "loader/remote_source.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include "loader/safetensors_reader.h"

namespace moeckpt {
namespace {

constexpr uint64_t kMaxSmallFile = 64ull << 20;  // an index of ~100k names is a few MB
constexpr uint64_t kSlack = 64 << 10;            // a whole small file may answer a range

std::string read_token_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return {};
  std::string t((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
  return t;
}

// A 40-hex-digit commit: its files never change, so cached entries need no revalidation.
bool is_commit(const std::string& rev) {
  if (rev.size() != 40) return false;
  for (char c : rev)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

uint64_t le64(const std::vector<std::byte>& b) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
  return n;
}

}  // namespace

RemoteOptions remote_options_from_env(const std::function<const char*(const char*)>& getenv) {
  auto env = [&](const char* k) -> std::string {
    const char* v = getenv(k);
    return v ? std::string(v) : std::string();
  };
  RemoteOptions o;
  o.endpoint = env("HF_ENDPOINT");
  o.token = env("HF_TOKEN");
  if (o.token.empty()) {
    std::filesystem::path file = env("HF_TOKEN_PATH");
    if (file.empty() && !env("HF_HOME").empty()) file = std::filesystem::path(env("HF_HOME")) / "token";
    if (file.empty() && !env("HOME").empty()) file = std::filesystem::path(env("HOME")) / ".cache" / "huggingface" / "token";
    if (!file.empty()) o.token = read_token_file(file);
  }
  const std::string off = env("HF_HUB_OFFLINE");
  o.offline = off == "1" || off == "ON" || off == "on" || off == "true" || off == "TRUE" || off == "yes";
  const std::string xdg = env("XDG_CACHE_HOME"), home = env("HOME");
  o.cache_dir = HeaderCache::default_dir(xdg.c_str(), home.c_str());
  return o;
}

TransportOptions transport_options(const RemoteOptions& o) {
  TransportOptions t;
  t.connect_timeout_s = std::min(o.connect_timeout_s, o.timeout_s);
  t.total_timeout_s = o.timeout_s;
  return t;
}

RemoteSource::RemoteSource(const std::string& input, RemoteOptions options)
    : options_(std::move(options)),
      loc_(parse_remote_path(input, options_.endpoint, options_.revision)),
      cache_(options_.cache_dir) {
  input_dir_ = input;
  if (!loc_.file.empty()) input_dir_ = input_dir_.substr(0, input_dir_.rfind('/'));
  while (!input_dir_.empty() && input_dir_.back() == '/') input_dir_.pop_back();
  transport_ = options_.transport;
  if (!transport_ && !options_.offline) {
    transport_ = make_curl_transport(transport_options(options_));
  }
  FetchPolicy p;
  p.token = options_.token;
  p.token_origin = loc_.token_origin;
  p.hub = loc_.hub;
  p.repo = loc_.repo;
  p.revision = loc_.revision;
  p.attempts = options_.attempts;
  p.retry_base_s = options_.retry_base_s;
  p.timeout_s = options_.timeout_s;
  if (transport_) fetcher_ = std::make_unique<RemoteFetcher>(*transport_, p);
}

std::string RemoteSource::label(const std::string& name) const { return input_dir_ + "/" + name; }

void RemoteSource::offline_miss(const std::string& name) const {
  throw Error(Errc::kFileOpen, label(name),
              "HF_HUB_OFFLINE=1 and the file is not in the header cache (" + options_.cache_dir.string() + ")");
}

// Cache entries by URL: those to use as they are (trusted) come back set and get no request;
// the others get one in reqs (revalidating the entry's ETag when there is one).
std::vector<std::optional<CacheEntry>> RemoteSource::fresh_entries(const std::vector<std::string>& names, bool ranged,
                                                                  std::vector<FetchRequest>& reqs) {
  std::vector<std::optional<CacheEntry>> trusted(names.size());
  const bool trust = options_.offline || (loc_.hub && is_commit(loc_.revision));
  reqs.assign(names.size(), FetchRequest{});
  for (size_t i = 0; i < names.size(); ++i) {
    auto e = cache_.find(url(names[i]));
    FetchRequest& r = reqs[i];
    r.url = url(names[i]);
    r.label = label(names[i]);
    r.name = names[i];
    r.missing_ok = true;
    if (ranged) r.has_range = true, r.first = 0, r.last = 7, r.max_body = kSlack;
    else r.max_body = kMaxSmallFile;
    if (e && trust) {
      trusted[i] = std::move(e);
      ++cached_;
      r.url.clear();  // no request
    } else if (e) {
      r.if_none_match = e->etag;
      trusted[i] = std::move(e);  // kept for a 304; dropped otherwise
    } else if (options_.offline) {
      if (ranged) offline_miss(names[i]);
      r.url.clear();  // a small file not cached reads as absent: the next probe says what is missing
    }
  }
  return trusted;
}

std::vector<std::optional<std::string>> RemoteSource::read_small(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FetchRequest> reqs;
  auto entries = fresh_entries(names, false, reqs);
  std::vector<size_t> ask;
  std::vector<FetchRequest> wire;
  for (size_t i = 0; i < reqs.size(); ++i)
    if (!reqs[i].url.empty()) ask.push_back(i), wire.push_back(reqs[i]);
  std::vector<FetchResult> got = wire.empty() ? std::vector<FetchResult>() : fetcher_->fetch(wire);
  std::vector<std::optional<std::string>> out(names.size());
  for (size_t k = 0; k < ask.size(); ++k) {
    const size_t i = ask[k];
    FetchResult& g = got[k];
    if (g.error) throw *g.error;
    if (g.missing) {
      entries[i].reset();
      continue;
    }
    if (g.not_modified) {
      ++cached_;
      continue;
    }
    entries[i] = CacheEntry{reqs[i].url, g.etag, g.body.size(), std::move(g.body)};
    cache_.store(*entries[i]);
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (entries[i]) out[i] = std::string(reinterpret_cast<const char*>(entries[i]->bytes.data()), entries[i]->bytes.size());
  return out;
}

std::vector<RemoteHead> RemoteSource::read_heads(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FetchRequest> reqs;
  auto entries = fresh_entries(names, true, reqs);
  std::vector<RemoteHead> out(names.size());
  // Round 1: the 8-byte length of every file not answered by the cache.
  std::vector<size_t> ask;
  std::vector<FetchRequest> wire;
  for (size_t i = 0; i < reqs.size(); ++i)
    if (!reqs[i].url.empty()) ask.push_back(i), wire.push_back(reqs[i]);
  std::vector<FetchResult> first = wire.empty() ? std::vector<FetchResult>() : fetcher_->fetch(wire);
  // Round 2: each header, from where round 1 ended up (the CDN: no token goes there).
  std::vector<size_t> ask2;
  std::vector<FetchRequest> wire2;
  for (size_t k = 0; k < ask.size(); ++k) {
    const size_t i = ask[k];
    FetchResult& g = first[k];
    RemoteHead& h = out[i];
    if (g.error) {
      h.error = g.error;
      continue;
    }
    if (g.missing) {
      h.missing = Error(Errc::kFileOpen, label(names[i]), fetcher_->not_found(names[i], g.error_code));
      entries[i].reset();
      continue;
    }
    if (g.not_modified) {
      ++cached_;
      continue;
    }
    entries[i].reset();
    h.size = g.range ? g.range->total : g.body.size();
    h.bytes = std::move(g.body);
    if (h.bytes.size() < 8 || !g.range) continue;  // a tiny file, or all of it: complete
    const uint64_t n = le64(h.bytes);
    if (n == 0 || n > kMaxSafetensorsHeader || n > h.size - 8) continue;  // the parser words it
    FetchRequest r = reqs[i];
    r.url = g.final_url;
    r.first = 8;
    r.last = 8 + n - 1;
    r.max_body = n + kSlack;
    r.if_none_match.clear();
    r.missing_ok = false;
    ask2.push_back(k);
    wire2.push_back(r);
  }
  std::vector<FetchResult> second = wire2.empty() ? std::vector<FetchResult>() : fetcher_->fetch(wire2);
  for (size_t k = 0; k < ask2.size(); ++k) {
    const size_t i = ask[ask2[k]];
    const FetchResult& a = first[ask2[k]];
    FetchResult& b = second[k];
    RemoteHead& h = out[i];
    if (b.error) {
      h.error = b.error;
      continue;
    }
    if ((!a.etag.empty() && b.etag != a.etag) || (b.range && b.range->total != h.size)) {
      h.error = Error(Errc::kTruncated, label(names[i]), "the file changed on the server while its header was read");
      continue;
    }
    const std::vector<std::byte>& rest = b.body;
    // A 200 here is a server that ignored the range but sent a file small enough to take.
    if (!b.range) h.bytes.assign(rest.begin(), rest.end());
    else h.bytes.insert(h.bytes.end(), rest.begin(), rest.end());
  }
  for (size_t k = 0; k < ask.size(); ++k) {
    const size_t i = ask[k];
    RemoteHead& h = out[i];
    if (h.error || h.missing || first[k].not_modified) continue;
    cache_.store(CacheEntry{reqs[i].url, first[k].etag, h.size, h.bytes});
  }
  for (size_t i = 0; i < names.size(); ++i)
    if (entries[i]) out[i].size = entries[i]->size, out[i].bytes = std::move(entries[i]->bytes);
  return out;
}

std::vector<std::byte> RemoteSource::read_range(const std::string& name, uint64_t offset, uint64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  if (count == 0) return {};
  if (!fetcher_) offline_miss(name);
  FetchRequest r;
  r.url = url(name);
  r.label = label(name);
  r.name = name;
  r.has_range = true;
  r.first = offset;
  r.last = offset + count - 1;
  r.max_body = count + kSlack;
  FetchResult g = std::move(fetcher_->fetch({r}).front());
  if (g.error) throw *g.error;
  if (g.range) {
    if (g.body.size() != count) throw Error(Errc::kTruncated, r.label, "the server sent fewer bytes than the tensor holds");
    return std::move(g.body);
  }
  if (g.body.size() < offset + count) throw Error(Errc::kTruncated, r.label, "tensor data lies past the end of the file");
  return {g.body.begin() + static_cast<std::ptrdiff_t>(offset), g.body.begin() + static_cast<std::ptrdiff_t>(offset + count)};
}

RemoteStats RemoteSource::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  RemoteStats s;
  if (fetcher_) s.bytes = fetcher_->bytes_received(), s.requests = fetcher_->requests_sent();
  s.cached = cached_;
  return s;
}

}  // namespace moeckpt
