// An in-memory HTTP server behind the HttpTransport interface: files by URL with byte ranges
// and ETags, redirects, a bearer-token rule, scripted failures; every request recorded.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loader/http_transport.h"

namespace moeckpt::testing {

class FakeHttp : public HttpTransport {
 public:
  struct Seen {
    std::string url;
    std::string bearer;
    bool has_range = false;
    uint64_t first = 0, last = 0;
  };
  // A handler may answer a URL before the files do (redirects, failures); nullopt passes.
  using Handler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

  void file(const std::string& url, std::string bytes, std::string etag = "\"e1\"") { files_[url] = {std::move(bytes), std::move(etag)}; }
  void redirect(const std::string& from, const std::string& to, long status = 302) {
    on(from, [to, status](const HttpRequest&) {
      HttpResponse r;
      r.status = status;
      r.location = to;
      return std::optional<HttpResponse>(r);
    });
  }
  void on(const std::string& url, Handler h) { handlers_[url] = std::move(h); }
  bool ignore_range = false;

  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests) override {
    std::vector<HttpResponse> out;
    ++batches;
    for (const auto& r : requests) {
      seen.push_back({r.url, r.bearer, r.has_range, r.range_first, r.range_last});
      out.push_back(answer(r));
    }
    return out;
  }

  std::vector<Seen> seen;
  int batches = 0;

 private:
  static std::vector<std::byte> bytes_of(std::string_view s) {
    std::vector<std::byte> b(s.size());
    std::transform(s.begin(), s.end(), b.begin(), [](char c) { return static_cast<std::byte>(c); });
    return b;
  }

  HttpResponse answer(const HttpRequest& r) {
    if (auto h = handlers_.find(r.url); h != handlers_.end())
      if (auto resp = h->second(r)) return *resp;
    HttpResponse resp;
    auto f = files_.find(r.url);
    if (f == files_.end()) {
      resp.status = 404;
      return resp;
    }
    const auto& [data, etag] = f->second;
    resp.etag = etag;
    if (!r.if_none_match.empty() && r.if_none_match == etag) {
      resp.status = 304;
      return resp;
    }
    std::string_view body = data;
    if (r.has_range && !ignore_range) {
      if (r.range_first >= data.size()) {
        resp.status = 416;
        return resp;
      }
      uint64_t last = std::min<uint64_t>(r.range_last, data.size() - 1);
      body = body.substr(r.range_first, last - r.range_first + 1);
      resp.status = 206;
      resp.content_range = "bytes " + std::to_string(r.range_first) + "-" + std::to_string(last) + "/" + std::to_string(data.size());
    } else {
      resp.status = 200;
    }
    if (r.max_body && body.size() > r.max_body) {
      body = body.substr(0, r.max_body);
      resp.body_over_limit = true;
    }
    resp.body = bytes_of(body);
    return resp;
  }

  std::map<std::string, std::pair<std::string, std::string>> files_;
  std::map<std::string, Handler> handlers_;
};

}  // namespace moeckpt::testing
