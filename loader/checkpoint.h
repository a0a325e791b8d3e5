// A checkpoint as a whole: its files, every tensor (sorted by name), its config.json and,
// for sharded checkpoints, its index. Inputs (moeckpt-formats(7), CHECKPOINTS):
//  - a directory with config.json and model.safetensors, *.safetensors.index.json + shards,
//    pytorch_model.bin, pytorch_model.bin.index.json + shards, or other *.safetensors files
//    (all together: a checkpoint in its authors' original layout has no index);
//  - a single .safetensors / .bin / .pt / .pth file;
//  - an index file (*.index.json).
// Files are mapped, never copied; headers are validated before any tensor data is read.
// PATH may be a URL (loader/remote_source.h): then config.json, the index and each shard's
// header come over the network, through the same parsers, and a tensor's bytes are its range.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loader/config_file.h"
#include "loader/error.h"
#include "loader/index_reader.h"
#include "loader/remote_source.h"
#include "loader/tensor.h"

namespace moeckpt {

enum class FileFormat { kSafetensors, kTorch };
enum class Layout { kSingleFile, kIndexed, kDirectory };

std::string_view file_format_name(FileFormat f);  // "safetensors", "pytorch"
std::string_view layout_name(Layout l);           // "single", "indexed", "directory"

struct CheckpointFile {
  std::string name;  // relative to the checkpoint directory, as the index names it
  std::filesystem::path path;
  FileFormat format = FileFormat::kSafetensors;
  uint64_t bytes = 0;
  uint64_t header_bytes = 0;  // safetensors: 8 + N
  uint32_t num_tensors = 0;
  bool has_metadata = false;
  std::vector<std::pair<std::string, std::string>> metadata;
  bool loaded = false;  // false when the file failed and problems() says why
};

// The bytes of one tensor: a view into the mapping, or an owned copy when the tensor had to
// be inflated (deflated zip entry) or gathered (a strided PyTorch view).
class TensorBytes {
 public:
  TensorBytes() = default;
  explicit TensorBytes(std::span<const std::byte> view) : view_(view) {}
  explicit TensorBytes(std::shared_ptr<const std::vector<std::byte>> owned)
      : view_(owned->data(), owned->size()), owned_(std::move(owned)) {}
  TensorBytes(std::span<const std::byte> view, std::shared_ptr<const void> keep) : view_(view), keep_(std::move(keep)) {}
  std::span<const std::byte> span() const { return view_; }
  const std::byte* data() const { return view_.data(); }
  size_t size() const { return view_.size(); }

 private:
  std::span<const std::byte> view_;
  std::shared_ptr<const std::vector<std::byte>> owned_;
  std::shared_ptr<const void> keep_;
};

struct OpenOptions {
  // Record per-file failures in problems() and go on with the other files (validate),
  // instead of throwing the first one (every other command).
  bool collect_problems = false;
  unsigned threads = 0;  // 0 = all cores
  // How to read a PATH that is a URL (hf://, http://, https://); null refuses URLs (convert
  // reads local files only).
  const RemoteOptions* remote = nullptr;
};

class Checkpoint {
 public:
  // Throws Error for the first problem unless options.collect_problems.
  static Checkpoint open(const std::filesystem::path& path, const OpenOptions& options = {});

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  const std::string& input() const { return input_; }      // PATH as given
  const std::filesystem::path& directory() const { return dir_; }
  FileFormat format() const { return format_; }
  Layout layout() const { return layout_; }
  const std::vector<CheckpointFile>& files() const { return files_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by name
  const TensorInfo* find(std::string_view name) const;

  const std::optional<Json>& config() const { return config_; }
  const std::string& config_file() const { return config_file_; }  // "" when none
  // The index's shards and total size. Its weight map is compared with the shards while opening
  // (problems() and unlisted() say what differs) and then released: it is empty here.
  const std::optional<ShardIndex>& index() const { return index_; }
  const std::string& index_file() const { return index_file_; }

  // Problems found while opening (collect_problems), in a deterministic order.
  const std::vector<Error>& problems() const { return problems_; }
  // Tensors a shard holds that its index does not name (loaded anyway, as engines do).
  const std::vector<std::string>& unlisted() const { return unlisted_; }

  // The tensor's bytes, contiguous row-major. Throws Error when a storage fails its CRC or
  // cannot be inflated.
  TensorBytes bytes(const TensorInfo& t) const;
  std::span<const std::byte> file_bytes(uint32_t file) const;
  // Tells the kernel that bytes [begin, end) of the tensor's data will not be read again, so
  // their pages leave this process's resident set (they stay in the page cache; reading them
  // again is a cheap fault). Keeps memory bounded while a large checkpoint streams through.
  // A no-op for PyTorch files, whose storages may be shared or inflated.
  void release_pages(const TensorInfo& t, uint64_t begin, uint64_t end) const;
  // Label of file i in messages ("dir/model-00001-of-00002.safetensors").
  std::string file_label(uint32_t file) const;
  // For a URL checkpoint: a small file beside config.json (generation_config.json, say) read
  // whole, nullopt when the server does not have it. Local checkpoints: nullopt (read the file).
  std::optional<std::string> read_remote_small(const std::string& name) const;
  bool is_remote() const;

 private:
  struct Impl;
  Checkpoint();
  std::unique_ptr<Impl> impl_;
  std::string input_;
  std::filesystem::path dir_;
  FileFormat format_ = FileFormat::kSafetensors;
  Layout layout_ = Layout::kSingleFile;
  std::vector<CheckpointFile> files_;
  std::vector<TensorInfo> tensors_;
  std::optional<Json> config_;
  std::string config_file_;
  std::optional<ShardIndex> index_;
  std::string index_file_;
  std::vector<Error> problems_;
  std::vector<std::string> unlisted_;
};

}  // namespace moeckpt
