// HTTP GETs as a remote checkpoint needs them, over an HttpTransport: redirects followed one
// hop at a time (http/https only, at most 10), the bearer token sent only to the hub's own
// host and never to a redirect's other host, 429/5xx/dropped connections retried with backoff,
// and every failure turned into the one Error line moeckpt prints (exit 3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loader/error.h"
#include "loader/http_transport.h"
#include "loader/remote_url.h"

namespace moeckpt {

struct FetchPolicy {
  std::string token;            // HF_TOKEN or the token file; "" = none
  std::string token_origin;     // the only scheme://host:port it goes to
  bool hub = false;             // 401/403/404 worded for the hub
  std::string repo, revision;   // for those messages
  int attempts = 4;             // per request, for 429, 5xx and broken transfers
  double retry_base_s = 0.25;   // backoff: base, 2 x base, 4 x base ...
  double timeout_s = 60;        // for the message of a timeout
};

struct FetchRequest {
  std::string url;
  std::string label;  // names the file in errors
  std::string name;   // the file's name in the checkpoint (404 messages)
  bool has_range = false;
  uint64_t first = 0, last = 0;
  uint64_t max_body = 0;      // past this a 200 answer is refused as "ignores Range"
  std::string if_none_match;
  bool missing_ok = false;    // a 404 is an answer (probing for config.json), not an error
};

struct FetchResult {
  std::optional<Error> error;
  bool missing = false;        // 404 and missing_ok
  std::string error_code;      // the 404's X-Error-Code
  bool not_modified = false;   // 304 to if_none_match
  long status = 0;
  std::string final_url;       // after redirects
  std::string etag;
  std::optional<ContentRange> range;  // of a 206
  std::vector<std::byte> body;
};

class RemoteFetcher {
 public:
  RemoteFetcher(HttpTransport& transport, FetchPolicy policy) : transport_(transport), policy_(std::move(policy)) {}
  // All at once; one result per request, in order.
  std::vector<FetchResult> fetch(const std::vector<FetchRequest>& requests);
  uint64_t bytes_received() const { return bytes_; }
  uint64_t requests_sent() const { return requests_; }

 private:
  HttpRequest wire_request(const FetchRequest& r, const std::string& url) const;
  // What one response means: done (result filled), another hop, or a retry.
  enum class Next { kDone, kRedirect, kRetry };
  Next interpret(const FetchRequest& r, const HttpResponse& resp, std::string& url, int attempt, int& hops,
                 FetchResult& out) const;
  Error status_error(const FetchRequest& r, const HttpResponse& resp) const;

 public:
  // The line for a 404 of the file name: for the hub, which of repository, revision or file
  // is missing (its X-Error-Code says; without one, all three are named).
  std::string not_found(const std::string& name, const std::string& error_code) const;

  HttpTransport& transport_;
  FetchPolicy policy_;
  uint64_t bytes_ = 0;
  uint64_t requests_ = 0;
};

}  // namespace moeckpt
