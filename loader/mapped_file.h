// A read-only memory mapping of a whole file. Tensor views are spans into it: nothing is copied.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace moeckpt {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps path read-only. Throws Error(kFileOpen) when it cannot be opened or mapped.
  // label is the name used in error messages (usually the path as the user gave it).
  static MappedFile open(const std::filesystem::path& path, std::string label = {});

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(data_), size_}; }
  size_t size() const { return size_; }
  const std::string& label() const { return label_; }
  const std::filesystem::path& path() const { return path_; }
  // Bytes past the end that may still be read: the rest of the last page, which the kernel
  // fills with zeros (a parser that reads a little past the end can then work in place).
  size_t readable_slack() const;

  // Hints for streaming readers; both are advisory and never fail.
  void advise_sequential(size_t offset, size_t length) const;
  void advise_dontneed(size_t offset, size_t length) const;
  void advise_willneed(size_t offset, size_t length) const;

 private:
  void release();
  void* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
  std::string label_;
};

}  // namespace moeckpt
