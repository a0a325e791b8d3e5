#include "cli/convert_run.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "cli/progress.h"
#include "loader/error.h"
#include "loader/mapped_file.h"
#include "loader/output_file.h"
#include "loader/parallel.h"

namespace fs = std::filesystem;

namespace moeckpt::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

bool within(const fs::path& child, const fs::path& parent) {
  auto c = child.begin(), p = parent.begin();
  for (; p != parent.end(); ++p, ++c) {
    if (c == child.end() || *c != *p) return false;
  }
  return true;
}

fs::path canon(const fs::path& p) {
  std::error_code ec;
  auto r = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p) : r;
}

uint32_t crc_of(std::string_view s) {
  return static_cast<uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// Whether dir/name is a finished shard of this plan: size and header as planned.
bool shard_is_complete(const fs::path& path, uint64_t size, const std::string& head) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) != size || ec) return false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string got(head.size(), '\0');
  ssize_t n = ::pread(fd, got.data(), got.size(), 0);
  ::close(fd);
  return n == static_cast<ssize_t>(head.size()) && got == head;
}

Json plan_file_json(const ConvertPlan& plan, unsigned workers) {
  Json shards = Json::array();
  for (const auto& s : plan.shards)
    shards.push_back({{"name", s.name}, {"size", s.layout.file_size}, {"head_size", s.layout.head.size()},
                      {"head_crc32", crc_of(s.layout.head)}});
  Json copies = Json::array();
  for (const auto& c : plan.copies) copies.push_back({{"source", canon(c.source).string()}, {"name", c.name}});
  return Json{{"moeckpt_plan", 1},
              {"workers", workers},
              {"shards", std::move(shards)},
              {"index", plan.index ? *plan.index : Json(nullptr)},
              {"config", plan.config ? *plan.config : Json(nullptr)},
              {"copies", std::move(copies)}};
}

// The index, copied files and config.json, in that order: config last, so a directory with a
// config.json is a finished checkpoint.
void write_final_files(const fs::path& out, const Json* index, const std::vector<CopiedFile>& copies, const Json* config) {
  if (index) write_file_atomic(out, "model.safetensors.index.json", index->dump(2) + "\n");
  for (const auto& c : copies) copy_file_atomic(c.source, out, c.name);
  if (config) write_file_atomic(out, "config.json", config->dump(2) + "\n");
}

struct Job {
  size_t shard;   // index into the writer's open files
  size_t tensor;  // index into plan.tensors
  uint64_t r0, r1;
  uint64_t dst;   // absolute offset in the shard file
};

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit must be an error we can report (exit 4), not a signal that kills us.
  ::signal(SIGXFSZ, SIG_IGN);
}

void check_output_dir(const Checkpoint& in, const ConvertOptions& opt) {
  fs::path out = canon(opt.output);
  fs::path in_dir = canon(in.directory());
  bool input_is_dir = fs::is_directory(in.input()) || in.layout() == Layout::kIndexed;
  if (input_is_dir) {
    if (within(out, in_dir)) throw Error(Errc::kUsage, opt.output, "OUT is IN or inside it; write the conversion elsewhere");
    if (within(in_dir, out)) throw Error(Errc::kUsage, opt.output, "IN is inside OUT; write the conversion elsewhere");
  } else {
    if (out == in_dir) throw Error(Errc::kUsage, opt.output, "OUT is the directory of IN; write the conversion elsewhere");
  }
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw Error(Errc::kOutputExists, opt.output, "exists and is not a directory");
}

RunReport run_convert(const Checkpoint& in, const ConvertPlan& plan, const ConvertOptions& opt, const Context& ctx) {
  const auto t0 = std::chrono::steady_clock::now();
  check_output_dir(in, opt);
  const fs::path out = opt.output;
  const bool multi = opt.worker_count > 1;
  std::vector<size_t> mine = worker_shards(plan, opt.worker_index, opt.worker_count);

  // What is already in OUT.
  std::set<std::string> ours = {kPlanFile, "model.safetensors.index.json", "config.json"};
  for (const auto& s : plan.shards) ours.insert(s.name);
  for (const auto& c : plan.copies) ours.insert(c.name);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(Errc::kOutputWrite, opt.output, "cannot create directory: " + ec.message());
  std::vector<std::string> foreign;
  for (const auto& e : fs::directory_iterator(out, ec)) {
    std::string n = e.path().filename().string();
    bool temp = n.rfind(kTempPrefix, 0) == 0;
    if (!temp && !ours.count(n)) foreign.push_back(n);
    if (!temp && ours.count(n) && !opt.resume && !opt.overwrite && !multi) foreign.push_back(n);
  }
  // With --worker, --overwrite replaces only this worker's shards (the others' finished work
  // stays), so files no worker writes are refused as without it.
  if (!foreign.empty() && (!opt.overwrite || multi)) {
    if (opt.resume || multi)
      throw Error(Errc::kOutputExists, opt.output,
                  "holds files this conversion would not write (" + std::to_string(foreign.size()) + ", e.g. '" +
                      foreign.front() + "'): resume with the options of the first run, or use --overwrite");
    throw Error(Errc::kOutputExists, opt.output,
                "is not empty (" + std::to_string(foreign.size()) + " entries, e.g. '" + foreign.front() +
                    "'); use --resume to continue an interrupted conversion or --overwrite to replace it");
  }
  if (opt.overwrite && multi) {
    for (size_t k : mine) {
      fs::remove(out / plan.shards[k].name, ec);
      fs::remove(out / (std::string(kTempPrefix) + plan.shards[k].name), ec);
    }
  } else if (opt.overwrite) {
    // Remove what an earlier conversion into OUT could have left; keep anything else.
    for (const auto& e : fs::directory_iterator(out, ec)) {
      std::string n = e.path().filename().string();
      if (n.rfind(kTempPrefix, 0) == 0 || ours.count(n) || n.ends_with(".safetensors") || n.ends_with(".index.json"))
        fs::remove(e.path(), ec);
    }
  } else {
    // Temporaries of shards this process writes are stale; other workers' are theirs.
    for (size_t s : mine) fs::remove(out / (std::string(kTempPrefix) + plan.shards[s].name), ec);
    if (!multi)
      for (const auto& e : fs::directory_iterator(out, ec))
        if (e.path().filename().string().rfind(kTempPrefix, 0) == 0) fs::remove(e.path(), ec);
  }
  if (multi) write_file_atomic(out, kPlanFile, plan_file_json(plan, opt.worker_count).dump(2) + "\n");

  RunReport report;
  std::vector<size_t> todo;
  for (size_t s : mine) {
    const auto& sh = plan.shards[s];
    if ((opt.resume || multi) && shard_is_complete(out / sh.name, sh.layout.file_size, sh.layout.head)) {
      ++report.shards_kept;
      continue;
    }
    todo.push_back(s);
  }

  // Input descriptors for in-kernel copies.
  std::vector<int> in_fds(in.files().size(), -1);
  for (size_t i = 0; i < in.files().size(); ++i) in_fds[i] = ::open(in.files()[i].path.c_str(), O_RDONLY | O_CLOEXEC);
  struct FdCloser {
    std::vector<int>& fds;
    ~FdCloser() {
      for (int fd : fds)
        if (fd >= 0) ::close(fd);
    }
  } closer{in_fds};

  // Open (and reserve) every shard first: a full disk shows now, not hours in.
  std::vector<std::unique_ptr<OutputFile>> files;
  std::vector<std::atomic<size_t>> pending(todo.size());
  std::vector<Job> jobs;
  uint64_t total = 0;
  const unsigned threads = opt.threads ? opt.threads : default_threads();
  for (size_t k = 0; k < todo.size(); ++k) {
    const ShardPlan& sh = plan.shards[todo[k]];
    files.push_back(std::make_unique<OutputFile>(out, sh.name, sh.layout.file_size));
    files.back()->pwrite_all(sh.layout.head, 0);
    size_t count = 0;
    for (size_t j = 0; j < sh.tensors.size(); ++j) {
      const PlannedTensor& t = plan.tensors[sh.tensors[j]];
      const uint64_t rows = t.producer->rows(), rb = t.producer->row_bytes();
      if (rows == 0 || rb == 0) continue;
      // Slices small enough that every thread works on the same tensor and memory stays at
      // about one slice per thread; large enough that syscalls are few.
      uint64_t target = t.producer->plain_copy() ? (uint64_t{256} << 20) : std::min<uint64_t>(uint64_t{32} << 20, std::max<uint64_t>(uint64_t{1} << 20, t.out.nbytes / threads));
      uint64_t per = std::max<uint64_t>(1, target / rb);
      for (uint64_t r = 0; r < rows; r += per) {
        jobs.push_back({k, sh.tensors[j], r, std::min(rows, r + per), sh.layout.offsets[j] + r * rb});
        ++count;
      }
    }
    pending[k] = count;
    total += sh.layout.file_size;
  }

  Progress progress(multi ? "convert (worker " + std::to_string(opt.worker_index + 1) + "/" + std::to_string(opt.worker_count) + ")" : "convert",
                    total, ctx.stderr_is_tty && !ctx.quiet && !ctx.json);
  for (size_t k = 0; k < todo.size(); ++k) progress.add(plan.shards[todo[k]].layout.head.size());

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex err_mu;
  std::mutex commit_mu;
  auto fail_with = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(err_mu);
    if (!first_error) first_error = e;
    failed = true;
  };
  auto commit_if_done = [&](size_t k) {
    if (pending[k].fetch_sub(1) != 1) return;
    std::lock_guard<std::mutex> lock(commit_mu);  // renames and directory fsyncs one at a time
    files[k]->commit();
  };
  for (size_t k = 0; k < todo.size(); ++k)
    if (pending[k] == 0) files[k]->commit();

  auto worker = [&] {
    std::vector<std::byte> buf;
    while (!failed && !g_interrupted) {
      size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      const Job& jb = jobs[i];
      try {
        const PlannedTensor& t = plan.tensors[jb.tensor];
        uint64_t bytes = (jb.r1 - jb.r0) * t.producer->row_bytes();
        if (const TensorInfo* src = t.producer->plain_copy()) {
          auto map = in.file_bytes(src->file);
          if (src->offset + src->nbytes > map.size())
            throw Error(Errc::kTruncated, in.file_label(src->file), "input file shrank while being read", src->name);
          files[jb.shard]->copy_from(in_fds[src->file], src->offset + jb.r0, map.subspan(src->offset + jb.r0, bytes), jb.dst);
        } else {
          buf.resize(bytes);
          t.producer->produce(jb.r0, jb.r1, buf);
          files[jb.shard]->pwrite_all(buf, jb.dst);
          // The matching share of each input is done with: drop it from the resident set, so
          // memory stays at about a slice per thread whatever the checkpoint's size.
          const uint64_t rows = t.producer->rows();
          for (const TensorInfo* input : t.producer->inputs()) {
            const uint64_t per_row = input->nbytes / rows;  // exact for row slices; else approximate, which is harmless
            in.release_pages(*input, per_row * jb.r0, jb.r1 == rows ? input->nbytes : per_row * jb.r1);
          }
        }
        progress.add(bytes);
        commit_if_done(jb.shard);
      } catch (...) {
        fail_with(std::current_exception());
      }
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < std::min<size_t>(threads, std::max<size_t>(1, jobs.size())); ++i) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
  }
  if (first_error) {
    progress.finish();
    std::rethrow_exception(first_error);  // uncommitted temporaries are removed by ~OutputFile
  }
  if (g_interrupted)
    throw Error(Errc::kOutputWrite, opt.output, "interrupted; finished shards were kept, the rest removed: rerun with --resume");
  progress.finish();
  report.shards_written = todo.size();
  for (size_t k = 0; k < todo.size(); ++k) report.bytes_written += plan.shards[todo[k]].layout.file_size;

  if (!multi) {
    write_final_files(out, plan.index ? &*plan.index : nullptr, plan.copies, plan.config ? &*plan.config : nullptr);
    fs::remove(out / kPlanFile, ec);
    report.finalized = true;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

RunReport finalize_convert(const fs::path& out, const Context& ctx) {
  (void)ctx;
  const auto t0 = std::chrono::steady_clock::now();
  fs::path pf = out / kPlanFile;
  std::error_code ec;
  if (!fs::exists(pf, ec))
    throw Error(Errc::kNoCheckpoint, out.string(), std::string("has no ") + kPlanFile + ": nothing to finalize (run the --worker conversions first)");
  Json plan = parse_config(read_text_file(pf), pf.string());
  if (!plan.contains("moeckpt_plan") || !plan["shards"].is_array())
    throw Error(Errc::kConfigInvalid, pf.string(), "not a moeckpt plan file");
  std::vector<std::string> missing;
  RunReport report;
  for (const auto& s : plan["shards"]) {
    fs::path p = out / s["name"].get<std::string>();
    uint64_t size = s["size"].get<uint64_t>();
    bool ok = fs::is_regular_file(p, ec) && fs::file_size(p, ec) == size;
    if (ok) {
      size_t hs = s["head_size"].get<size_t>();
      std::string head(hs, '\0');
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      ok = fd >= 0 && ::pread(fd, head.data(), hs, 0) == static_cast<ssize_t>(hs) && crc_of(head) == s["head_crc32"].get<uint32_t>();
      if (fd >= 0) ::close(fd);
    }
    if (!ok) missing.push_back(s["name"].get<std::string>());
    else ++report.shards_kept;
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += ", ...";
    throw Error(Errc::kOutputWrite, out.string(),
                "cannot finalize: " + std::to_string(missing.size()) + " shard(s) missing or incomplete (" + list +
                    "); run the workers that write them (with --resume) first");
  }
  std::vector<CopiedFile> copies;
  for (const auto& c : plan["copies"]) copies.push_back({c["source"].get<std::string>(), c["name"].get<std::string>()});
  write_final_files(out, plan["index"].is_null() ? nullptr : &plan["index"], copies, plan["config"].is_null() ? nullptr : &plan["config"]);
  fs::remove(pf, ec);
  report.finalized = true;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace moeckpt::cli
