#include "loader/shard_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "loader/config_file.h"
#include "loader/error.h"
#include "loader/file_names.h"
#include "loader/output_file.h"
#include "loader/parallel.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

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

bool is_temp(const std::string& name) { return name.rfind(kTempPrefix, 0) == 0; }
std::string temp_name(const std::string& name) { return std::string(kTempPrefix) + name; }

uint32_t crc_of(std::string_view s) {
  return static_cast<uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// The first `size` bytes of a file, or "" when it is shorter or unreadable.
std::string read_head(const fs::path& path, size_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string got(size, '\0');
  ssize_t n = ::pread(fd, got.data(), got.size(), 0);
  ::close(fd);
  return n == static_cast<ssize_t>(size) ? got : std::string();
}

// Whether path is a finished shard of this plan: size and header as planned.
bool shard_is_complete(const fs::path& path, uint64_t size, const std::string& head) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) != size || ec) return false;
  return read_head(path, head.size()) == head;
}

// What the headers do not show but two runs into one OUT must agree on: each tensor's source
// and op (saturation, say, changes bytes and no header). CRC-32 chained over every string.
uint32_t ops_crc(const WritePlan& plan) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (const auto& t : plan.tensors)
    for (const std::string& s : {t.out.name, t.source, t.producer->describe()})
      crc = ::crc32(crc, reinterpret_cast<const Bytef*>(s.c_str()), static_cast<uInt>(s.size() + 1));  // with its NUL
  return static_cast<uint32_t>(crc);
}

Json plan_file_json(const WritePlan& plan, unsigned workers) {
  Json shards = Json::array();
  for (const auto& s : plan.shards)
    shards.push_back({{"name", s.name}, {"size", s.layout.file_size}, {"head_size", s.layout.head.size()},
                      {"head_crc32", crc_of(s.layout.head)}});
  Json copies = Json::array();
  for (const auto& c : plan.copies) copies.push_back({{"source", canon(c.source).string()}, {"name", c.name}});
  return Json{{"moeckpt_plan", 1},
              {"workers", workers},
              {"ops_crc32", ops_crc(plan)},
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

// Read-only descriptors of the input files, for in-kernel copies; closed on destruction.
class InputFds {
 public:
  explicit InputFds(const Checkpoint& in) : fds_(in.files().size(), -1) {
    for (size_t i = 0; i < in.files().size(); ++i) fds_[i] = ::open(in.files()[i].path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  InputFds(const InputFds&) = delete;
  InputFds& operator=(const InputFds&) = delete;
  ~InputFds() {
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int operator[](size_t file) const { return fds_[file]; }

 private:
  std::vector<int> fds_;
};

// An advisory lock on OUT itself (flock on the directory: nothing is left in OUT), held for the
// run: exclusive for a single run or finalize, shared by the workers of one conversion (their
// plan file guards them). Where the filesystem cannot lock, the run goes on unlocked.
class OutputLock {
 public:
  OutputLock(const fs::path& out, bool shared) {
    fd_ = ::open(out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return;
    if (::flock(fd_, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0) return;
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      throw Error(Errc::kOutputBusy, out.string(),
                  shared ? "another moeckpt convert (not a worker of a split) is writing here; wait for it or choose another OUT"
                         : "another moeckpt convert is writing here (OUT is locked); wait for it or choose another OUT");
  }
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  int fd_ = -1;
};

// Size and modification time of every input file when the run began, to tell at the end
// whether one changed while it was read.
class InputStamps {
 public:
  explicit InputStamps(const Checkpoint& in) {
    for (const auto& f : in.files()) stamps_.push_back(stamp(f.path));
  }
  // Throws Error(kTruncated) naming the first input that changed.
  void check(const Checkpoint& in) const {
    for (size_t i = 0; i < stamps_.size(); ++i)
      if (stamp(in.files()[i].path) != stamps_[i])
        throw Error(Errc::kTruncated, in.file_label(static_cast<uint32_t>(i)),
                    "input file changed while being read: the shards written from it may be wrong; rerun with --overwrite");
  }

 private:
  static std::tuple<int64_t, int64_t, int64_t> stamp(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return {-1, -1, -1};
    return {st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  }
  std::vector<std::tuple<int64_t, int64_t, int64_t>> stamps_;
};

// One slice of one tensor: rows [r0, r1) written at dst of an open shard.
struct Job {
  size_t shard;   // index into the writer's open files
  size_t tensor;  // index into plan.tensors
  uint64_t r0, r1;
  uint64_t dst;   // absolute offset in the shard file
};

class Writer {
 public:
  Writer(const Checkpoint& in, const WritePlan& plan, const WriterOptions& opt, ProgressSink* progress)
      : in_(in), plan_(plan), opt_(opt), progress_(progress), out_(opt.output), multi_(opt.worker_count > 1),
        threads_(opt.threads ? opt.threads : default_threads()), mine_(worker_shards(plan, opt.worker_index, opt.worker_count)) {}

  WriteReport run() {
    const auto t0 = std::chrono::steady_clock::now();
    check_output_dir(in_, out_);
    create_output();
    const OutputLock lock(out_, multi_);
    // A worker run again after --finalize: config.json is there and the plan file is gone.
    std::error_code ec;
    finalized_before_ = multi_ && !fs::exists(out_ / kPlanFile, ec) && fs::exists(out_ / "config.json", ec);
    prepare_output();
    publish_plan();
    try {
      write_shards();
    } catch (...) {
      forget_plan_if_nothing_to_resume();
      throw;
    }
    if (!multi_) {
      write_final_files(out_, plan_.index ? &*plan_.index : nullptr, plan_.copies, plan_.config ? &*plan_.config : nullptr);
      fs::remove(out_ / kPlanFile, ec);
      report_.finalized = true;
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report_;
  }

 private:
  bool stopped() const { return opt_.stop && opt_.stop->load(); }

  void write_shards() {
    select_shards();
    if (finalized_before_ && !todo_.empty())
      throw Error(Errc::kOutputBusy, (out_ / plan_.shards[todo_.front()].name).string(),
                  "OUT is a finished conversion but this worker's shard is missing or not as planned: convert into a new OUT");
    const InputStamps stamps(in_);
    InputFds fds(in_);
    open_shards();
    start_progress();
    run_jobs(fds);
    finish_run();
    stamps.check(in_);
  }

  // A single run that failed before any shard of its plan was in OUT leaves nothing behind:
  // the plan file only serves a resume.
  void forget_plan_if_nothing_to_resume() const {
    if (multi_ || report_.shards_kept > 0 || committed_ > 0) return;
    std::error_code ec;
    fs::remove(out_ / kPlanFile, ec);
  }

  // Every name this plan writes in OUT.
  std::set<std::string> our_names() const {
    std::set<std::string> ours = {kPlanFile, "model.safetensors.index.json", "config.json"};
    for (const auto& s : plan_.shards) ours.insert(s.name);
    for (const auto& c : plan_.copies) ours.insert(c.name);
    return ours;
  }

  // Entries of OUT that block this run: files no conversion of this plan writes, and (for a
  // plain single run) files it would replace.
  std::vector<std::string> blocking_entries(const std::set<std::string>& ours) const {
    std::vector<std::string> foreign;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out_, ec)) {
      std::string n = e.path().filename().string();
      if (is_temp(n)) continue;
      if (!ours.count(n)) foreign.push_back(n);
      else if (!opt_.resume && !opt_.overwrite && !multi_) foreign.push_back(n);
    }
    return foreign;
  }

  void refuse(const std::vector<std::string>& foreign) const {
    const std::string count = std::to_string(foreign.size());
    if (opt_.resume || multi_)
      throw Error(Errc::kOutputExists, out_.string(),
                  "holds files this conversion would not write (" + count + ", e.g. '" + foreign.front() +
                      "'): resume with the options of the first run, or use --overwrite");
    throw Error(Errc::kOutputExists, out_.string(),
                "is not empty (" + count + " entries, e.g. '" + foreign.front() +
                    "'); use --resume to continue an interrupted conversion or --overwrite to replace it");
  }

  // Removes what this run replaces: with a worker share only its own shards (the others'
  // finished work stays); else whatever an earlier conversion into OUT could have left.
  void remove_replaced(const std::set<std::string>& ours) const {
    std::error_code ec;
    if (multi_) {
      for (size_t k : mine_) {
        fs::remove(out_ / plan_.shards[k].name, ec);
        fs::remove(out_ / temp_name(plan_.shards[k].name), ec);
      }
      return;
    }
    for (const auto& e : fs::directory_iterator(out_, ec)) {
      std::string n = e.path().filename().string();
      if (is_temp(n) || ours.count(n) || is_safetensors_name(n) || is_index_name(n)) fs::remove(e.path(), ec);
    }
  }

  // Temporaries of shards this process writes are stale; other workers' are theirs.
  void remove_stale_temporaries() const {
    std::error_code ec;
    for (size_t s : mine_) fs::remove(out_ / temp_name(plan_.shards[s].name), ec);
    if (multi_) return;
    for (const auto& e : fs::directory_iterator(out_, ec))
      if (is_temp(e.path().filename().string())) fs::remove(e.path(), ec);
  }

  void create_output() const {
    std::error_code ec;
    fs::create_directories(out_, ec);
    if (ec) throw Error(Errc::kOutputWrite, out_.string(), "cannot create directory: " + ec.message());
  }

  void prepare_output() const {
    if (multi_ || opt_.resume) check_existing_plan(plan_text());
    const std::set<std::string> ours = our_names();
    std::vector<std::string> foreign = blocking_entries(ours);
    // With a worker share, --overwrite replaces only that worker's shards, so files no worker
    // writes are refused as without it.
    if (!foreign.empty() && (!opt_.overwrite || multi_)) refuse(foreign);
    if (opt_.overwrite) remove_replaced(ours);
    else remove_stale_temporaries();
  }

  // The plan file: written once, atomically, by whichever run comes first; every later run (a
  // worker, a resume) must have planned the same. The worker count must match between workers
  // (their shares would overlap otherwise); a single run holds OUT alone and may finish a
  // split's work. A single run removes the file when it is done.
  std::string plan_text() const { return plan_file_json(plan_, opt_.worker_count).dump(2) + "\n"; }

  // Throws when OUT's plan file (if any) is not this plan's.
  void check_existing_plan(const std::string& text) const {
    std::string theirs;
    try {
      theirs = read_text_file(out_ / kPlanFile);
    } catch (const Error&) {
      return;  // none (or unreadable: publish_plan will say so)
    }
    if (theirs == text) return;
    Json old = nullptr, mine = Json::parse(text);
    try {
      old = Json::parse(theirs);
    } catch (const Json::exception&) {
    }
    std::string why = "was planned by a conversion with other options";
    if (old.is_object()) {
      const unsigned workers = old.value("workers", 0u);
      if (!multi_) old["workers"] = mine["workers"];
      if (old == mine) return;
      if (multi_ && workers != opt_.worker_count) {
        old["workers"] = mine["workers"];
        if (old == mine) why = "was planned for " + std::to_string(workers) + " worker(s), not " + std::to_string(opt_.worker_count);
      }
    }
    throw Error(Errc::kOutputBusy, (out_ / kPlanFile).string(),
                "OUT " + why + ": rerun with the options of the first run, or use a new OUT");
  }

  void publish_plan() const {
    if (finalized_before_) return;  // a task re-run after success changes nothing
    const std::string text = plan_text();
    if (write_file_if_absent(out_, kPlanFile, text)) return;
    check_existing_plan(text);
  }

  // This worker's shards less those an earlier run finished.
  void select_shards() {
    for (size_t s : mine_) {
      const auto& sh = plan_.shards[s];
      if ((opt_.resume || multi_) && shard_is_complete(out_ / sh.name, sh.layout.file_size, sh.layout.head)) {
        ++report_.shards_kept;
        continue;
      }
      todo_.push_back(s);
    }
  }

  // Rows per slice: small enough that every thread works on the same tensor and memory stays
  // at about one slice per thread; large enough that syscalls are few.
  uint64_t rows_per_slice(const PlannedTensor& t) const {
    const uint64_t target = t.producer->plain_copy()
                                ? (uint64_t{256} << 20)
                                : std::min<uint64_t>(uint64_t{32} << 20, std::max<uint64_t>(uint64_t{1} << 20, t.out.nbytes / threads_));
    return std::max<uint64_t>(1, target / t.producer->row_bytes());
  }

  // Opens (and reserves) every shard first, so a full disk shows now, not hours in; cuts each
  // shard's tensors into jobs.
  void open_shards() {
    pending_ = std::vector<std::atomic<size_t>>(todo_.size());
    for (size_t k = 0; k < todo_.size(); ++k) {
      const ShardPlan& sh = plan_.shards[todo_[k]];
      files_.push_back(std::make_unique<OutputFile>(out_, sh.name, sh.layout.file_size));
      files_.back()->pwrite_all(sh.layout.head, 0);
      size_t count = 0;
      for (size_t j = 0; j < sh.tensors.size(); ++j) {
        const PlannedTensor& t = plan_.tensors[sh.tensors[j]];
        const uint64_t rows = t.producer->rows(), rb = t.producer->row_bytes();
        if (rows == 0 || rb == 0) continue;
        const uint64_t per = rows_per_slice(t);
        for (uint64_t r = 0; r < rows; r += per) {
          jobs_.push_back({k, sh.tensors[j], r, std::min(rows, r + per), sh.layout.offsets[j] + r * rb});
          ++count;
        }
      }
      pending_[k] = count;
      total_ += sh.layout.file_size;
    }
  }

  void start_progress() {
    if (!progress_) return;
    std::string label = "convert";
    if (multi_) label += " (worker " + std::to_string(opt_.worker_index + 1) + "/" + std::to_string(opt_.worker_count) + ")";
    progress_->start(label, total_);
    for (size_t s : todo_) progress_->add(plan_.shards[s].layout.head.size());
  }

  void fail_with(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(err_mu_);
    if (!first_error_) first_error_ = e;
    failed_ = true;
  }

  void commit_if_done(size_t k) {
    if (pending_[k].fetch_sub(1) != 1) return;
    std::lock_guard<std::mutex> lock(commit_mu_);  // renames and directory fsyncs one at a time
    files_[k]->commit();
    ++committed_;
  }

  // An unchanged input tensor: copied in the kernel from the input file.
  void copy_slice(const Job& jb, const TensorInfo& src, uint64_t bytes, const InputFds& fds) const {
    auto map = in_.file_bytes(src.file);
    if (src.offset + src.nbytes > map.size())
      throw Error(Errc::kTruncated, in_.file_label(src.file), "input file shrank while being read", src.name);
    files_[jb.shard]->copy_from(fds[src.file], src.offset + jb.r0, map.subspan(src.offset + jb.r0, bytes), jb.dst);
  }

  // A computed slice; then the matching share of each input is done with: drop it from the
  // resident set, so memory stays at about a slice per thread whatever the checkpoint's size.
  void produce_slice(const Job& jb, const PlannedTensor& t, uint64_t bytes, std::vector<std::byte>& buf) const {
    buf.resize(bytes);
    t.producer->produce(jb.r0, jb.r1, buf);
    files_[jb.shard]->pwrite_all(buf, jb.dst);
    const uint64_t rows = t.producer->rows();
    for (const TensorInfo* input : t.producer->inputs()) {
      const uint64_t per_row = input->nbytes / rows;  // exact for row slices; else approximate, which is harmless
      in_.release_pages(*input, per_row * jb.r0, jb.r1 == rows ? input->nbytes : per_row * jb.r1);
    }
  }

  void work(const InputFds& fds) {
    std::vector<std::byte> buf;
    while (!failed_ && !stopped()) {
      size_t i = next_.fetch_add(1);
      if (i >= jobs_.size()) return;
      const Job& jb = jobs_[i];
      try {
        const PlannedTensor& t = plan_.tensors[jb.tensor];
        const uint64_t bytes = (jb.r1 - jb.r0) * t.producer->row_bytes();
        if (const TensorInfo* src = t.producer->plain_copy()) copy_slice(jb, *src, bytes, fds);
        else produce_slice(jb, t, bytes, buf);
        if (progress_) progress_->add(bytes);
        commit_if_done(jb.shard);
      } catch (...) {
        fail_with(std::current_exception());
      }
    }
  }

  void run_jobs(const InputFds& fds) {
    for (size_t k = 0; k < todo_.size(); ++k)
      if (pending_[k] == 0) {
        files_[k]->commit();
        ++committed_;
      }
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < std::min<size_t>(threads_, std::max<size_t>(1, jobs_.size())); ++i)
      pool.emplace_back([this, &fds] { work(fds); });
    work(fds);
    for (auto& th : pool) th.join();
  }

  // Rethrows the first failure (uncommitted temporaries are removed by ~OutputFile), reports a
  // stop, or counts what was written.
  void finish_run() {
    if (first_error_) {
      if (progress_) progress_->finish();
      std::rethrow_exception(first_error_);
    }
    if (stopped())
      throw Error(Errc::kOutputWrite, out_.string(), "interrupted; finished shards were kept, the rest removed: rerun with --resume");
    if (progress_) progress_->finish();
    report_.shards_written = todo_.size();
    for (size_t s : todo_) report_.bytes_written += plan_.shards[s].layout.file_size;
  }

  const Checkpoint& in_;
  const WritePlan& plan_;
  const WriterOptions& opt_;
  ProgressSink* progress_;
  const fs::path out_;
  const bool multi_;
  bool finalized_before_ = false;
  const unsigned threads_;
  const std::vector<size_t> mine_;
  std::vector<size_t> todo_;
  std::vector<std::unique_ptr<OutputFile>> files_;
  std::vector<std::atomic<size_t>> pending_;
  std::vector<Job> jobs_;
  uint64_t total_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> committed_{0};  // shards committed by this run
  std::atomic<bool> failed_{false};
  std::exception_ptr first_error_;
  std::mutex err_mu_, commit_mu_;
  WriteReport report_;
};

// A plan file's shard entry is on disk with its planned size and header checksum.
bool shard_matches(const fs::path& out, const Json& s) {
  fs::path p = out / s["name"].get<std::string>();
  std::error_code ec;
  if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) != s["size"].get<uint64_t>()) return false;
  const size_t hs = s["head_size"].get<size_t>();
  std::string head = read_head(p, hs);
  return head.size() == hs && crc_of(head) == s["head_crc32"].get<uint32_t>();
}

Json read_plan_file(const fs::path& out) {
  fs::path pf = out / kPlanFile;
  std::error_code ec;
  if (!fs::exists(pf, ec))
    throw Error(Errc::kNoCheckpoint, out.string(), std::string("has no ") + kPlanFile + ": nothing to finalize (run the --worker conversions first)");
  Json plan = parse_config(read_text_file(pf), pf.string());
  if (!plan.contains("moeckpt_plan") || !plan["shards"].is_array())
    throw Error(Errc::kConfigInvalid, pf.string(), "not a moeckpt plan file");
  return plan;
}

void refuse_missing(const fs::path& out, const std::vector<std::string>& missing) {
  std::string list;
  for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
  if (missing.size() > 5) list += ", ...";
  throw Error(Errc::kOutputWrite, out.string(),
              "cannot finalize: " + std::to_string(missing.size()) + " shard(s) missing or incomplete (" + list +
                  "); run the workers that write them (with --resume) first");
}

}  // namespace

void check_output_dir(const Checkpoint& in, const fs::path& output) {
  fs::path out = canon(output);
  fs::path in_dir = canon(in.directory());
  bool input_is_dir = fs::is_directory(in.input()) || in.layout() == Layout::kIndexed;
  if (input_is_dir) {
    if (within(out, in_dir)) throw Error(Errc::kUsage, output.string(), "OUT is IN or inside it; write the conversion elsewhere");
    if (within(in_dir, out)) throw Error(Errc::kUsage, output.string(), "IN is inside OUT; write the conversion elsewhere");
  } else {
    if (out == in_dir) throw Error(Errc::kUsage, output.string(), "OUT is the directory of IN; write the conversion elsewhere");
  }
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw Error(Errc::kOutputExists, output.string(), "exists and is not a directory");
}

WriteReport write_plan(const Checkpoint& in, const WritePlan& plan, const WriterOptions& options, ProgressSink* progress) {
  return Writer(in, plan, options, progress).run();
}

WriteReport finalize_output(const fs::path& out) {
  const auto t0 = std::chrono::steady_clock::now();
  Json plan = read_plan_file(out);
  const OutputLock lock(out, false);
  std::vector<std::string> missing;
  WriteReport report;
  for (const auto& s : plan["shards"]) {
    if (shard_matches(out, s)) ++report.shards_kept;
    else missing.push_back(s["name"].get<std::string>());
  }
  if (!missing.empty()) refuse_missing(out, missing);
  std::vector<CopiedFile> copies;
  for (const auto& c : plan["copies"]) copies.push_back({c["source"].get<std::string>(), c["name"].get<std::string>()});
  write_final_files(out, plan["index"].is_null() ? nullptr : &plan["index"], copies, plan["config"].is_null() ? nullptr : &plan["config"]);
  std::error_code ec;
  fs::remove(out / kPlanFile, ec);
  report.finalized = true;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace moeckpt
