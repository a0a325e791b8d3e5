// The HTTP-facing parsing of remote checkpoints. The first byte picks what the rest is:
//  0: a Content-Range value: when accepted, first <= last < total;
//  1: "FROM\nLOCATION": a redirect; when followed, the target is http(s), and a token meant for
//     FROM's origin goes along only when the target has that same origin;
//  2: a header-cache file: when accepted, encoding it again decodes to the same entry;
//  3: a file a server answers range requests from (its Content-Range line and body computed
//     honestly, its bytes the fuzzer's): Checkpoint::open on its URL opens or throws Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "loader/header_cache.h"
#include "loader/http_transport.h"
#include "loader/remote_url.h"

namespace {

using namespace moeckpt;

class OneFile : public HttpTransport {
 public:
  explicit OneFile(std::string_view bytes) : bytes_(bytes) {}
  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests) override {
    std::vector<HttpResponse> out;
    for (const auto& r : requests) {
      HttpResponse resp;
      if (r.url.find(".json") != std::string::npos || !r.has_range || r.range_first >= bytes_.size()) {
        resp.status = r.url.find(".json") != std::string::npos ? 404 : 416;
      } else {
        uint64_t last = std::min<uint64_t>(r.range_last, bytes_.size() - 1);
        resp.status = 206;
        resp.etag = "\"x\"";
        resp.content_range = "bytes " + std::to_string(r.range_first) + "-" + std::to_string(last) + "/" + std::to_string(bytes_.size());
        auto p = reinterpret_cast<const std::byte*>(bytes_.data());
        resp.body.assign(p + r.range_first, p + last + 1);
      }
      out.push_back(std::move(resp));
    }
    return out;
  }

 private:
  std::string_view bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 4;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 0) {
    if (auto r = parse_content_range(in); r && (r->first > r->last || r->last >= r->total)) __builtin_trap();
  } else if (mode == 1) {
    size_t nl = in.find('\n');
    std::string_view from = in.substr(0, nl), loc = nl == in.npos ? std::string_view() : in.substr(nl + 1);
    if (auto to = resolve_redirect(from, loc)) {
      auto u = split_url(*to);
      if (!u || (u->scheme != "http" && u->scheme != "https")) __builtin_trap();
      const std::string origin = url_origin(from);
      if (may_send_token(*to, origin) && url_origin(*to) != origin) __builtin_trap();
    }
  } else if (mode == 2) {
    if (auto e = decode_cache_entry(in)) {
      auto again = decode_cache_entry(encode_cache_entry(*e));
      if (!again || again->url != e->url || again->etag != e->etag || again->size != e->size || again->bytes != e->bytes)
        __builtin_trap();
    }
  } else {
    RemoteOptions o;
    o.transport = std::make_shared<OneFile>(in);
    o.attempts = 1;
    OpenOptions oo;
    oo.remote = &o;
    oo.threads = 1;
    try {
      Checkpoint c = Checkpoint::open("http://fuzz.example/m/x.safetensors", oo);
      for (const auto& t : c.tensors())
        if (t.offset + t.nbytes > in.size()) __builtin_trap();
    } catch (const Error&) {
    }
  }
  return 0;
}
