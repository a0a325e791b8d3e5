#include "loader/remote_fetch.h"

#include <gtest/gtest.h>

#include "fake_http.h"

namespace moeckpt {
namespace {

using testing::FakeHttp;

FetchPolicy hub_policy() {
  FetchPolicy p;
  p.token = "hf_secret";
  p.token_origin = "https://hub.example:443";
  p.hub = true;
  p.repo = "o/r";
  p.revision = "main";
  p.retry_base_s = 0.001;
  return p;
}

FetchRequest get(const std::string& url) {
  FetchRequest r;
  r.url = url;
  r.label = url;
  r.name = url.substr(url.rfind('/') + 1);
  return r;
}

TEST(RemoteFetch, TokenGoesToTheHubAndNotToTheRedirectsOtherHost) {
  FakeHttp http;
  http.redirect("https://hub.example/o/r/resolve/main/a.safetensors", "https://cdn.example/blob?sig=1");
  http.file("https://cdn.example/blob?sig=1", "12345678");
  RemoteFetcher f(http, hub_policy());
  auto res = f.fetch({get("https://hub.example/o/r/resolve/main/a.safetensors")});
  ASSERT_FALSE(res[0].error) << res[0].error->what();
  EXPECT_EQ(res[0].final_url, "https://cdn.example/blob?sig=1");
  ASSERT_EQ(http.seen.size(), 2u);
  EXPECT_EQ(http.seen[0].bearer, "hf_secret");
  EXPECT_EQ(http.seen[1].bearer, "");
}

TEST(RemoteFetch, NoTokenToAnotherPortOrSchemeOrAfterABounceBack) {
  FakeHttp http;
  http.redirect("https://hub.example/a", "http://hub.example/b");
  http.redirect("http://hub.example/b", "https://hub.example:8443/c");
  http.redirect("https://hub.example:8443/c", "https://hub.example/d");
  http.file("https://hub.example/d", "x");
  RemoteFetcher f(http, hub_policy());
  auto res = f.fetch({get("https://hub.example/a")});
  ASSERT_FALSE(res[0].error);
  ASSERT_EQ(http.seen.size(), 4u);
  EXPECT_EQ(http.seen[0].bearer, "hf_secret");
  EXPECT_EQ(http.seen[1].bearer, "");
  EXPECT_EQ(http.seen[2].bearer, "");
  EXPECT_EQ(http.seen[3].bearer, "hf_secret");  // the hub's own origin again
}

TEST(RemoteFetch, RedirectsToOtherSchemesAndLoopsAreRefused) {
  FakeHttp http;
  http.redirect("https://hub.example/a", "file:///etc/passwd");
  http.redirect("https://hub.example/loop", "https://hub.example/loop");
  RemoteFetcher f(http, hub_policy());
  auto res = f.fetch({get("https://hub.example/a"), get("https://hub.example/loop")});
  ASSERT_TRUE(res[0].error);
  EXPECT_NE(std::string(res[0].error->what()).find("only http and https"), std::string::npos);
  ASSERT_TRUE(res[1].error);
  EXPECT_NE(std::string(res[1].error->what()).find("more than 10 redirects"), std::string::npos);
}

TEST(RemoteFetch, BusyServersAreRetriedThenReported) {
  FakeHttp http;
  int calls = 0;
  http.on("https://hub.example/flaky", [&](const HttpRequest&) -> std::optional<HttpResponse> {
    if (++calls > 2) return std::nullopt;
    HttpResponse r;
    r.status = calls == 1 ? 503 : 429;
    return r;
  });
  http.file("https://hub.example/flaky", "ok");
  http.on("https://hub.example/down", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 502;
    return std::optional<HttpResponse>(r);
  });
  http.on("https://hub.example/drops", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 206;
    r.error = "Transferred a partial file";
    return std::optional<HttpResponse>(r);
  });
  RemoteFetcher f(http, hub_policy());
  auto res = f.fetch({get("https://hub.example/flaky"), get("https://hub.example/down"), get("https://hub.example/drops")});
  EXPECT_FALSE(res[0].error);
  EXPECT_EQ(res[0].body.size(), 2u);
  ASSERT_TRUE(res[1].error);
  EXPECT_NE(std::string(res[1].error->what()).find("HTTP 502 (after 4 attempts)"), std::string::npos);
  ASSERT_TRUE(res[2].error);
  EXPECT_NE(std::string(res[2].error->what()).find("broke mid-transfer"), std::string::npos);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(res[1].error->code(), Errc::kFileOpen);
}

TEST(RemoteFetch, StatusLinesSayWhatToDo) {
  FakeHttp http;
  http.on("https://hub.example/gated", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 401;
    return std::optional<HttpResponse>(r);
  });
  http.on("https://hub.example/norev", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 404;
    r.error_code = "RevisionNotFound";
    return std::optional<HttpResponse>(r);
  });
  RemoteFetcher f(http, hub_policy());
  auto res = f.fetch({get("https://hub.example/gated"), get("https://hub.example/norev"), get("https://hub.example/nofile")});
  EXPECT_NE(std::string(res[0].error->what()).find("gated or private: set HF_TOKEN"), std::string::npos);
  EXPECT_NE(std::string(res[1].error->what()).find("no revision 'main' in o/r"), std::string::npos);
  EXPECT_NE(std::string(res[2].error->what()).find("no file 'nofile' in o/r"), std::string::npos);
  FetchRequest probe = get("https://hub.example/nofile");
  probe.missing_ok = true;
  auto p = f.fetch({probe});
  EXPECT_FALSE(p[0].error);
  EXPECT_TRUE(p[0].missing);
}

TEST(RemoteFetch, AServerIgnoringRangeIsRefusedAndALyingRangeToo) {
  FakeHttp http;
  http.file("https://h.example/big", std::string(100000, 'x'));
  http.on("https://h.example/lies", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 206;
    r.content_range = "bytes 0-7/100";
    r.body.resize(3);
    return std::optional<HttpResponse>(r);
  });
  http.ignore_range = true;
  RemoteFetcher f(http, hub_policy());
  FetchRequest a = get("https://h.example/big");
  a.has_range = true;
  a.last = 7;
  a.max_body = 1000;
  FetchRequest b = a;
  b.url = "https://h.example/lies";
  auto res = f.fetch({a, b});
  ASSERT_TRUE(res[0].error);
  EXPECT_NE(std::string(res[0].error->what()).find("ignores byte ranges"), std::string::npos);
  ASSERT_TRUE(res[1].error);
  EXPECT_NE(std::string(res[1].error->what()).find("Content-Range"), std::string::npos);
  EXPECT_EQ(f.bytes_received(), 1003u);
}

}  // namespace
}  // namespace moeckpt
