// Checkpoint::open on a URL, over the fake server: the same model as the local open, from
// nothing but the headers and JSON files; the same errors for the same malformed files.
#include "loader/remote_source.h"

#include <gtest/gtest.h>

#include "fake_http.h"
#include "loader/checkpoint.h"
#include "malformed_cases.h"
#include "test_util.h"

namespace moeckpt {
namespace {

using testing::FakeHttp;
using testing::read_file;
using testing::testdata;
using testing::TempDir;

const std::string kBase = "http://h.example/m";

RemoteOptions options(std::shared_ptr<FakeHttp> http, const std::filesystem::path& cache = {}) {
  RemoteOptions o;
  o.transport = std::move(http);
  o.cache_dir = cache;
  o.retry_base_s = 0.001;
  return o;
}

std::shared_ptr<FakeHttp> serve_model(const std::string& name) {
  auto http = std::make_shared<FakeHttp>();
  for (const auto& f : std::filesystem::directory_iterator(testdata("models/" + name)))
    http->file(kBase + "/" + f.path().filename().string(), read_file(f.path()));
  return http;
}

TEST(RemoteSource, ACheckpointOverHttpIsTheLocalOne) {
  for (const char* model : {"mixtral", "deepseek_v3", "qwen3_moe"}) {
    auto http = serve_model(model);
    RemoteOptions o = options(http);
    OpenOptions oo;
    oo.remote = &o;
    Checkpoint r = Checkpoint::open(kBase, oo);
    Checkpoint l = Checkpoint::open(testdata("models/" + std::string(model)));
    ASSERT_EQ(r.tensors().size(), l.tensors().size()) << model;
    for (size_t i = 0; i < l.tensors().size(); ++i) {
      EXPECT_EQ(r.tensors()[i].name, l.tensors()[i].name);
      EXPECT_EQ(r.tensors()[i].dtype, l.tensors()[i].dtype);
      EXPECT_EQ(r.tensors()[i].shape, l.tensors()[i].shape);
      EXPECT_EQ(r.tensors()[i].offset, l.tensors()[i].offset);
    }
    EXPECT_EQ(r.config(), l.config());
    EXPECT_EQ(r.files()[0].bytes, l.files()[0].bytes);
    EXPECT_EQ(r.files()[0].header_bytes, l.files()[0].header_bytes);
    EXPECT_EQ(r.config_file(), kBase + "/config.json");
    // What came: config.json, the index probe (404), 8 bytes, the header. Nothing else.
    uint64_t ranged = 0;
    for (const auto& s : http->seen) {
      if (s.has_range) ranged += s.last - s.first + 1;
      EXPECT_TRUE(s.has_range || s.url.find(".json") != std::string::npos) << s.url;
    }
    EXPECT_EQ(ranged, l.files()[0].header_bytes) << model;
    // A tensor reads its own range only, and the same bytes.
    const TensorInfo& t = l.tensors().back();
    http->seen.clear();
    auto rb = r.bytes(*r.find(t.name));
    auto lb = l.bytes(t);
    EXPECT_TRUE(std::equal(rb.span().begin(), rb.span().end(), lb.span().begin(), lb.span().end()));
    ASSERT_EQ(http->seen.size(), 1u);
    EXPECT_EQ(http->seen[0].first, t.offset);
    EXPECT_EQ(http->seen[0].last - http->seen[0].first + 1, t.nbytes);
  }
}

TEST(RemoteSource, MalformedFilesFailAsTheyDoLocally) {
  for (const auto& c : testing::malformed_safetensors_cases()) {
    auto http = std::make_shared<FakeHttp>();
    http->file(kBase + "/x.safetensors", c.bytes);
    RemoteOptions o = options(http);
    OpenOptions oo;
    oo.remote = &o;
    try {
      Checkpoint::open(kBase + "/x.safetensors", oo);
      ADD_FAILURE() << c.name << " opened";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), c.code) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(kBase + "/x.safetensors"), std::string::npos) << e.what();
    }
  }
}

TEST(RemoteSource, IndexedShardsAllInFlightAtOnceAndAMissingShardNamed) {
  auto http = std::make_shared<FakeHttp>();
  auto shard = [](const std::string& name) {
    return testing::safetensors_bytes(R"({")" + name + R"(":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", "abcd");
  };
  std::string index = R"({"weight_map":{)";
  for (int i = 0; i < 20; ++i) {
    std::string f = "s" + std::to_string(i) + ".safetensors";
    if (i != 13) http->file(kBase + "/" + f, shard("t" + std::to_string(i)));
    index += std::string(i ? "," : "") + "\"t" + std::to_string(i) + "\":\"" + f + "\"";
  }
  index += "}}";
  http->file(kBase + "/model.safetensors.index.json", index);
  RemoteOptions o = options(http);
  OpenOptions oo;
  oo.remote = &o;
  oo.collect_problems = true;
  Checkpoint c = Checkpoint::open(kBase + "/", oo);
  EXPECT_EQ(c.tensors().size(), 19u);
  ASSERT_EQ(c.problems().size(), 1u);
  EXPECT_EQ(c.problems()[0].code(), Errc::kIndexMissingShard);
  EXPECT_NE(std::string(c.problems()[0].what()).find("s13.safetensors"), std::string::npos);
  EXPECT_EQ(http->batches, 3);  // the JSON files, then every shard's 8 bytes, then every header
}

TEST(RemoteSource, TheCacheAnswersASecondOpenAndOfflineOneWithoutRequests) {
  TempDir cache;
  auto http = serve_model("mixtral");
  RemoteOptions o = options(http, cache.path());
  OpenOptions oo;
  oo.remote = &o;
  Checkpoint first = Checkpoint::open(kBase, oo);
  http->seen.clear();
  Checkpoint again = Checkpoint::open(kBase, oo);  // revalidated: 304s, no bytes
  EXPECT_EQ(again.tensors().size(), first.tensors().size());
  for (const auto& s : http->seen) EXPECT_FALSE(s.has_range && s.first > 0) << s.url;

  RemoteOptions off = options(nullptr, cache.path());
  off.offline = true;
  oo.remote = &off;
  Checkpoint offline = Checkpoint::open(kBase, oo);
  EXPECT_EQ(offline.tensors().size(), first.tensors().size());
  EXPECT_EQ(offline.config(), first.config());
  // A changed file (new ETag) is read again.
  http->file(kBase + "/model.safetensors", read_file(testdata("models/deepseek_v3/model.safetensors")), "\"e2\"");
  oo.remote = &o;
  Checkpoint changed = Checkpoint::open(kBase, oo);
  EXPECT_EQ(changed.tensors().size(), Checkpoint::open(testdata("models/deepseek_v3")).tensors().size());
  // Offline with nothing cached: one line naming the file.
  TempDir empty;
  RemoteOptions off2 = options(nullptr, empty.path());
  off2.offline = true;
  oo.remote = &off2;
  try {
    Checkpoint::open(kBase, oo);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE=1"), std::string::npos) << e.what();
  }
}

TEST(RemoteSource, AFileThatChangesBetweenTheTwoReadsIsRefused) {
  auto http = std::make_shared<FakeHttp>();
  const std::string url = kBase + "/model.safetensors";
  const std::string bytes = read_file(testdata("models/mixtral/model.safetensors"));
  http->file(url, bytes, "\"v1\"");
  http->on(url, [&, calls = 0](const HttpRequest&) mutable -> std::optional<HttpResponse> {
    if (++calls == 2) http->file(url, bytes, "\"v2\"");  // replaced after the 8 bytes
    return std::nullopt;
  });
  RemoteOptions o = options(http);
  OpenOptions oo;
  oo.remote = &o;
  try {
    Checkpoint::open(url, oo);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kTruncated);
    EXPECT_NE(std::string(e.what()).find("changed on the server"), std::string::npos) << e.what();
  }
}

TEST(RemoteSource, UrlsAreRefusedWhereNoRemoteOptionsAreGiven) {
  try {
    Checkpoint::open("https://h.example/m");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnsupported);
  }
}

TEST(RemoteSource, TokenFromTheEnvironmentOrTheHubsTokenFile) {
  TempDir home;
  std::filesystem::create_directories(home / "hf");
  testing::write_file(home / "hf/token", "hf_file_token\n");
  std::map<std::string, std::string> env = {{"HF_HOME", (home / "hf").string()}, {"HF_HUB_OFFLINE", "1"}};
  auto get = [&](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  RemoteOptions o = remote_options_from_env(get);
  EXPECT_EQ(o.token, "hf_file_token");
  EXPECT_TRUE(o.offline);
  EXPECT_EQ(o.cache_dir, std::filesystem::path());
  env["HF_TOKEN"] = "hf_env";
  env["XDG_CACHE_HOME"] = "/c";
  o = remote_options_from_env(get);
  EXPECT_EQ(o.token, "hf_env");
  EXPECT_EQ(o.cache_dir, std::filesystem::path("/c/moeckpt"));
}

}  // namespace
}  // namespace moeckpt
