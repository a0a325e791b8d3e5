#include "loader/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "loader/mapped_file.h"
#include "loader/name_index.h"
#include "loader/parallel.h"
#include "loader/safetensors_reader.h"
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
  std::vector<std::vector<TorchStorage>> storages;  // per file (empty for safetensors)
  mutable std::once_flag by_name_once;
  mutable TensorNameIndex by_name;  // built on first find()
  mutable std::mutex mu;
  mutable std::map<std::pair<uint32_t, int32_t>, std::shared_ptr<const std::vector<std::byte>>> inflated;
};

Checkpoint::Checkpoint() : impl_(std::make_unique<Impl>()) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_torch_name(std::string_view n) { return ends_with(n, ".bin") || ends_with(n, ".pt") || ends_with(n, ".pth"); }

std::vector<std::string> list_dir(const fs::path& dir, std::string_view input) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) names.push_back(it->path().filename().string());
  }
  if (ec) throw Error(Errc::kFileOpen, std::string(input), "cannot list directory: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_label(const std::string& input, const std::string& name) {
  if (input.empty()) return name;
  return (fs::path(input) / name).string();
}

}  // namespace

Checkpoint Checkpoint::open(const fs::path& path, const OpenOptions& options) {
  Checkpoint c;
  c.input_ = path.string();
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error(Errc::kFileOpen, c.input_, "no such file or directory");

  std::vector<std::string> names;  // files to load, relative to dir_
  std::string dir_label;           // prefix for file labels
  fs::path index_path;

  if (fs::is_directory(st)) {
    c.dir_ = path;
    dir_label = c.input_;
    auto all = list_dir(path, c.input_);
    auto has = [&](std::string_view n) { return std::binary_search(all.begin(), all.end(), std::string(n)); };
    std::vector<std::string> st_indexes, bin_indexes, st_files, bin_files;
    for (const auto& n : all) {
      if (ends_with(n, ".safetensors.index.json")) st_indexes.push_back(n);
      else if (ends_with(n, ".bin.index.json") || ends_with(n, ".pt.index.json")) bin_indexes.push_back(n);
      else if (ends_with(n, ".safetensors")) st_files.push_back(n);
      else if (is_torch_name(n) && n != "training_args.bin" && n != "optimizer.pt" && n != "scheduler.pt" &&
               n != "rng_state.pth")
        bin_files.push_back(n);
    }
    auto pick_index = [&](const std::vector<std::string>& idx, std::string_view preferred) -> std::string {
      if (idx.empty()) return {};
      if (has(preferred)) return std::string(preferred);
      if (idx.size() == 1) return idx[0];
      std::string list;
      for (const auto& i : idx) list += (list.empty() ? "" : ", ") + i;
      throw Error(Errc::kNoCheckpoint, c.input_, "several shard indexes and none is the default one: " + list +
                  "; pass the index file to use");
    };
    if (auto i = pick_index(st_indexes, "model.safetensors.index.json"); !i.empty()) {
      index_path = path / i;
      c.format_ = FileFormat::kSafetensors;
    } else if (has("model.safetensors")) {
      names = {"model.safetensors"};
      c.layout_ = Layout::kSingleFile;
    } else if (auto j = pick_index(bin_indexes, "pytorch_model.bin.index.json"); !j.empty()) {
      index_path = path / j;
      c.format_ = FileFormat::kTorch;
    } else if (has("pytorch_model.bin")) {
      names = {"pytorch_model.bin"};
      c.format_ = FileFormat::kTorch;
      c.layout_ = Layout::kSingleFile;
    } else if (!st_files.empty()) {
      names = st_files;
      c.layout_ = st_files.size() == 1 ? Layout::kSingleFile : Layout::kDirectory;
    } else if (!bin_files.empty()) {
      names = bin_files;
      c.format_ = FileFormat::kTorch;
      c.layout_ = bin_files.size() == 1 ? Layout::kSingleFile : Layout::kDirectory;
    } else {
      throw Error(Errc::kNoCheckpoint, c.input_,
                  "no checkpoint in directory: looked for *.safetensors.index.json, model.safetensors, "
                  "pytorch_model.bin(.index.json), *.safetensors, *.bin, *.pt, *.pth");
    }
  } else if (fs::is_regular_file(st)) {
    c.dir_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    dir_label = path.parent_path().string();
    std::string fname = path.filename().string();
    if (ends_with(fname, ".json")) {
      index_path = path;
    } else if (ends_with(fname, ".safetensors")) {
      names = {fname};
    } else if (is_torch_name(fname)) {
      names = {fname};
      c.format_ = FileFormat::kTorch;
    } else {
      throw Error(Errc::kNoCheckpoint, c.input_, "not a checkpoint file: expected .safetensors, .bin, .pt, .pth or an .index.json");
    }
  } else {
    throw Error(Errc::kFileOpen, c.input_, "not a regular file or directory");
  }

  if (!index_path.empty()) {
    c.layout_ = Layout::kIndexed;  // even when the index is broken (collect mode lists the directory)
    c.index_file_ = index_path.filename().string();
    std::string label = join_label(dir_label, c.index_file_);
    try {
      c.index_ = parse_index(read_text_file(index_path, label), label);
      if (c.index_->shards.empty()) throw Error(Errc::kIndexInvalid, label, "weight_map is empty");
      names = c.index_->shards;
    } catch (const Error& e) {
      if (!options.collect_problems) throw;
      // validate goes on with the shards the directory holds, so they are checked too.
      c.problems_.push_back(e);
      c.index_.reset();
      for (const auto& n : list_dir(c.dir_, c.input_))
        if (n.ends_with(".safetensors") || (is_torch_name(n) && index_path.string().find(".bin.") != std::string::npos))
          names.push_back(n);
      if (names.empty()) throw;
    }
    bool any_torch = false, any_st = false;
    for (const auto& n : names) (is_torch_name(n) ? any_torch : any_st) = true;
    if (any_torch && any_st) throw Error(Errc::kIndexInvalid, label, "index mixes safetensors and PyTorch shards");
    c.format_ = any_torch ? FileFormat::kTorch : FileFormat::kSafetensors;
    for (const auto& n : names) {
      if (!is_torch_name(n) && !ends_with(n, ".safetensors"))
        throw Error(Errc::kIndexInvalid, label, "shard '" + n + "' is neither .safetensors nor .bin/.pt/.pth");
    }
  }

  if (fs::exists(c.dir_ / "config.json")) {
    c.config_file_ = join_label(dir_label, "config.json");
    try {
      c.config_ = read_config(c.dir_ / "config.json", c.config_file_);
    } catch (const Error& e) {
      if (!options.collect_problems) throw;
      c.problems_.push_back(e);
    }
  }

  // Map and parse every file in parallel.
  const size_t n = names.size();
  c.files_.resize(n);
  c.impl_->maps.resize(n);
  c.impl_->storages.resize(n);
  std::vector<std::vector<TensorInfo>> per_file(n);
  std::vector<std::optional<Error>> errors(n);
  // What the index says each shard holds, checked inside each file's job (in parallel).
  std::vector<std::vector<std::string_view>> listed(n);
  std::vector<std::vector<std::string_view>> missing(n);
  std::vector<std::vector<std::string>> unlisted(n);
  if (c.index_)
    for (const auto& [tensor, shard] : c.index_->weight_map)
      if (shard < n) listed[shard].push_back(tensor);
  parallel_for(n, options.threads, [&](size_t i) {
    CheckpointFile& f = c.files_[i];
    f.name = names[i];
    f.path = c.dir_ / names[i];
    f.format = is_torch_name(names[i]) ? FileFormat::kTorch : FileFormat::kSafetensors;
    std::string label = join_label(dir_label, names[i]);
    try {
      std::error_code fec;
      if (c.index_ && !fs::exists(f.path, fec))
        throw Error(Errc::kIndexMissingShard, join_label(dir_label, c.index_file_),
                    "names shard '" + names[i] + "', which does not exist");
      MappedFile m = MappedFile::open(f.path, label);
      f.bytes = m.size();
      if (f.format == FileFormat::kSafetensors) {
        SafetensorsHeader h = parse_safetensors(m.bytes(), label, static_cast<uint32_t>(i));
        f.header_bytes = h.data_start;
        f.has_metadata = h.has_metadata;
        f.metadata = std::move(h.metadata);
        per_file[i] = std::move(h.tensors);
      } else {
        TorchFile t = parse_torch_file(m.bytes(), label, static_cast<uint32_t>(i));
        per_file[i] = std::move(t.tensors);
        std::sort(per_file[i].begin(), per_file[i].end(),
                  [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
        c.impl_->storages[i] = std::move(t.storages);
      }
      f.num_tensors = static_cast<uint32_t>(per_file[i].size());
      f.loaded = true;
      c.impl_->maps[i] = std::move(m);
      if (c.index_) {
        // Both lists sorted: one walk finds what the index names but the file lacks, and
        // what the file holds but the index does not name.
        auto& want = listed[i];
        std::sort(want.begin(), want.end());
        const auto& have = per_file[i];
        size_t a = 0, b = 0;
        while (a < want.size() || b < have.size()) {
          if (b == have.size() || (a < want.size() && want[a] < have[b].name)) missing[i].push_back(want[a++]);
          else if (a == want.size() || have[b].name < want[a]) unlisted[i].push_back(have[b++].name);
          else ++a, ++b;
        }
      }
    } catch (const Error& e) {
      errors[i] = e;
    }
  });
  for (auto& e : errors) {
    if (!e) continue;
    if (!options.collect_problems) throw *e;
    c.problems_.push_back(*e);
  }

  // Merge the per-file lists (each sorted by name): pairwise and in parallel, over pointers, so
  // ~100k names from 160 shards cost a few cheap passes, and each TensorInfo moves only once
  // (merging the records themselves touched ~100 MB of fresh memory and was most of inspect).
  std::vector<std::vector<TensorInfo*>> lists;
  size_t total = 0;
  for (auto& v : per_file) {
    if (v.empty()) continue;
    std::vector<TensorInfo*> ptrs(v.size());
    for (size_t i = 0; i < v.size(); ++i) ptrs[i] = &v[i];
    lists.push_back(std::move(ptrs));
    total += v.size();
  }
  auto by_name = [](const TensorInfo* a, const TensorInfo* b) { return a->name < b->name; };
  while (lists.size() > 1) {
    std::vector<std::vector<TensorInfo*>> next((lists.size() + 1) / 2);
    parallel_for(next.size(), options.threads, [&](size_t k) {
      if (2 * k + 1 >= lists.size()) {
        next[k] = std::move(lists[2 * k]);
        return;
      }
      const auto& x = lists[2 * k];
      const auto& y = lists[2 * k + 1];
      next[k].resize(x.size() + y.size());
      std::merge(x.begin(), x.end(), y.begin(), y.end(), next[k].begin(), by_name);
    });
    lists = std::move(next);
  }
  c.tensors_.reserve(total);
  if (!lists.empty())
    for (TensorInfo* t : lists.front()) c.tensors_.push_back(std::move(*t));
  per_file.clear();
  for (size_t i = 1; i < c.tensors_.size(); ++i) {
    if (c.tensors_[i].name == c.tensors_[i - 1].name) {
      Error e(Errc::kDuplicateName, c.file_label(c.tensors_[i].file), "also in " + c.files_[c.tensors_[i - 1].file].name,
              c.tensors_[i].name);
      if (!options.collect_problems) throw e;
      c.problems_.push_back(e);
    }
  }

  if (c.index_) {
    std::string label = join_label(dir_label, c.index_file_);
    for (size_t i = 0; i < n; ++i) {
      if (!c.files_[i].loaded) continue;  // already reported
      for (std::string_view tensor : missing[i]) {
        auto it = std::lower_bound(c.tensors_.begin(), c.tensors_.end(), tensor,
                                   [](const TensorInfo& t, std::string_view v) { return t.name < v; });
        bool elsewhere = it != c.tensors_.end() && it->name == tensor;
        Error e(Errc::kIndexMissingTensor, label,
                "names it in shard '" + names[i] + "', which does not hold it" +
                    (elsewhere ? " (it is in '" + c.files_[it->file].name + "')" : std::string()),
                std::string(tensor));
        if (!options.collect_problems) throw e;
        c.problems_.push_back(e);
      }
      for (auto& u : unlisted[i]) c.unlisted_.push_back(std::move(u));
    }
    std::sort(c.unlisted_.begin(), c.unlisted_.end());
  }
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

std::string Checkpoint::file_label(uint32_t file) const {
  if (file < impl_->maps.size() && !impl_->maps[file].label().empty()) return impl_->maps[file].label();
  return (dir_ / files_.at(file).name).string();
}

TensorBytes Checkpoint::bytes(const TensorInfo& t) const {
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
