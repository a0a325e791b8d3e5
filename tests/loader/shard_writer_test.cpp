// The shard writer driven with fake producers and a fake progress sink, the way ninja tests
// its Builder with a fake command runner: what lands in OUT, resume, worker shares and their
// finalize step, a stop request, a failing producer, and OUT's checks.
#include "loader/shard_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <set>

#include "loader/error.h"
#include "loader/output_file.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

using testing::TempDir;

// Byte i of tensor `seed` is (seed * 31 + i) mod 251; fails at row fail_at when set; calls
// `hook` before producing (to request a stop, say).
class FakeProducer final : public TensorProducer {
 public:
  FakeProducer(uint64_t rows, uint64_t row_bytes, unsigned seed) : rows_(rows), rb_(row_bytes), seed_(seed) {}
  uint64_t rows() const override { return rows_; }
  uint64_t row_bytes() const override { return rb_; }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    if (hook) hook();
    calls.fetch_add(1);
    if (fail_at >= r0 && fail_at < r1) throw Error(Errc::kTruncated, "fake.safetensors", "input shrank", "fake");
    for (uint64_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((seed_ * 31 + r0 * rb_ + i) % 251);
  }
  std::string describe() const override { return "fake"; }
  std::vector<const TensorInfo*> inputs() const override { return {}; }

  uint64_t fail_at = UINT64_MAX;
  std::function<void()> hook;
  mutable std::atomic<int> calls{0};

 private:
  uint64_t rows_, rb_;
  unsigned seed_;
};

std::string expected_bytes(unsigned seed, uint64_t n) {
  std::string s(n, '\0');
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>((seed * 31 + i) % 251);
  return s;
}

class FakeProgress final : public ProgressSink {
 public:
  void start(const std::string& l, uint64_t total) override {
    label = l;
    total_bytes = total;
    ++starts;
  }
  void add(uint64_t bytes) override { added.fetch_add(bytes); }
  void finish() override { ++finishes; }
  std::string label;
  uint64_t total_bytes = 0;
  std::atomic<uint64_t> added{0};
  int starts = 0, finishes = 0;
};

// A one-tensor input checkpoint (the writer needs one for OUT's checks and in-kernel copies;
// fake producers never read it).
struct Input {
  TempDir dir;
  Checkpoint ck;
  Input() : ck(make(dir)) {}
  static Checkpoint make(const TempDir& d) {
    testing::write_file(d / "model.safetensors",
                        testing::safetensors_bytes(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"));
    testing::write_file(d / "tokenizer.json", R"({"t": 1})");
    return Checkpoint::open(d.path().string());
  }
};

// Four tensors of 3000 bytes (rows of 100) in shards of at most 6000 bytes: two shards.
struct Plan {
  std::vector<std::shared_ptr<FakeProducer>> producers;
  WritePlan plan;
  explicit Plan(const Checkpoint& in) {
    for (unsigned i = 0; i < 4; ++i) {
      auto p = std::make_shared<FakeProducer>(30, 100, i);
      producers.push_back(p);
      std::string name = "t" + std::to_string(i);
      plan.tensors.push_back({WriterTensor{name, DType::kU8, {3000}, 3000}, name, p});
    }
    assign_shards(plan, 6000, {{"format", "pt"}});
    plan.config = Json{{"model_type", "toy"}};
    plan.copies = sidecar_files(in);
  }
};

// Options for worker 1 of `count` writing into out/o.
WriterOptions split_into(const TempDir& out, unsigned count) {
  WriterOptions w;
  w.output = out / "o";
  w.worker_count = count;
  return w;
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// Every shard holds its header and each tensor's bytes at its offset.
void expect_shards_written(const fs::path& out, const WritePlan& plan) {
  for (const auto& s : plan.shards) {
    std::string file = testing::read_file(out / s.name);
    ASSERT_EQ(file.size(), s.layout.file_size) << s.name;
    EXPECT_EQ(file.substr(0, s.layout.head.size()), s.layout.head) << s.name;
    for (size_t j = 0; j < s.tensors.size(); ++j) {
      const size_t t = s.tensors[j];
      EXPECT_EQ(file.substr(s.layout.offsets[j], 3000), expected_bytes(static_cast<unsigned>(t), 3000)) << s.name << " " << t;
    }
  }
}

TEST(ShardWriter, WritesEveryShardThenIndexSidecarsAndConfig) {
  Input in;
  Plan p(in.ck);
  ASSERT_EQ(p.plan.shards.size(), 2u);
  TempDir out;
  FakeProgress progress;
  WriterOptions o;
  o.output = out / "o";
  o.threads = 3;
  WriteReport r = write_plan(in.ck, p.plan, o, &progress);
  EXPECT_EQ(r.shards_written, 2u);
  EXPECT_EQ(r.shards_kept, 0u);
  EXPECT_TRUE(r.finalized);
  expect_shards_written(o.output, p.plan);
  EXPECT_EQ(entries(o.output), (std::set<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                                      "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                                      "tokenizer.json"}));
  EXPECT_EQ(testing::read_file(o.output / "tokenizer.json"), R"({"t": 1})");
  EXPECT_EQ(Json::parse(testing::read_file(o.output / "config.json")), *p.plan.config);
  // Progress: started once with every byte of both shards, all of them reported, finished.
  uint64_t total = p.plan.shards[0].layout.file_size + p.plan.shards[1].layout.file_size;
  EXPECT_EQ(r.bytes_written, total);
  EXPECT_EQ(progress.starts, 1);
  EXPECT_EQ(progress.label, "convert");
  EXPECT_EQ(progress.total_bytes, total);
  EXPECT_EQ(progress.added.load(), total);
  EXPECT_EQ(progress.finishes, 1);
}

TEST(ShardWriter, ResumeKeepsFinishedShardsAndProducesOnlyTheRest) {
  Input in;
  TempDir out;
  WriterOptions o;
  o.output = out / "o";
  {
    Plan first(in.ck);
    write_plan(in.ck, first.plan, o, nullptr);
  }
  // An interrupted run: shard 2 and the final files are gone, a stale temporary is left.
  fs::remove(o.output / "model-00002-of-00002.safetensors");
  fs::remove(o.output / "config.json");
  testing::write_file(o.output / (std::string(kTempPrefix) + "model-00002-of-00002.safetensors"), "partial");
  Plan p(in.ck);
  o.resume = true;
  WriteReport r = write_plan(in.ck, p.plan, o, nullptr);
  EXPECT_EQ(r.shards_kept, 1u);
  EXPECT_EQ(r.shards_written, 1u);
  EXPECT_EQ(p.producers[0]->calls + p.producers[1]->calls, 0) << "shard 1 was rewritten";
  EXPECT_GT(p.producers[2]->calls + p.producers[3]->calls, 0);
  expect_shards_written(o.output, p.plan);
  EXPECT_TRUE(fs::exists(o.output / "config.json"));
  for (const auto& n : entries(o.output)) EXPECT_NE(n.rfind(kTempPrefix, 0), 0u) << n;
}

TEST(ShardWriter, WorkerSharesThenFinalizeEqualOneRun) {
  Input in;
  TempDir single, split;
  WriterOptions o;
  o.output = single / "o";
  {
    Plan p(in.ck);
    write_plan(in.ck, p.plan, o, nullptr);
  }
  WriterOptions w;
  w.output = split / "o";
  w.worker_count = 2;
  std::set<std::string> before_finalize;
  for (unsigned i = 0; i < 2; ++i) {
    Plan p(in.ck);
    w.worker_index = i;
    FakeProgress progress;
    WriteReport r = write_plan(in.ck, p.plan, w, &progress);
    EXPECT_EQ(r.shards_written, 1u) << i;
    EXPECT_FALSE(r.finalized);
    EXPECT_EQ(progress.label, "convert (worker " + std::to_string(i + 1) + "/2)");
    // Only this worker's shard was produced.
    const size_t mine = i == 0 ? 0 : 2;
    EXPECT_GT(p.producers[mine]->calls, 0);
    EXPECT_EQ(p.producers[2 - mine]->calls, 0);
  }
  EXPECT_TRUE(fs::exists(w.output / kPlanFile));
  EXPECT_FALSE(fs::exists(w.output / "config.json")) << "config before finalize";
  WriteReport f = finalize_output(w.output);
  EXPECT_EQ(f.shards_kept, 2u);
  EXPECT_TRUE(f.finalized);
  EXPECT_FALSE(fs::exists(w.output / kPlanFile));
  EXPECT_EQ(entries(w.output), entries(o.output));
  for (const auto& n : entries(o.output)) EXPECT_EQ(testing::read_file(w.output / n), testing::read_file(o.output / n)) << n;
  // A task re-run after success (a requeued array task) changes nothing: no plan file returns.
  Plan again(in.ck);
  w.worker_index = 1;
  WriteReport r = write_plan(in.ck, again.plan, w, nullptr);
  EXPECT_EQ(r.shards_kept, 1u);
  EXPECT_EQ(r.shards_written, 0u);
  EXPECT_EQ(entries(w.output), entries(o.output));
}

TEST(ShardWriter, FinalizeRefusesAMissingOrDamagedShard) {
  Input in;
  TempDir out;
  WriterOptions w = split_into(out, 2);
  Plan p(in.ck);
  write_plan(in.ck, p.plan, w, nullptr);  // worker 1 of 2 only
  try {
    finalize_output(w.output);
    FAIL() << "finalized without worker 2's shard";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kOutputWrite);
    EXPECT_NE(e.reason().find("model-00002-of-00002.safetensors"), std::string::npos) << e.reason();
  }
  EXPECT_FALSE(fs::exists(w.output / "config.json"));
  w.worker_index = 1;
  write_plan(in.ck, p.plan, w, nullptr);
  // A shard of the right size whose header was overwritten is not finished either.
  {
    std::string s = testing::read_file(w.output / "model-00001-of-00002.safetensors");
    s[10] ^= 1;
    testing::write_file(w.output / "model-00001-of-00002.safetensors", s);
  }
  EXPECT_THROW(finalize_output(w.output), Error);
  TempDir empty;
  try {
    finalize_output(empty.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kNoCheckpoint);
  }
}

TEST(ShardWriter, AStopRequestRemovesTemporariesAndThrows) {
  Input in;
  Plan p(in.ck);
  std::atomic<bool> stop{false};
  for (auto& prod : p.producers) prod->hook = [&stop] { stop = true; };
  TempDir out;
  WriterOptions o;
  o.output = out / "o";
  o.threads = 1;
  o.stop = &stop;
  try {
    write_plan(in.ck, p.plan, o, nullptr);
    FAIL() << "not interrupted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kOutputWrite);
    EXPECT_NE(e.reason().find("interrupted"), std::string::npos);
  }
  // One slice was produced, then the writer stopped: no temporary, no unfinished shard, no config.
  int calls = 0;
  for (auto& prod : p.producers) calls += prod->calls;
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(entries(o.output).empty()) << *entries(o.output).begin();
}

TEST(ShardWriter, AFailingProducerLeavesNoPartialShard) {
  Input in;
  Plan p(in.ck);
  p.producers[3]->fail_at = 5;  // in shard 2
  TempDir out;
  WriterOptions o;
  o.output = out / "o";
  o.threads = 2;
  FakeProgress progress;
  try {
    write_plan(in.ck, p.plan, o, &progress);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kTruncated);  // the producer's own error, as it was
  }
  auto left = entries(o.output);
  EXPECT_FALSE(left.count("model-00002-of-00002.safetensors"));
  EXPECT_FALSE(left.count("config.json"));
  for (const auto& n : left) EXPECT_NE(n.rfind(kTempPrefix, 0), 0u) << n;
  EXPECT_EQ(progress.finishes, 1);
}

TEST(ShardWriter, RefusesANonEmptyOutputUnlessOverwrite) {
  Input in;
  Plan p(in.ck);
  TempDir out;
  WriterOptions o;
  o.output = out / "o";
  fs::create_directories(o.output);
  testing::write_file(o.output / "notes.txt", "mine");
  try {
    write_plan(in.ck, p.plan, o, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kOutputExists);
  }
  EXPECT_EQ(testing::read_file(o.output / "notes.txt"), "mine");
  // --overwrite replaces an earlier conversion and keeps files no conversion writes.
  testing::write_file(o.output / "model.safetensors", "old");
  o.overwrite = true;
  write_plan(in.ck, p.plan, o, nullptr);
  EXPECT_FALSE(fs::exists(o.output / "model.safetensors"));
  EXPECT_EQ(testing::read_file(o.output / "notes.txt"), "mine");
  expect_shards_written(o.output, p.plan);
}

TEST(ShardWriter, AnInputThatChangesDuringTheRunFailsItWithoutAConfig) {
  Input in;
  Plan p(in.ck);
  // Another process rewrites the input while the writer runs (same size, new time).
  const fs::path file = in.dir / "model.safetensors";
  p.producers[0]->hook = [&] {
    struct timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
    ::utimensat(AT_FDCWD, file.c_str(), times, 0);
  };
  TempDir out;
  WriterOptions o;
  o.output = out / "o";
  try {
    write_plan(in.ck, p.plan, o, nullptr);
    FAIL() << "a changed input went unnoticed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kTruncated);
    EXPECT_NE(e.file().find("model.safetensors"), std::string::npos) << e.file();
  }
  EXPECT_FALSE(fs::exists(o.output / "config.json"));
}

TEST(ShardWriter, APlanFileOfOtherOptionsIsRefusedAndKept) {
  Input in;
  TempDir out;
  WriterOptions w = split_into(out, 2);
  Plan a(in.ck);
  write_plan(in.ck, a.plan, w, nullptr);
  const std::string plan_file = testing::read_file(w.output / kPlanFile);
  Plan b(in.ck);
  b.plan.tensors[0].source = "another input tensor";  // same names and headers, another op
  w.worker_index = 1;
  try {
    write_plan(in.ck, b.plan, w, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kOutputBusy);
  }
  EXPECT_EQ(testing::read_file(w.output / kPlanFile), plan_file);
  for (auto& prod : b.producers) EXPECT_EQ(prod->calls, 0);
}

TEST(CheckOutputDir, RefusesInsideTheInputAndNonDirectories) {
  Input in;
  auto code = [&](const fs::path& out) {
    try {
      check_output_dir(in.ck, out);
      return std::string("ok");
    } catch (const Error& e) {
      return std::string(errc_name(e.code()));
    }
  };
  EXPECT_EQ(code(in.dir.path()), errc_name(Errc::kUsage));
  EXPECT_EQ(code(in.dir / "sub"), errc_name(Errc::kUsage));
  EXPECT_EQ(code(in.dir / "model.safetensors"), errc_name(Errc::kUsage));
  TempDir other;
  testing::write_file(other / "file", "x");
  EXPECT_EQ(code(other / "file"), errc_name(Errc::kOutputExists));
  EXPECT_EQ(code(other / "new"), "ok");
}

}  // namespace
}  // namespace moeckpt
