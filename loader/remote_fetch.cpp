#include "loader/remote_fetch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace moeckpt {
namespace {

constexpr int kMaxHops = 10;

bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }
bool is_retryable(long s) { return s == 429 || (s >= 500 && s <= 599); }

std::string status_word(long s) { return "HTTP " + std::to_string(s); }

}  // namespace

std::string RemoteFetcher::not_found(const std::string& name, const std::string& code) const {
  if (!policy_.hub) return "no such file on the server (HTTP 404)";
  if (code == "RepoNotFound")
    return "HTTP 404: no repository " + policy_.repo + " on the hub (a private or gated one needs HF_TOKEN)";
  if (code == "RevisionNotFound") return "HTTP 404: no revision '" + policy_.revision + "' in " + policy_.repo;
  if (code == "EntryNotFound")
    return "HTTP 404: no file '" + name + "' in " + policy_.repo + " at revision '" + policy_.revision + "'";
  return "HTTP 404: no file '" + name + "' in " + policy_.repo + " at revision '" + policy_.revision +
         "' (or no such repository or revision; a private one needs HF_TOKEN)";
}

HttpRequest RemoteFetcher::wire_request(const FetchRequest& r, const std::string& url) const {
  HttpRequest h;
  h.url = url;
  h.has_range = r.has_range;
  h.range_first = r.first;
  h.range_last = r.last;
  h.max_body = r.max_body;
  h.if_none_match = r.if_none_match;
  // Decided again at every hop: the CDN a weight file redirects to never sees the token.
  if (!policy_.token.empty() && may_send_token(url, policy_.token_origin)) h.bearer = policy_.token;
  return h;
}

Error RemoteFetcher::status_error(const FetchRequest& r, const HttpResponse& resp) const {
  const long s = resp.status;
  if (s == 401 || s == 403)
    return Error(Errc::kFileOpen, r.label, status_word(s) + ": gated or private: set HF_TOKEN or accept the licence");
  if (s == 404) return Error(Errc::kFileOpen, r.label, not_found(r.name, resp.error_code));
  if (s == 416) return Error(Errc::kTruncated, r.label, status_word(s) + ": the file is shorter than its header says");
  return Error(Errc::kFileOpen, r.label, status_word(s) + " from " + (split_url(r.url) ? split_url(r.url)->host : r.url));
}

RemoteFetcher::Next RemoteFetcher::interpret(const FetchRequest& r, const HttpResponse& resp, std::string& url,
                                             int attempt, int& hops, FetchResult& out) const {
  const bool last_try = attempt + 1 >= policy_.attempts;
  if (resp.body_over_limit) {
    out.error = Error(Errc::kFileOpen, r.label, "the server ignores byte ranges (answered " + status_word(resp.status) +
                      " with the whole file): refusing to download it");
    return Next::kDone;
  }
  if (!resp.error.empty()) {
    if (resp.timed_out) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", policy_.timeout_s);
      out.error = Error(Errc::kFileOpen, r.label, std::string("timed out after ") + secs + " s (--timeout)");
      return Next::kDone;
    }
    if (!last_try) return Next::kRetry;
    out.error = Error(Errc::kFileOpen, r.label, (resp.status ? "the connection broke mid-transfer: " : "") + resp.error +
                      " (after " + std::to_string(policy_.attempts) + " attempts)");
    return Next::kDone;
  }
  if (is_redirect(resp.status)) {
    auto next = resolve_redirect(url, resp.location);
    if (!next) {
      out.error = Error(Errc::kFileOpen, r.label, "redirect to '" + resp.location + "' refused: only http and https are followed");
      return Next::kDone;
    }
    if (++hops > kMaxHops) {
      out.error = Error(Errc::kFileOpen, r.label, "more than " + std::to_string(kMaxHops) + " redirects");
      return Next::kDone;
    }
    url = *next;
    return Next::kRedirect;
  }
  if (is_retryable(resp.status)) {
    if (!last_try) return Next::kRetry;
    out.error = Error(Errc::kFileOpen, r.label, status_word(resp.status) + " (after " + std::to_string(policy_.attempts) +
                      " attempts): the server is busy or failing; try again later");
    return Next::kDone;
  }
  out.status = resp.status;
  out.final_url = url;
  out.etag = resp.etag;
  if (resp.status == 304 && !r.if_none_match.empty()) {
    out.not_modified = true;
  } else if (resp.status == 404 && r.missing_ok) {
    out.missing = true;
    out.error_code = resp.error_code;
  } else if (resp.status == 206) {
    out.range = parse_content_range(resp.content_range);
    if (!out.range || out.range->first != r.first || out.range->last > r.last ||
        resp.body.size() != out.range->last - out.range->first + 1)
      out.error = Error(Errc::kFileOpen, r.label, "the server answered a range request with a Content-Range ('" +
                        resp.content_range + "') that does not match the bytes asked for or sent");
    out.body = resp.body;
  } else if (resp.status == 200) {
    out.body = resp.body;
  } else {
    out.error = status_error(r, resp);
  }
  return Next::kDone;
}

std::vector<FetchResult> RemoteFetcher::fetch(const std::vector<FetchRequest>& requests) {
  std::vector<FetchResult> out(requests.size());
  std::vector<std::string> url(requests.size());
  std::vector<int> attempt(requests.size(), 0), hops(requests.size(), 0);
  std::vector<size_t> pending;
  for (size_t i = 0; i < requests.size(); ++i) url[i] = requests[i].url, pending.push_back(i);
  while (!pending.empty()) {
    std::vector<HttpRequest> wire;
    for (size_t i : pending) wire.push_back(wire_request(requests[i], url[i]));
    std::vector<HttpResponse> resp = transport_.perform(wire);
    requests_ += wire.size();
    std::vector<size_t> again;
    double wait_s = 0;
    for (size_t k = 0; k < pending.size(); ++k) {
      const size_t i = pending[k];
      bytes_ += (resp[k].wire_bytes ? resp[k].wire_bytes : resp[k].body.size());
      switch (interpret(requests[i], resp[k], url[i], attempt[i], hops[i], out[i])) {
        case Next::kDone: break;
        case Next::kRedirect: again.push_back(i); break;
        case Next::kRetry: {
          double backoff = policy_.retry_base_s * static_cast<double>(1 << attempt[i]);
          if (!resp[k].retry_after.empty()) backoff = std::max(backoff, std::min(10.0, std::atof(resp[k].retry_after.c_str())));
          wait_s = std::max(wait_s, backoff);
          ++attempt[i];
          url[i] = requests[i].url;  // a signed redirect target may have expired: start over
          hops[i] = 0;
          again.push_back(i);
          break;
        }
      }
    }
    if (wait_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
    pending = std::move(again);
  }
  return out;
}

}  // namespace moeckpt
