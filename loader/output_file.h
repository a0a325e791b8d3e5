// Files written atomically: created under a hidden temporary name in the destination
// directory, written with pwrite (from any thread), fsynced, then renamed to the final name.
// A run killed at any moment leaves no file with a final name that is incomplete; an
// uncommitted temporary is removed when the object dies.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace moeckpt {

inline constexpr std::string_view kTempPrefix = ".moeckpt-tmp-";

class OutputFile {
 public:
  // Creates dir/.moeckpt-tmp-<final_name> (truncating a stale one) with the given size
  // preallocated when possible. unique_temp adds this process's id to the temporary's name,
  // for a file that several processes may write at once. Throws Error(kOutputWrite) naming
  // the file.
  OutputFile(const std::filesystem::path& dir, const std::string& final_name, uint64_t size = 0, bool unique_temp = false);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  // Writes all of data at offset; retries short writes. Throws Error(kOutputWrite) with the
  // system's reason (disk full, file too large, ...).
  void pwrite_all(std::span<const std::byte> data, uint64_t offset) const;
  void pwrite_all(std::string_view data, uint64_t offset) const;
  // Copies len bytes from another file descriptor in the kernel (copy_file_range), falling
  // back to pwrite from src_map when the kernel cannot.
  void copy_from(int src_fd, uint64_t src_offset, std::span<const std::byte> src_map, uint64_t dst_offset) const;
  // fsync, rename to the final name, fsync the directory.
  void commit();
  // As commit(), but only when no file has the final name yet (atomically, by link()):
  // false, and the temporary removed, when one has.
  bool commit_if_absent();

  int fd() const { return fd_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }

 private:
  void flush_and_close();  // fsync and close, or throw
  [[noreturn]] void fail(const std::string& what, int err) const;
  int fd_ = -1;
  std::filesystem::path temp_, final_;
  bool committed_ = false;
};

// Writes text to dir/name atomically (temp, fsync, rename).
// write_file_if_absent: the same when dir/name does not exist; false when it does.
void write_file_atomic(const std::filesystem::path& dir, const std::string& name, std::string_view text);
bool write_file_if_absent(const std::filesystem::path& dir, const std::string& name, std::string_view text);
// Copies a regular file into dir atomically.
void copy_file_atomic(const std::filesystem::path& src, const std::filesystem::path& dir, const std::string& name);
// fsync of a directory, so renames in it are durable.
void fsync_directory(const std::filesystem::path& dir);

}  // namespace moeckpt
