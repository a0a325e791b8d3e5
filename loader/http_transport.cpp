#include "loader/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <string_view>

namespace moeckpt {
namespace {

std::once_flag curl_init_once;

// Seconds as curl's milliseconds, at least 1 and at most a year (--timeout 1e300 is accepted).
long milliseconds(double s) { return static_cast<long>(std::clamp(s * 1000, 1.0, 3.2e10)); }

struct Transfer {
  const HttpRequest* req = nullptr;
  HttpResponse* resp = nullptr;
  curl_slist* headers = nullptr;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  auto& body = t->resp->body;
  if (t->req->max_body && body.size() + len > t->req->max_body) {
    t->resp->body_over_limit = true;
    return 0;  // aborts the transfer: a server ignoring Range would send the whole file
  }
  const auto* p = reinterpret_cast<const std::byte*>(data);
  body.insert(body.end(), p, p + len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  size_t colon = line.find(':');
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after a 100 Continue): start over
    t->resp->location.clear(), t->resp->content_range.clear(), t->resp->etag.clear();
    return len;
  }
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  if (name == "location") t->resp->location = value;
  else if (name == "content-range") t->resp->content_range = value;
  else if (name == "etag") t->resp->etag = value;
  else if (name == "retry-after") t->resp->retry_after = value;
  else if (name == "x-error-code") t->resp->error_code = value;
  return len;
}

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(const TransportOptions& o) : options_(o) {
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, o.max_connections);
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  }
  ~CurlTransport() override {
    curl_multi_cleanup(multi_);
    curl_share_cleanup(share_);
  }

  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests) override {
    std::vector<HttpResponse> out(requests.size());
    std::vector<Transfer> transfers(requests.size());
    std::vector<CURL*> easies;
    for (size_t i = 0; i < requests.size(); ++i) {
      transfers[i] = {&requests[i], &out[i], nullptr};
      CURL* e = make_easy(transfers[i]);
      easies.push_back(e);
      curl_multi_add_handle(multi_, e);
    }
    int running = 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto last = t0;
    auto report = [&](bool final) {
      if (!options_.progress) return;
      TransferProgress p;
      p.total = requests.size();
      p.done = requests.size() - static_cast<size_t>(running);
      for (const auto& r : out) p.bytes += r.body.size();
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      p.final = final;
      options_.progress(p);
    };
    do {
      curl_multi_perform(multi_, &running);
      if (running) curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
      if (auto now = std::chrono::steady_clock::now(); now - last >= std::chrono::milliseconds(100)) {
        last = now;
        report(false);
      }
    } while (running);
    report(true);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      finish(m->easy_handle, m->data.result, *t);
    }
    for (size_t i = 0; i < easies.size(); ++i) {
      curl_multi_remove_handle(multi_, easies[i]);
      curl_easy_cleanup(easies[i]);
      curl_slist_free_all(transfers[i].headers);
    }
    return out;
  }

 private:
  CURL* make_easy(Transfer& t) {
    CURL* e = curl_easy_init();
    const HttpRequest& r = *t.req;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_SHARE, share_);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options_.connect_timeout_s));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, milliseconds(options_.total_timeout_s));
    // A whole file (JSON) may come compressed; a range is of the file itself, so never.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, r.has_range ? nullptr : "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    std::string range;
    if (r.has_range) {
      range = std::to_string(r.range_first) + "-" + std::to_string(r.range_last);
      curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());  // copied by curl
    }
    if (!r.bearer.empty()) t.headers = curl_slist_append(t.headers, ("Authorization: Bearer " + r.bearer).c_str());
    if (!r.if_none_match.empty()) t.headers = curl_slist_append(t.headers, ("If-None-Match: " + r.if_none_match).c_str());
    if (t.headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    return e;
  }

  static void finish(CURL* e, CURLcode rc, Transfer& t) {
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t.resp->status = status;
    curl_off_t wire = 0;
    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &wire);
    t.resp->wire_bytes = static_cast<uint64_t>(wire);
    if (rc == CURLE_OK) return;
    if (rc == CURLE_WRITE_ERROR && t.resp->body_over_limit) return;
    t.resp->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    t.resp->error = curl_easy_strerror(rc);
  }

  TransportOptions options_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const TransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace moeckpt
