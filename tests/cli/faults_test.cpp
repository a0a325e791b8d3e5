// Bad input and concurrent runs through the real binary: special files where a file should
// be, an input that shrinks under its mapping, workers started at once into one OUT, two
// conversions with different options into one OUT, a locked OUT. Each gives its documented
// exit code and one line naming the file, leaves nothing partial and never hangs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "cli/signals.h"
#include "loader/fault_registry.h"
#include "loader/mapped_file.h"
#include "loader/output_file.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using testing::run_moeckpt;
using testing::TempDir;

// Every command must answer within this; a hang is killed and fails the test (exit 137).
constexpr int kWatchdogMs = 60'000;

testing::RunResult run_guarded(const std::vector<std::string>& args) {
  testing::RunOptions o;
  o.kill_after_ms = kWatchdogMs;
  return testing::run_moeckpt_with(args, o);
}

std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().filename().string()] = testing::read_file(e.path());
  return out;
}

// One line on stderr, naming `what`.
void expect_one_line_naming(const testing::RunResult& r, const std::string& what) {
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A copy of a small transformers-written checkpoint, sharded by an index (2 shards).
fs::path sharded_copy(const TempDir& tmp) {
  fs::path src = tmp / "src";
  auto r = run_moeckpt({"convert", "testdata/fp8model/qwen3_moe_aligned_bf16", src.string(), "--max-shard-size", "2MB", "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return src;
}

void make_fifo(const fs::path& p) {
  fs::remove(p);
  ASSERT_EQ(::mkfifo(p.c_str(), 0644), 0) << p;
}

TEST(Faults, AFifoWhereAFileShouldBeIsRefusedAtOnce) {
  TempDir tmp;
  fs::path src = sharded_copy(tmp);
  struct Case {
    const char* file;
    const char* command;
    int exit_code;
  };
  // validate reports what it cannot read as findings (exit 1); the others stop (exit 3).
  const Case cases[] = {{"config.json", "inspect", 3},
                        {"config.json", "validate", 1},
                        {"model.safetensors.index.json", "inspect", 3},
                        {"model-00002-of-00002.safetensors", "inspect", 3},
                        {"model-00002-of-00002.safetensors", "validate", 1},
                        {"config.json", "convert", 3}};
  for (const auto& c : cases) {
    TempDir t;
    fs::copy(src, t / "ck");
    make_fifo(t / "ck" / c.file);
    std::vector<std::string> args = {c.command, (t / "ck").string()};
    if (std::string(c.command) == "convert") args.push_back((t / "out").string());
    auto r = run_guarded(args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.command << " " << c.file << ": " << r.err << r.out;
    EXPECT_NE((r.err + r.out).find(c.file), std::string::npos) << c.command << " " << c.file << ": " << r.err << r.out;
    EXPECT_NE((r.err + r.out).find("FIFO"), std::string::npos) << r.err << r.out;
    EXPECT_FALSE(fs::exists(t / "out" / "config.json"));
  }
}

TEST(Faults, ASocketOrADeviceIsNotACheckpointFile) {
  TempDir t;
  fs::path sock = t / "model.safetensors";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto r = run_guarded({"inspect", sock.string()});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  expect_one_line_naming(r, sock.string());
  auto d = run_guarded({"inspect", "/dev/zero"});
  EXPECT_EQ(d.exit_code, 3) << d.err;
}

// The handler itself, in a child process: a mapped file truncated under it, touched.
TEST(Faults, SigbusFromAShrunkMappingExits3NamingTheFileAndRemovesTemporaries) {
  TempDir t;
  testing::write_file(t / "in.bin", std::string(1 << 20, 'x'));
  fs::path temp = t / (std::string(kTempPrefix) + "model.safetensors");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int err = ::open((t / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    cli::install_fault_handler();
    MappedFile m = MappedFile::open(t / "in.bin", "ckpt/in.bin");
    OutputFile out(t.path(), "model.safetensors", 4096);
    if (::truncate((t / "in.bin").c_str(), 0) != 0) ::_exit(99);
    volatile char c = static_cast<const volatile char*>(static_cast<const void*>(m.bytes().data()))[8192];
    (void)c;
    ::_exit(98);  // not reached: the read faults
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  std::string err = testing::read_file(t / "err");
  EXPECT_NE(err.find("ckpt/in.bin"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(fs::exists(temp)) << "temporary left behind";
}

class Concurrent : public ::testing::Test {
 protected:
  void SetUp() override { src_ = sharded_copy(tmp_); }
  std::vector<std::string> args(const fs::path& out, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"convert", src_.string(), out.string(), "--max-shard-size", "1MB", "-q"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  TempDir tmp_;
  fs::path src_;
};

TEST_F(Concurrent, WorkersStartedAtOnceShareOutAndFinalizeToOneRun) {
  ASSERT_EQ(run_moeckpt(args(tmp_ / "one", {})).exit_code, 0);
  fs::path out = tmp_ / "split";
  for (int round = 0; round < 3; ++round) {  // a job array's tasks start in any order, at once
    fs::remove_all(out);
    std::vector<testing::RunResult> results(4);
    std::vector<std::thread> tasks;
    for (int i = 0; i < 4; ++i)
      tasks.emplace_back([&, i] { results[i] = run_moeckpt(args(out, {"--worker", std::to_string(i + 1) + "/4"})); });
    for (auto& th : tasks) th.join();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(results[i].exit_code, 0) << "worker " << i + 1 << ": " << results[i].err;
    auto f = run_moeckpt({"convert", "--finalize", out.string(), "-q"});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    EXPECT_EQ(snapshot(out), snapshot(tmp_ / "one")) << "round " << round;
  }
}

TEST_F(Concurrent, AWorkerWithOtherOptionsIsRefused) {
  fs::path out = tmp_ / "o";
  ASSERT_EQ(run_moeckpt(args(out, {"--cast", "f32", "--worker", "1/2"})).exit_code, 0);
  auto r = run_moeckpt(args(out, {"--cast", "f16", "--worker", "2/2"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  expect_one_line_naming(r, ".moeckpt-plan.json");
  // Options that change bytes but no header (saturation) count too.
  auto s = run_moeckpt(args(out, {"--cast", "f32", "--saturate", "--worker", "2/2"}));
  EXPECT_EQ(s.exit_code, 4) << s.err;
  // A different worker count is named as such.
  auto n = run_moeckpt(args(out, {"--cast", "f32", "--worker", "2/3"}));
  EXPECT_EQ(n.exit_code, 4) << n.err;
  EXPECT_NE(n.err.find("2 worker(s), not 3"), std::string::npos) << n.err;
}

TEST_F(Concurrent, ResumeWithOtherOptionsIsRefused) {
  fs::path out = tmp_ / "o";
  // An interrupted run: its first shard and its plan file are there.
  ASSERT_EQ(run_moeckpt(args(out, {"--cast", "f32", "--worker", "1/3"})).exit_code, 0);
  auto r = run_moeckpt(args(out, {"--cast", "f32", "--saturate", "--resume"}));
  EXPECT_EQ(r.exit_code, 4) << r.err;
  auto ok = run_moeckpt(args(out, {"--cast", "f32", "--resume"}));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_FALSE(fs::exists(out / ".moeckpt-plan.json"));
}

TEST_F(Concurrent, ALockedOutputIsRefusedNeverMixed) {
  fs::path out = tmp_ / "o";
  fs::create_directories(out);
  int fd = ::open(out.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  // Another single run holds OUT: both a single run and a worker are refused.
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  for (auto extra : {std::vector<std::string>{}, std::vector<std::string>{"--worker", "1/2"}}) {
    auto r = run_moeckpt(args(out, extra));
    EXPECT_EQ(r.exit_code, 4) << r.err;
    expect_one_line_naming(r, "another moeckpt convert");
  }
  EXPECT_TRUE(fs::is_empty(out));
  // Workers of a split hold it shared: another worker goes on, a single run is refused.
  ASSERT_EQ(::flock(fd, LOCK_SH), 0);
  EXPECT_EQ(run_moeckpt(args(out, {"--worker", "1/2"})).exit_code, 0);
  EXPECT_EQ(run_moeckpt(args(out, {"--resume"})).exit_code, 4);
  EXPECT_EQ(run_moeckpt({"convert", "--finalize", out.string(), "-q"}).exit_code, 4);
  ::close(fd);
  EXPECT_EQ(run_moeckpt(args(out, {"--worker", "2/2"})).exit_code, 0);
  EXPECT_EQ(run_moeckpt({"convert", "--finalize", out.string(), "-q"}).exit_code, 0);
}

TEST_F(Concurrent, TwoConversionsWithOtherOptionsAtOnceNeverGiveAMixedOutput) {
  ASSERT_EQ(run_moeckpt(args(tmp_ / "f32", {"--cast", "f32"})).exit_code, 0);
  ASSERT_EQ(run_moeckpt(args(tmp_ / "f16", {"--cast", "f16"})).exit_code, 0);
  for (int round = 0; round < 3; ++round) {
    fs::path out = tmp_ / ("both" + std::to_string(round));
    testing::RunResult a, b;
    std::thread ta([&] { a = run_moeckpt(args(out, {"--cast", "f32"})); });
    std::thread tb([&] { b = run_moeckpt(args(out, {"--cast", "f16"})); });
    ta.join();
    tb.join();
    EXPECT_TRUE(a.exit_code == 0 || a.exit_code == 4) << a.err;
    EXPECT_TRUE(b.exit_code == 0 || b.exit_code == 4) << b.err;
    EXPECT_FALSE(a.exit_code == 0 && b.exit_code == 0) << "both wrote OUT";
    if (a.exit_code == 0) {
      EXPECT_EQ(snapshot(out), snapshot(tmp_ / "f32"));
    }
    if (b.exit_code == 0) {
      EXPECT_EQ(snapshot(out), snapshot(tmp_ / "f16"));
    }
  }
}

}  // namespace
}  // namespace moeckpt
