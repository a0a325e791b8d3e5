#include "loader/checkpoint.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>

#include "loader/file_names.h"
#include "loader/mapped_file.h"
#include "loader/name_index.h"
#include "loader/parallel.h"
#include "loader/remote_url.h"
#include "loader/safetensors_reader.h"
#include "loader/sorted_merge.h"
#include "loader/torch_reader.h"

namespace fs = std::filesystem;

namespace moeckpt {

std::string_view file_format_name(FileFormat f) {
  return f == FileFormat::kSafetensors ? "safetensors" : "pytorch";
}

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::kSingleFile: return "single";
    case Layout::kIndexed: return "indexed";
    case Layout::kDirectory: return "directory";
  }
  return "single";
}

struct Checkpoint::Impl {
  std::vector<MappedFile> maps;
  std::vector<TensorArena> arenas;  // per file: what its tensors' names (and strides) view
  std::shared_ptr<RemoteSource> remote;  // a URL's files (maps then stay empty)
  // The last tensors read from a URL, by (file, offset): readers take a tensor's rows a chunk
  // at a time and each chunk asks for the whole tensor's bytes again.
  mutable std::vector<std::pair<std::pair<uint32_t, uint64_t>, std::shared_ptr<const std::vector<std::byte>>>> fetched;
  std::vector<std::vector<TorchStorage>> storages;  // per file (empty for safetensors)
  mutable std::once_flag by_name_once;
  mutable TensorNameIndex by_name;  // built on first find()
  mutable std::mutex mu;
  mutable std::map<std::pair<uint32_t, int32_t>, std::shared_ptr<const std::vector<std::byte>>> inflated;
  class Opener;  // the steps of Checkpoint::open
};

Checkpoint::Checkpoint() : impl_(std::make_unique<Impl>()) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<std::string> list_dir(const fs::path& dir, std::string_view input) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    // Everything but directories: a FIFO or a dangling link under a weight file's name is then
    // opened, and refused with its reason, rather than silently passed over.
    std::error_code ec2;
    if (!it->is_directory(ec2)) names.push_back(it->path().filename().string());
  }
  if (ec) throw Error(Errc::kFileOpen, std::string(input), "cannot list directory: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_label(const std::string& input, const std::string& name) {
  if (input.empty()) return name;
  return (fs::path(input) / name).string();
}

bool contains(const std::vector<std::string>& sorted, std::string_view name) {
  return std::binary_search(sorted.begin(), sorted.end(), std::string(name));
}

// A directory's files by what they may be.
struct DirectoryFiles {
  std::vector<std::string> st_indexes, bin_indexes, st_files, bin_files;
};

DirectoryFiles classify(const std::vector<std::string>& all) {
  DirectoryFiles d;
  for (const auto& n : all) {
    if (ends_with(n, ".safetensors.index.json")) d.st_indexes.push_back(n);
    else if (ends_with(n, ".bin.index.json") || ends_with(n, ".pt.index.json")) d.bin_indexes.push_back(n);
    else if (is_safetensors_name(n)) d.st_files.push_back(n);
    else if (is_torch_name(n) && n != "training_args.bin" && n != "optimizer.pt" && n != "scheduler.pt" &&
             n != "rng_state.pth")
      d.bin_files.push_back(n);
  }
  return d;
}

// The index of one kind to read from a directory: the default one, else the only one; "" when
// there is none. Several and no default is an error.
std::string pick_index(const std::vector<std::string>& indexes, std::string_view preferred,
                       const std::vector<std::string>& all, const std::string& input) {
  if (indexes.empty()) return {};
  if (contains(all, preferred)) return std::string(preferred);
  if (indexes.size() == 1) return indexes[0];
  std::string list;
  for (const auto& i : indexes) list += (list.empty() ? "" : ", ") + i;
  throw Error(Errc::kNoCheckpoint, input, "several shard indexes and none is the default one: " + list +
              "; pass the index file to use");
}

}  // namespace

// The steps of Checkpoint::open, in the order they run. Nested in Impl so that it may fill the
// checkpoint's private members (checkpoint.h need not know of it).
class Checkpoint::Impl::Opener {
 public:
  Opener(Checkpoint& c, const OpenOptions& options) : c_(c), options_(options) {}

  void run(const fs::path& path) {
    c_.input_ = path.string();
    if (is_remote_path(c_.input_)) {
      locate_remote();
    } else {
      locate(path);
      if (!index_path_.empty()) read_index();
      read_config_file();
    }
    load_files();
    if (c_.index_) release_index_names();
    report_file_errors();
    merge_tensor_lists();
    report_duplicate_names();
    if (c_.index_) report_index_mismatches();
  }

 private:
  // A problem that stops the open, or one collected for validate to report.
  void problem(const Error& e) {
    if (!options_.collect_problems) throw e;
    c_.problems_.push_back(e);
  }

  // What PATH is: a directory, a weights file or an index. Sets the directory, the format
  // and layout as far as the path tells them, and the files to load or the index to read.
  void locate(const fs::path& path) {
    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) throw Error(Errc::kFileOpen, c_.input_, "no such file or directory");
    if (fs::is_directory(st)) {
      locate_in_directory(path);
    } else if (fs::is_regular_file(st)) {
      locate_file(path);
    } else {
      throw Error(Errc::kFileOpen, c_.input_, "not a regular file or directory");
    }
  }

  // A directory: its index if it has one, else its default weights file, else every weights
  // file it holds.
  void locate_in_directory(const fs::path& path) {
    c_.dir_ = path;
    dir_label_ = c_.input_;
    const auto all = list_dir(path, c_.input_);
    const DirectoryFiles found = classify(all);
    if (auto i = pick_index(found.st_indexes, "model.safetensors.index.json", all, c_.input_); !i.empty()) {
      index_path_ = path / i;
      c_.format_ = FileFormat::kSafetensors;
    } else if (contains(all, "model.safetensors")) {
      names_ = {"model.safetensors"};
      c_.layout_ = Layout::kSingleFile;
    } else if (auto j = pick_index(found.bin_indexes, "pytorch_model.bin.index.json", all, c_.input_); !j.empty()) {
      index_path_ = path / j;
      c_.format_ = FileFormat::kTorch;
    } else if (contains(all, "pytorch_model.bin")) {
      names_ = {"pytorch_model.bin"};
      c_.format_ = FileFormat::kTorch;
      c_.layout_ = Layout::kSingleFile;
    } else if (!found.st_files.empty()) {
      names_ = found.st_files;
      c_.layout_ = found.st_files.size() == 1 ? Layout::kSingleFile : Layout::kDirectory;
    } else if (!found.bin_files.empty()) {
      names_ = found.bin_files;
      c_.format_ = FileFormat::kTorch;
      c_.layout_ = found.bin_files.size() == 1 ? Layout::kSingleFile : Layout::kDirectory;
    } else {
      throw Error(Errc::kNoCheckpoint, c_.input_,
                  "no checkpoint in directory: looked for *.safetensors.index.json, model.safetensors, "
                  "pytorch_model.bin(.index.json), *.safetensors, *.bin, *.pt, *.pth");
    }
  }

  // A single file: an index, or one weights file.
  void locate_file(const fs::path& path) {
    c_.dir_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    dir_label_ = path.parent_path().string();
    std::string fname = path.filename().string();
    if (ends_with(fname, ".json")) {
      index_path_ = path;
    } else if (is_safetensors_name(fname)) {
      names_ = {fname};
    } else if (is_torch_name(fname)) {
      names_ = {fname};
      c_.format_ = FileFormat::kTorch;
    } else {
      throw Error(Errc::kNoCheckpoint, c_.input_, "not a checkpoint file: expected .safetensors, .bin, .pt, .pth or an .index.json");
    }
  }

  // Parses the index; its shards become the files to load. A broken index, when problems are
  // collected, is recorded and the directory's weights files are loaded instead.
  // The index is parsed from its mapping, in place (no copy of what may be ~90 MB of JSON).
  void read_index() {
    read_index_from([&] {
      const MappedFile m = MappedFile::open(index_path_, index_label_);
      const auto b = m.bytes();
      return parse_index(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), index_label_, m.readable_slack(),
                         [&] { m.advise_dontneed(0, m.size()); });
    }, index_path_.filename().string());
  }

  template <class Parse>
  void read_index_from(Parse parse, const std::string& index_file) {
    c_.layout_ = Layout::kIndexed;  // even when the index is broken (collect mode lists the directory)
    c_.index_file_ = index_file;
    index_label_ = join_label(dir_label_, c_.index_file_);
    try {
      c_.index_ = parse();
      if (c_.index_->shards.empty()) throw Error(Errc::kIndexInvalid, index_label_, "weight_map is empty");
      names_ = c_.index_->shards;
    } catch (const Error& e) {
      if (!options_.collect_problems || c_.impl_->remote) throw;  // a server lists no directory
      // validate goes on with the shards the directory holds, so they are checked too.
      c_.problems_.push_back(e);
      c_.index_.reset();
      for (const auto& n : list_dir(c_.dir_, c_.input_))
        if (is_safetensors_name(n) || (is_torch_name(n) && index_path_.string().find(".bin.") != std::string::npos))
          names_.push_back(n);
      if (names_.empty()) throw;
    }
    check_shard_formats();
  }

  // The shards are all safetensors or all PyTorch files; that sets the checkpoint's format.
  void check_shard_formats() {
    bool any_torch = false, any_st = false;
    for (const auto& n : names_) (is_torch_name(n) ? any_torch : any_st) = true;
    if (any_torch && any_st) throw Error(Errc::kIndexInvalid, index_label_, "index mixes safetensors and PyTorch shards");
    c_.format_ = any_torch ? FileFormat::kTorch : FileFormat::kSafetensors;
    for (const auto& n : names_) {
      if (!is_torch_name(n) && !is_safetensors_name(n))
        throw Error(Errc::kIndexInvalid, index_label_, "shard '" + n + "' is neither .safetensors nor .bin/.pt/.pth");
    }
  }

  // A URL: config.json and the index asked for together (a directory: config.json, then
  // model.safetensors.index.json, then model.safetensors).
  void locate_remote() {
    if (!options_.remote)
      throw Error(Errc::kUnsupported, c_.input_, "this command reads local checkpoints only; a URL is for inspect, map, "
                  "validate, experts --config, diff and tensor");
    auto src = std::make_shared<RemoteSource>(c_.input_, *options_.remote);
    c_.impl_->remote = src;
    const RemoteLocation& loc = src->location();
    dir_label_ = src->label("");
    dir_label_.pop_back();
    c_.dir_ = fs::path(dir_label_);
    std::vector<std::string> ask = {"config.json"};
    const bool dir = loc.file.empty();
    const bool index = dir || ends_with(loc.file, ".json");
    const std::string index_name = dir ? "model.safetensors.index.json" : loc.file;
    if (index) ask.push_back(index_name);
    auto got = src->read_small(ask);
    if (got[0]) read_config_text(*got[0]);
    if (index && got[1]) {
      read_index_from([&] { return parse_index(*got[1], index_label_); }, index_name);
    } else if (index && !dir) {
      throw Error(Errc::kFileOpen, src->label(index_name), "no such file on the server (HTTP 404)");
    } else {
      names_ = {dir ? std::string("model.safetensors") : loc.file};
      c_.layout_ = Layout::kSingleFile;
    }
    if (c_.format_ == FileFormat::kTorch || is_torch_name(names_.front()))
      throw Error(Errc::kUnsupported, c_.input_, "PyTorch files are read whole; over a URL moeckpt reads safetensors only");
  }

  void read_config_text(const std::string& text) {
    c_.config_file_ = join_label(dir_label_, "config.json");
    try {
      c_.config_ = parse_config(text, c_.config_file_);
    } catch (const Error& e) {
      if (!options_.collect_problems) throw;
      c_.problems_.push_back(e);
    }
  }

  void read_config_file() {
    if (!fs::exists(c_.dir_ / "config.json")) return;
    c_.config_file_ = join_label(dir_label_, "config.json");
    try {
      c_.config_ = read_config(c_.dir_ / "config.json", c_.config_file_);
    } catch (const Error& e) {
      if (!options_.collect_problems) throw;
      c_.problems_.push_back(e);
    }
  }

  // Maps and parses every file in parallel; a file's failure is kept in errors_[i].
  void load_files() {
    const size_t n = names_.size();
    c_.files_.resize(n);
    c_.impl_->maps.resize(n);
    c_.impl_->storages.resize(n);
    c_.impl_->arenas.resize(n);
    per_file_.resize(n);
    errors_.resize(n);
    missing_.resize(n);
    unlisted_.resize(n);
    if (c_.index_) group_index_by_shard(n);
    std::vector<RemoteHead> heads;
    if (c_.impl_->remote) heads = c_.impl_->remote->read_heads(names_);  // all at once
    parallel_for(n, parse_threads(), [&](size_t i) {
      try {
        if (c_.impl_->remote) load_remote_file(i, heads[i]);
        else load_file(i);
      } catch (const Error& e) {
        errors_[i] = e;
      }
    });
  }

  // Each parsing thread holds a parser of ~3 x its largest header (~2.5 MB for a shard of a 1M-
  // tensor checkpoint). Reference environment, inspect of 974k tensors: 317-321 MiB on all 16
  // threads; 258-264 MiB on 8 (with 16 bytes less per record), in the same time (bench/RESULTS.md,
  // "Round 4").
  unsigned parse_threads() const {
    return std::min(options_.threads ? options_.threads : default_threads(), kMaxParseThreads);
  }
  static constexpr unsigned kMaxParseThreads = 8;

  void load_file(size_t i) {
    CheckpointFile& f = c_.files_[i];
    f.name = names_[i];
    f.path = c_.dir_ / names_[i];
    f.format = is_torch_name(names_[i]) ? FileFormat::kTorch : FileFormat::kSafetensors;
    std::string label = join_label(dir_label_, names_[i]);
    std::error_code fec;
    if (c_.index_ && !fs::exists(f.path, fec))
      throw Error(Errc::kIndexMissingShard, index_label_, "names shard '" + names_[i] + "', which does not exist");
    MappedFile m = MappedFile::open(f.path, label);
    f.bytes = m.size();
    if (f.format == FileFormat::kSafetensors) {
      read_safetensors_header(i, m.bytes(), m.size(), label);
      // Parsed and copied out: the header's pages leave the resident set (1M tensors are
      // ~110 MB of headers; a later read of them faults them back in from the page cache).
      m.advise_dontneed(0, f.header_bytes);
    } else {
      read_torch_file(i, m, label);
    }
    f.num_tensors = static_cast<uint32_t>(per_file_[i].size());
    f.loaded = true;
    c_.impl_->maps[i] = std::move(m);
    if (c_.index_) compare_with_index(i);
  }

  // A remote shard: its header as the server sent it, through the same checks.
  void load_remote_file(size_t i, RemoteHead& head) {
    CheckpointFile& f = c_.files_[i];
    f.name = names_[i];
    f.path = c_.dir_ / names_[i];
    f.format = FileFormat::kSafetensors;
    std::string label = join_label(dir_label_, names_[i]);
    if (head.missing && c_.index_)
      throw Error(Errc::kIndexMissingShard, index_label_, "names shard '" + names_[i] + "', which does not exist (HTTP 404)");
    if (head.missing) throw *head.missing;
    if (head.error) throw *head.error;
    f.bytes = head.size;
    read_safetensors_header(i, head.bytes, head.size, label);
    f.num_tensors = static_cast<uint32_t>(per_file_[i].size());
    f.loaded = true;
    std::vector<std::byte>().swap(head.bytes);
    if (c_.index_) compare_with_index(i);
  }

  void read_safetensors_header(size_t i, std::span<const std::byte> head, uint64_t size, const std::string& label) {
    CheckpointFile& f = c_.files_[i];
    SafetensorsHeader h = parse_safetensors_head(head, size, label, static_cast<uint32_t>(i));
    f.header_bytes = h.data_start;
    f.has_metadata = h.has_metadata;
    f.metadata = std::move(h.metadata);
    per_file_[i] = std::move(h.tensors);
    c_.impl_->arenas[i] = std::move(h.names);
  }

  void read_torch_file(size_t i, const MappedFile& m, const std::string& label) {
    TorchFile t = parse_torch_file(m.bytes(), label, static_cast<uint32_t>(i));
    per_file_[i] = std::move(t.tensors);
    c_.impl_->arenas[i] = std::move(t.arena);
    std::sort(per_file_[i].begin(), per_file_[i].end(),
              [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    c_.impl_->storages[i] = std::move(t.storages);
  }

  // What the index says each shard holds, checked inside each file's job (in parallel): its
  // names grouped by shard in one list, which then replaces the weight map (the names stay).
  void group_index_by_shard(size_t n) {
    auto& map = c_.index_->weight_map;
    listed_begin_.assign(n + 1, 0);
    for (const auto& [tensor, shard] : map)
      if (shard < n) ++listed_begin_[shard + 1];
    for (size_t i = 0; i < n; ++i) listed_begin_[i + 1] += listed_begin_[i];
    listed_.resize(listed_begin_[n]);
    std::vector<size_t> at(listed_begin_.begin(), listed_begin_.end() - 1);
    for (const auto& [tensor, shard] : map)
      if (shard < n) listed_[at[shard]++] = tensor;
    std::vector<std::pair<std::string_view, uint32_t>>().swap(map);
    return_freed_memory();
  }

  // Both lists sorted: one walk finds what the index names but the file lacks, and what the
  // file holds but the index does not name.
  void compare_with_index(size_t i) {
    const std::span<std::string_view> want(listed_.data() + listed_begin_[i], listed_begin_[i + 1] - listed_begin_[i]);
    std::sort(want.begin(), want.end());
    const auto& have = per_file_[i];
    size_t a = 0, b = 0;
    while (a < want.size() || b < have.size()) {
      if (b == have.size() || (a < want.size() && want[a] < have[b].name)) missing_[i].emplace_back(want[a++]);
      else if (a == want.size() || have[b].name < want[a]) unlisted_[i].push_back(have[b++].name.str());
      else ++a, ++b;
    }
  }

  // Every shard has been compared with the index: its names (~70 MB at 1M tensors) go, and the
  // index keeps its shards and total size.
  void release_index_names() {
    c_.index_->storage.reset();
    std::vector<std::string_view>().swap(listed_);
    return_freed_memory();
  }

  void report_file_errors() {
    for (auto& e : errors_) {
      if (!e) continue;
      problem(*e);
    }
  }

  // Moves the per-file lists (each sorted by name) into one, then puts it in name order: the
  // order comes from merging the files' index lists pairwise and in parallel, and is applied in
  // place, so no TensorInfo is ever held twice (1M tensors are ~120 MB of records; a second
  // copy during the merge was the peak of memory) and ~100k names from 160 shards cost a few
  // cheap passes (merging the records themselves used to be most of inspect).
  void merge_tensor_lists() {
    size_t total = 0;
    for (const auto& v : per_file_) total += v.size();
    std::vector<TensorInfo>& all = c_.tensors_;
    all.reserve(total);
    std::vector<std::vector<uint32_t>> lists;
    size_t freed = 0;
    for (auto& v : per_file_) {
      if (v.empty()) continue;
      std::vector<uint32_t> ids(v.size());
      for (size_t i = 0; i < v.size(); ++i) ids[i] = static_cast<uint32_t>(all.size() + i);
      all.insert(all.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
      freed += v.size() * sizeof(TensorInfo);
      std::vector<TensorInfo>().swap(v);
      lists.push_back(std::move(ids));
      if (freed >= kTrimEvery) {
        return_freed_memory();
        freed = 0;
      }
    }
    return_freed_memory();
    per_file_.clear();
    while (lists.size() > 1) lists = merge_pairs(lists);
    if (!lists.empty()) permute_in_place(all, lists.front());
  }

  // The files' lists are freed as the whole one fills, but malloc keeps what threads freed (the
  // lists are below its mmap threshold once a parser's buffer has raised it): without handing
  // it back, open held ~2 x the records at its peak (bench/RESULTS.md, "Memory at 1M tensors").
  static constexpr size_t kTrimEvery = 16 << 20;
  static void return_freed_memory() {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }

  // One round of the merge: lists 2k and 2k + 1 become list k.
  std::vector<std::vector<uint32_t>> merge_pairs(std::vector<std::vector<uint32_t>>& lists) const {
    const std::vector<TensorInfo>& all = c_.tensors_;
    auto by_name = [&](uint32_t a, uint32_t b) { return all[a].name < all[b].name; };
    std::vector<std::vector<uint32_t>> next((lists.size() + 1) / 2);
    parallel_for(next.size(), options_.threads, [&](size_t k) {
      if (2 * k + 1 >= lists.size()) {
        next[k] = std::move(lists[2 * k]);
        return;
      }
      merge_runs(lists[2 * k], lists[2 * k + 1], next[k], by_name);
    });
    return next;
  }

  void report_duplicate_names() {
    const auto& ts = c_.tensors_;
    for (size_t i = 1; i < ts.size(); ++i) {
      if (ts[i].name == ts[i - 1].name)
        problem(Error(Errc::kDuplicateName, c_.file_label(ts[i].file), "also in " + c_.files_[ts[i - 1].file].name, ts[i].name));
    }
  }

  // Tensors the index places in a shard that lacks them; tensors a shard holds that the index
  // does not name (kept, sorted, in unlisted()).
  void report_index_mismatches() {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (!c_.files_[i].loaded) continue;  // already reported
      for (const std::string& tensor : missing_[i]) problem(missing_tensor_error(i, tensor));
      for (auto& u : unlisted_[i]) c_.unlisted_.push_back(std::move(u));
    }
    std::sort(c_.unlisted_.begin(), c_.unlisted_.end());
  }

  Error missing_tensor_error(size_t shard, std::string_view tensor) const {
    auto it = std::lower_bound(c_.tensors_.begin(), c_.tensors_.end(), tensor,
                               [](const TensorInfo& t, std::string_view v) { return t.name < v; });
    bool elsewhere = it != c_.tensors_.end() && it->name == tensor;
    return Error(Errc::kIndexMissingTensor, index_label_,
                 "names it in shard '" + names_[shard] + "', which does not hold it" +
                     (elsewhere ? " (it is in '" + c_.files_[it->file].name + "')" : std::string()),
                 std::string(tensor));
  }

  Checkpoint& c_;
  const OpenOptions& options_;
  std::vector<std::string> names_;  // files to load, relative to the checkpoint directory
  std::string dir_label_;           // prefix for file labels
  fs::path index_path_;             // the index to read, if any
  std::string index_label_;         // its label in messages
  // Per file:
  std::vector<std::vector<TensorInfo>> per_file_;  // its tensors, sorted by name
  std::vector<std::optional<Error>> errors_;       // why it failed to load
  std::vector<std::string_view> listed_;  // what the index says each holds: file i's from listed_begin_[i]
  std::vector<size_t> listed_begin_;
  std::vector<std::vector<std::string>> missing_;       // ... that it lacks
  std::vector<std::vector<std::string>> unlisted_;      // what it holds that the index does not name
};

Checkpoint Checkpoint::open(const fs::path& path, const OpenOptions& options) {
  Checkpoint c;
  Impl::Opener(c, options).run(path);
  return c;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  std::call_once(impl_->by_name_once, [this] { impl_->by_name = TensorNameIndex(tensors_); });
  return impl_->by_name.find(name);
}

std::span<const std::byte> Checkpoint::file_bytes(uint32_t file) const { return impl_->maps.at(file).bytes(); }

void Checkpoint::release_pages(const TensorInfo& t, uint64_t begin, uint64_t end) const {
  if (t.storage >= 0 || t.file >= impl_->maps.size() || begin >= end) return;
  impl_->maps[t.file].advise_dontneed(t.offset + begin, std::min(end, t.nbytes) - std::min(begin, t.nbytes));
}

bool Checkpoint::is_remote() const { return impl_->remote != nullptr; }

std::optional<std::string> Checkpoint::read_remote_small(const std::string& name) const {
  if (!impl_->remote) return std::nullopt;
  return impl_->remote->read_small({name}).front();
}

std::string Checkpoint::file_label(uint32_t file) const {
  if (impl_->remote) return impl_->remote->label(files_.at(file).name);
  if (file < impl_->maps.size() && !impl_->maps[file].label().empty()) return impl_->maps[file].label();
  return (dir_ / files_.at(file).name).string();
}

TensorBytes Checkpoint::bytes(const TensorInfo& t) const {
  if (impl_->remote) {  // its byte range, and nothing else
    std::lock_guard<std::mutex> lock(impl_->mu);
    const std::pair<uint32_t, uint64_t> key{t.file, t.offset};
    for (const auto& [k, buf] : impl_->fetched)
      if (k == key && buf->size() == t.nbytes) return TensorBytes(buf);
    auto buf = std::make_shared<const std::vector<std::byte>>(impl_->remote->read_range(files_.at(t.file).name, t.offset, t.nbytes));
    if (impl_->fetched.size() >= 4) impl_->fetched.erase(impl_->fetched.begin());
    impl_->fetched.emplace_back(key, buf);
    return TensorBytes(buf);
  }
  const MappedFile& m = impl_->maps.at(t.file);
  if (t.storage < 0) {
    if (t.offset > m.size() || t.nbytes > m.size() - t.offset)
      throw Error(Errc::kTruncated, m.label(), "tensor data lies past the end of the file", t.name);
    return TensorBytes(m.bytes().subspan(t.offset, t.nbytes));
  }
  const TorchStorage& s = impl_->storages.at(t.file).at(static_cast<size_t>(t.storage));
  std::span<const std::byte> storage;
  std::shared_ptr<const std::vector<std::byte>> keep;
  if (!s.deflated) {
    std::vector<std::byte> unused;
    storage = read_torch_storage(m.bytes(), s, m.label(), unused);
  } else {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& slot = impl_->inflated[{t.file, t.storage}];
    if (!slot) {
      auto buf = std::make_shared<std::vector<std::byte>>();
      auto view = read_torch_storage(m.bytes(), s, m.label(), *buf);
      if (view.data() != buf->data()) buf->assign(view.begin(), view.end());
      slot = std::move(buf);
    }
    keep = slot;
    storage = std::span<const std::byte>(keep->data(), keep->size());
  }
  const uint64_t elem_bits = static_cast<uint64_t>(dtype_bits(t.dtype));
  if (t.is_contiguous()) {
    if (t.offset > storage.size() || t.nbytes > storage.size() - t.offset)
      throw Error(Errc::kTorchInvalid, m.label(), "tensor runs past the end of its storage", t.name);
    auto view = storage.subspan(t.offset, t.nbytes);
    return keep ? TensorBytes(view, keep) : TensorBytes(view);
  }
  // A strided view (e.g. a transposed tensor saved as is): gather it row-major.
  const size_t esize = elem_bits / 8;
  auto out = std::make_shared<std::vector<std::byte>>(t.nbytes);
  const size_t rank = t.shape.size();
  std::vector<uint64_t> idx(rank, 0);
  const uint64_t count = numel(t);
  for (uint64_t k = 0; k < count; ++k) {
    int64_t elem = 0;
    for (size_t d = 0; d < rank; ++d) elem += static_cast<int64_t>(idx[d]) * t.strides[d];
    uint64_t src = t.offset + static_cast<uint64_t>(elem) * esize;
    if (elem < 0 || src + esize > storage.size())
      throw Error(Errc::kTorchInvalid, m.label(), "strided view reaches past the end of its storage", t.name);
    std::memcpy(out->data() + k * esize, storage.data() + src, esize);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return TensorBytes(std::move(out));
}

}  // namespace moeckpt
