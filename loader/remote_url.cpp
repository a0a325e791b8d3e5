#include "loader/remote_url.h"

#include <cctype>
#include <tuple>

#include "loader/error.h"

namespace moeckpt {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool clean(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

// A file name the URL ends in, rather than a directory.
bool names_file(std::string_view path) {
  std::string_view last = path.substr(path.rfind('/') + 1);
  return ends_with(last, ".json") || ends_with(last, ".safetensors");
}

// "a/b/c.json" -> {"a/b/", "c.json"}; "a/b" -> {"a/b/", ""}.
std::pair<std::string, std::string> split_dir_file(std::string url) {
  if (names_file(url)) {
    size_t slash = url.rfind('/');
    return {url.substr(0, slash + 1), url.substr(slash + 1)};
  }
  if (url.empty() || url.back() != '/') url.push_back('/');
  return {url, ""};
}

bool valid_segment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

RemoteLocation parse_hub(std::string_view path, std::string_view endpoint, std::string_view revision) {
  std::string_view rest = path.substr(5);  // after "hf://"
  auto bad = [&](const std::string& why) {
    return Error(Errc::kUsage, std::string(path), why + " (expected hf://ORG/REPO[@REVISION][/SUBDIR])");
  };
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) throw bad("no repository name");
  std::string org(rest.substr(0, slash));
  rest.remove_prefix(slash + 1);
  size_t end = rest.find_first_of("@/");
  std::string repo(rest.substr(0, end));
  if (!valid_segment(org) || !valid_segment(repo)) throw bad("organisation and repository are letters, digits, '-', '_', '.'");
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  std::string rev = "main";
  if (!rest.empty() && rest.front() == '@') {
    size_t e = rest.find('/');
    rev = std::string(rest.substr(1, e == std::string_view::npos ? std::string_view::npos : e - 1));
    if (rev.empty()) throw bad("empty revision after '@'");
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
  }
  if (!revision.empty()) rev = std::string(revision);
  std::string sub(rest.empty() ? std::string_view() : rest.substr(1));
  for (size_t p = 0; p < sub.size();) {
    size_t q = sub.find('/', p);
    std::string_view seg = std::string_view(sub).substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (!seg.empty() && !valid_segment(seg)) throw bad("'" + std::string(seg) + "' is not a plain path segment");
    p = q == std::string::npos ? sub.size() : q + 1;
  }
  if (!clean(rev) || rev.find('/') != std::string::npos) throw bad("revision '" + rev + "' is not a plain name");
  auto ep = split_url(endpoint);
  if (!ep) throw Error(Errc::kUsage, std::string(endpoint), "HF_ENDPOINT is not an http(s) URL");
  std::string root(endpoint);
  while (!root.empty() && root.back() == '/') root.pop_back();
  RemoteLocation loc;
  std::tie(loc.base, loc.file) = split_dir_file(root + "/" + org + "/" + repo + "/resolve/" + rev + "/" + sub);
  loc.token_origin = url_origin(endpoint);
  loc.hub = true;
  loc.repo = org + "/" + repo;
  loc.revision = rev;
  return loc;
}

}  // namespace

bool is_remote_path(std::string_view path) {
  return starts_with_ci(path, "hf://") || starts_with_ci(path, "http://") || starts_with_ci(path, "https://");
}

std::optional<UrlParts> split_url(std::string_view url) {
  if (!clean(url)) return std::nullopt;
  size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  UrlParts u;
  u.scheme = lower(url.substr(0, colon));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(colon + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.path.empty() && u.path.front() != '/') u.path.insert(u.path.begin(), '/');
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  if (host.front() == '[') {  // IPv6 literal
    size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    u.port = after.empty() ? "" : std::string(after.substr(1));
    host = host.substr(0, close + 1);
  } else if (size_t c = host.rfind(':'); c != std::string_view::npos) {
    u.port = std::string(host.substr(c + 1));
    host = host.substr(0, c);
  }
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  if (host.empty() || u.port.size() > 5) return std::nullopt;
  u.host = lower(host);
  return u;
}

std::optional<std::string> resolve_redirect(std::string_view from, std::string_view location) {
  auto base = split_url(from);
  if (!base || location.empty() || !clean(location)) return std::nullopt;
  std::string target;
  if (location.find("://") != std::string_view::npos &&
      location.find("://") < location.find_first_of("/?#")) {
    target = std::string(location);
  } else if (location.size() >= 2 && location.substr(0, 2) == "//") {
    target = base->scheme + ":" + std::string(location);
  } else {
    std::string origin = base->scheme + "://" +
                         std::string(from.substr(from.find("://") + 3, from.substr(from.find("://") + 3).find_first_of("/?#")));
    if (location.front() == '/') {
      target = origin + std::string(location);
    } else {
      std::string dir = base->path.substr(0, base->path.find_first_of("?#"));
      dir = dir.substr(0, dir.rfind('/') + 1);
      target = origin + dir + std::string(location);
    }
  }
  if (!split_url(target)) return std::nullopt;
  return target;
}

std::string url_origin(std::string_view url) {
  auto u = split_url(url);
  if (!u) return {};
  std::string port = u->port.empty() ? (u->scheme == "https" ? "443" : "80") : u->port;
  while (port.size() > 1 && port.front() == '0') port.erase(port.begin());
  return u->scheme + "://" + u->host + ":" + port;
}

bool may_send_token(std::string_view url, std::string_view token_origin) {
  return !token_origin.empty() && url_origin(url) == token_origin;
}

std::optional<ContentRange> parse_content_range(std::string_view v) {
  auto number = [&](std::string_view& s, uint64_t& out) {
    size_t i = 0;
    out = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (out > (uint64_t{1} << 62) / 10) return false;
      out = out * 10 + static_cast<uint64_t>(s[i] - '0');
      ++i;
    }
    if (i == 0) return false;
    s.remove_prefix(i);
    return true;
  };
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  if (!starts_with_ci(v, "bytes ")) return std::nullopt;
  v.remove_prefix(6);
  ContentRange r;
  if (!number(v, r.first) || v.empty() || v.front() != '-') return std::nullopt;
  v.remove_prefix(1);
  if (!number(v, r.last) || v.empty() || v.front() != '/') return std::nullopt;
  v.remove_prefix(1);
  if (!number(v, r.total) || !v.empty()) return std::nullopt;
  if (r.last < r.first || r.last >= r.total) return std::nullopt;
  return r;
}

RemoteLocation parse_remote_path(std::string_view path, std::string_view endpoint, std::string_view revision) {
  if (starts_with_ci(path, "hf://")) return parse_hub(path, endpoint.empty() ? "https://huggingface.co" : endpoint, revision);
  auto u = split_url(path);
  if (!u) throw Error(Errc::kUsage, std::string(path), "not an http(s) URL moeckpt can read");
  if (u->path.find_first_of("?#") != std::string::npos)
    throw Error(Errc::kUsage, std::string(path), "a checkpoint URL has no query or fragment");
  RemoteLocation loc;
  std::tie(loc.base, loc.file) = split_dir_file(std::string(path));
  // A token goes to the hub's own host only: a plain URL gets one when it is on that host.
  const std::string hub = url_origin(endpoint.empty() ? "https://huggingface.co" : endpoint);
  if (url_origin(path) == hub) loc.token_origin = hub;
  return loc;
}

}  // namespace moeckpt
