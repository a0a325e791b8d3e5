// Remote checkpoint locations and the small pieces of HTTP a remote read parses: what a
// URL names (hf://ORG/REPO[@REVISION][/SUBDIR], http://, https://), a redirect's Location,
// a 206 answer's Content-Range. Pure functions of their text: no I/O, fuzzed
// (fuzz/http_parse_fuzz.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moeckpt {

// True for a PATH moeckpt reads over the network (hf://, http://, https://).
bool is_remote_path(std::string_view path);

struct RemoteLocation {
  std::string base;       // directory URL, ends with '/': files are base + name
  std::string file;       // the file the URL names ("" = a directory)
  std::string token_origin;  // "scheme://host:port" a bearer token may go to ("" = none: not the hub)
  bool hub = false;       // hf:// (404s then name repository, revision or file)
  std::string repo;       // ORG/REPO (hub only)
  std::string revision;   // (hub only)
};

// Parses PATH. endpoint is HF_ENDPOINT (default https://huggingface.co); revision, when not
// empty, is --revision and overrides @REVISION. Throws Error(kUsage) for a malformed URL.
RemoteLocation parse_remote_path(std::string_view path, std::string_view endpoint, std::string_view revision);

struct UrlParts {
  std::string scheme;  // lower case
  std::string host;    // lower case, without port
  std::string port;    // "" when not given
  std::string path;    // from the first '/' after the authority (query included), "/" when none
};
// Splits an absolute http(s) URL. nullopt when it is not one (another scheme, no host, a
// userinfo part, spaces or control characters).
std::optional<UrlParts> split_url(std::string_view url);

// The URL a redirect goes to: Location resolved against the URL that answered (absolute,
// scheme-relative "//host/p", absolute-path "/p" or relative "p"). nullopt when the result is
// not an http(s) URL (file://, ftp://, empty, control characters): such redirects are refused.
std::optional<std::string> resolve_redirect(std::string_view from, std::string_view location);

// "scheme://host:port" of an http(s) URL, the port spelled out (80, 443); "" for anything else.
std::string url_origin(std::string_view url);
// True when a bearer token for token_origin may be sent to url: the same scheme, host and port
// (a redirect to another host or port, the hub's CDN, gets none).
bool may_send_token(std::string_view url, std::string_view token_origin);

struct ContentRange {
  uint64_t first = 0, last = 0;  // inclusive
  uint64_t total = 0;            // the whole file's size
};
// "bytes FIRST-LAST/TOTAL" (RFC 9110 14.4); nullopt for anything else, including "*" totals,
// LAST < FIRST, LAST >= TOTAL and numbers past 2^63.
std::optional<ContentRange> parse_content_range(std::string_view value);

}  // namespace moeckpt
