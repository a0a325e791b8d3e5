#include "loader/remote_url.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

TEST(RemoteUrl, HubPathsResolveAsTheHubDoes) {
  auto l = parse_remote_path("hf://deepseek-ai/DeepSeek-V3", "", "");
  EXPECT_EQ(l.base, "https://huggingface.co/deepseek-ai/DeepSeek-V3/resolve/main/");
  EXPECT_EQ(l.file, "");
  EXPECT_TRUE(l.hub);
  EXPECT_EQ(l.repo, "deepseek-ai/DeepSeek-V3");
  EXPECT_EQ(l.revision, "main");
  EXPECT_EQ(l.token_origin, "https://huggingface.co:443");

  auto r = parse_remote_path("hf://org/repo@v1.0/sub/model.safetensors.index.json", "http://127.0.0.1:8080/hub/", "");
  EXPECT_EQ(r.base, "http://127.0.0.1:8080/hub/org/repo/resolve/v1.0/sub/");
  EXPECT_EQ(r.file, "model.safetensors.index.json");
  EXPECT_EQ(r.revision, "v1.0");
  EXPECT_EQ(r.token_origin, "http://127.0.0.1:8080");

  // --revision wins over @REVISION.
  EXPECT_EQ(parse_remote_path("hf://org/repo@v1", "", "abc").revision, "abc");
  EXPECT_EQ(parse_remote_path("hf://org/repo/a/b", "", "").base, "https://huggingface.co/org/repo/resolve/main/a/b/");
}

TEST(RemoteUrl, MalformedHubPathsAreUsageErrors) {
  for (const char* p : {"hf://org", "hf://org/", "hf:///repo", "hf://org/..", "hf://org/repo@", "hf://org/repo@/x",
                        "hf://org/repo/../x", "hf://o g/r", "hf://org/repo/a b"}) {
    try {
      parse_remote_path(p, "", "");
      ADD_FAILURE() << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage) << p;
    }
  }
  EXPECT_THROW(parse_remote_path("hf://org/repo", "ftp://mirror", ""), Error);
  EXPECT_THROW(parse_remote_path("https://host/dir?x=1", "", ""), Error);
  EXPECT_THROW(parse_remote_path("https://user@host/dir", "", ""), Error);
}

TEST(RemoteUrl, PlainUrlsGetATokenOnlyOnTheHubsOrigin) {
  auto d = parse_remote_path("https://example.org/models/m", "", "");
  EXPECT_EQ(d.base, "https://example.org/models/m/");
  EXPECT_EQ(d.token_origin, "");
  EXPECT_FALSE(d.hub);
  auto f = parse_remote_path("https://huggingface.co/o/r/resolve/main/model.safetensors", "", "");
  EXPECT_EQ(f.base, "https://huggingface.co/o/r/resolve/main/");
  EXPECT_EQ(f.file, "model.safetensors");
  EXPECT_EQ(f.token_origin, "https://huggingface.co:443");
}

TEST(RemoteUrl, RedirectsResolveAndOnlyHttpIsFollowed) {
  const std::string from = "https://hub.example/o/r/resolve/main/a.safetensors";
  EXPECT_EQ(resolve_redirect(from, "https://cdn.example/x?sig=1"), "https://cdn.example/x?sig=1");
  EXPECT_EQ(resolve_redirect(from, "//cdn.example/x"), "https://cdn.example/x");
  EXPECT_EQ(resolve_redirect(from, "/api/x"), "https://hub.example/api/x");
  EXPECT_EQ(resolve_redirect(from, "b.safetensors"), "https://hub.example/o/r/resolve/main/b.safetensors");
  EXPECT_EQ(resolve_redirect("http://h:8080/a/b?q=/x", "c"), "http://h:8080/a/c");
  for (const char* bad : {"file:///etc/passwd", "ftp://h/x", "", "gopher://h", "https://h/a b", "https://", "https://u@h/"})
    EXPECT_FALSE(resolve_redirect(from, bad)) << bad;
  EXPECT_FALSE(resolve_redirect("file:///x", "/y"));
}

TEST(RemoteUrl, TokenGoesToTheSameOriginOnly) {
  const std::string hub = url_origin("https://huggingface.co");
  EXPECT_EQ(hub, "https://huggingface.co:443");
  EXPECT_TRUE(may_send_token("https://huggingface.co/o/r", hub));
  EXPECT_TRUE(may_send_token("https://HuggingFace.co:443/o/r", hub));
  EXPECT_FALSE(may_send_token("http://huggingface.co/o/r", hub));
  EXPECT_FALSE(may_send_token("https://huggingface.co:8443/o/r", hub));
  EXPECT_FALSE(may_send_token("https://cdn-lfs.huggingface.co/x", hub));
  EXPECT_FALSE(may_send_token("https://huggingface.co.evil.example/x", hub));
  EXPECT_FALSE(may_send_token("https://huggingface.co/x", ""));
}

TEST(RemoteUrl, ContentRange) {
  auto r = parse_content_range("bytes 0-7/188032");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 7u);
  EXPECT_EQ(r->total, 188032u);
  EXPECT_TRUE(parse_content_range("Bytes 8-9/10\r\n"));
  for (const char* bad : {"bytes */100", "bytes 5-4/10", "bytes 0-10/10", "bytes 0-1", "0-1/2", "bytes 0-1/2x",
                          "bytes -1-2/3", "bytes 0-1/99999999999999999999999", "", "bytes 1-1/"})
    EXPECT_FALSE(parse_content_range(bad)) << bad;
}

TEST(RemoteUrl, IsRemotePath) {
  EXPECT_TRUE(is_remote_path("hf://a/b"));
  EXPECT_TRUE(is_remote_path("HTTPS://a/b"));
  EXPECT_TRUE(is_remote_path("http://a"));
  EXPECT_FALSE(is_remote_path("testdata/models/mixtral"));
  EXPECT_FALSE(is_remote_path("file:///x"));
  EXPECT_FALSE(is_remote_path("hf:/a"));
}

}  // namespace
}  // namespace moeckpt
