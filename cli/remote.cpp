#include "cli/remote.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#include "cli/output.h"
#include "loader/remote_source.h"
#include "loader/remote_url.h"

namespace moeckpt::cli {
namespace {

// Counts what the command's requests brought in, over every URL it opens (diff opens two).
class CountingTransport : public HttpTransport {
 public:
  explicit CountingTransport(std::unique_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}
  std::vector<HttpResponse> perform(const std::vector<HttpRequest>& requests) override {
    auto out = inner_->perform(requests);
    requests_ += requests.size();
    for (const auto& r : out) bytes_ += (r.wire_bytes ? r.wire_bytes : r.body.size());
    note_network_use(bytes_, requests_);
    return out;
  }

 private:
  std::unique_ptr<HttpTransport> inner_;
  uint64_t bytes_ = 0, requests_ = 0;
};

// A line on stderr while a batch of requests takes more than a second, erased at its end.
std::function<void(const TransferProgress&)> progress_line() {
  auto shown = std::make_shared<bool>(false);
  return [shown](const TransferProgress& p) {
    if (p.final) {
      if (*shown) std::fputs("\r\x1b[K", stderr);
      *shown = false;
      return;
    }
    if (p.seconds < 1) return;
    std::fprintf(stderr, "\r\x1b[Kmoeckpt: reading over the network: %zu of %zu requests done, %s",
                 p.done, p.total, human_bytes(p.bytes).c_str());
    *shown = true;
  };
}

// The transport, made on the first URL (a local command never starts libcurl).
RemoteOptions with_transport(const Context& ctx) {
  RemoteOptions o = ctx.remote;
  if (!o.transport && !o.offline) {
    TransportOptions t = transport_options(o);
    if (ctx.stderr_is_tty && !ctx.quiet) t.progress = progress_line();
    o.transport = std::make_shared<CountingTransport>(make_curl_transport(t));
  }
  if (o.offline) note_network_use(0, 0);
  return o;
}

}  // namespace

void setup_remote(Context& ctx) {
  const std::string revision = ctx.remote.revision;
  const double timeout = ctx.remote.timeout_s;
  ctx.remote = remote_options_from_env([](const char* k) { return std::getenv(k); });
  ctx.remote.revision = revision;
  ctx.remote.timeout_s = timeout;
}

Checkpoint open_checkpoint(const Context& ctx, const std::string& path, OpenOptions options) {
  if (!is_remote_path(path)) return Checkpoint::open(path, options);
  const RemoteOptions remote = with_transport(ctx);
  options.remote = &remote;
  return Checkpoint::open(path, options);
}

Json open_config(const Context& ctx, const std::string& path) {
  if (!is_remote_path(path)) return read_config(path, path);
  RemoteSource src(path, with_transport(ctx));
  const std::string name = src.location().file.empty() ? "config.json" : src.location().file;
  auto got = src.read_small({name});
  if (!got[0]) throw Error(Errc::kFileOpen, src.label(name), "no such file on the server (HTTP 404)");
  return parse_config(*got[0], src.label(name));
}

}  // namespace moeckpt::cli
