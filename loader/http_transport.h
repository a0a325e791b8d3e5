// The network under a remote checkpoint: a batch of HTTP GETs, all in flight at once, one
// response each. It follows no redirect (loader/remote_fetch.cpp does, to decide per hop
// whether the token goes along) and keeps no state between batches but its connections.
// Tests swap in a fake (tests/loader/remote_fetch_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace moeckpt {

struct HttpRequest {
  std::string url;
  bool has_range = false;
  uint64_t range_first = 0, range_last = 0;  // inclusive
  std::string bearer;         // sent as "Authorization: Bearer ..." when not empty
  std::string if_none_match;  // an ETag to revalidate
  uint64_t max_body = 0;      // the body is cut off (body_over_limit) past this many bytes
};

struct HttpResponse {
  long status = 0;            // 0 when no response arrived
  std::string error;          // transport failure ("" = a complete response)
  bool timed_out = false;
  bool body_over_limit = false;
  std::string location, content_range, etag, retry_after;
  std::string error_code;     // X-Error-Code (the hub: RepoNotFound, RevisionNotFound, EntryNotFound)
  std::vector<std::byte> body;  // decoded (a JSON file may come gzip-compressed)
  uint64_t wire_bytes = 0;      // the body's bytes as they came over the network
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // One response per request, in the same order.
  virtual std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests) = 0;
};

struct TransferProgress {
  size_t done = 0, total = 0;  // requests of the batch
  uint64_t bytes = 0;          // received so far in the batch
  double seconds = 0;          // since the batch began
  bool final = false;          // the batch is over
};

struct TransportOptions {
  // Told about a running batch about ten times a second, and once at its end.
  std::function<void(const TransferProgress&)> progress;
  double connect_timeout_s = 10;
  double total_timeout_s = 60;  // per request
  long max_connections = 16;    // per host, when HTTP/2 multiplexing is not offered
  std::string user_agent = "moeckpt";
};

// libcurl's multi interface: HTTP/2 where the server offers it, TLS verified, http and https
// only.
std::unique_ptr<HttpTransport> make_curl_transport(const TransportOptions& options);

}  // namespace moeckpt
