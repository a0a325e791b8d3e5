#include "loader/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "loader/error.h"
#include "loader/fault_registry.h"
#include "loader/mapped_file.h"

namespace fs = std::filesystem;

namespace moeckpt {

OutputFile::OutputFile(const fs::path& dir, const std::string& final_name, uint64_t size, bool unique_temp)
    : temp_(dir / (std::string(kTempPrefix) + final_name + (unique_temp ? "." + std::to_string(::getpid()) : ""))),
      final_(dir / final_name) {
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create", errno);
  fault::add_temporary(temp_.string());
  // The destructor does not run for an object whose constructor throws: clean up here.
  struct Guard {
    OutputFile* self;
    bool armed = true;
    ~Guard() {
      if (!armed) return;
      ::close(self->fd_);
      self->fd_ = -1;
      std::error_code ec;
      fs::remove(self->temp_, ec);
      fault::remove_temporary(self->temp_.string());
    }
  } guard{this};
  if (size > 0) {
    // Reserve the space up front: a full disk is found now, not hours into the run.
    // (fallocate, not posix_fallocate: glibc's emulation would write every block.)
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(size)) != 0) {
      int e = errno;
      if (e == ENOSPC || e == EFBIG || e == EDQUOT) fail("cannot reserve " + std::to_string(size) + " bytes", e);
      if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("cannot size", errno);
    }
  }
  guard.armed = false;
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
    fault::remove_temporary(temp_.string());
  }
}

void OutputFile::fail(const std::string& what, int err) const {
  throw Error(Errc::kOutputWrite, final_.string(), what + ": " + std::strerror(err));
}

void OutputFile::pwrite_all(std::span<const std::byte> data, uint64_t offset) const {
  const std::byte* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::pwrite(fd_, p, std::min<size_t>(left, size_t{1} << 30), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    if (n == 0) fail("write made no progress", EIO);
    p += n;
    left -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void OutputFile::pwrite_all(std::string_view data, uint64_t offset) const {
  pwrite_all(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.data()), data.size()), offset);
}

void OutputFile::copy_from(int src_fd, uint64_t src_offset, std::span<const std::byte> src_map, uint64_t dst_offset) const {
  uint64_t left = src_map.size();
  loff_t in = static_cast<loff_t>(src_offset), out = static_cast<loff_t>(dst_offset);
  while (src_fd >= 0 && left > 0) {
    ssize_t n = ::copy_file_range(src_fd, &in, fd_, &out, std::min<uint64_t>(left, uint64_t{1} << 30), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF) break;
      fail("copy failed", errno);
    }
    if (n == 0) break;  // source shorter than expected: fall back, which reports it
    left -= static_cast<uint64_t>(n);
  }
  if (left > 0) {
    size_t done = src_map.size() - left;
    pwrite_all(src_map.subspan(done), dst_offset + done);
  }
}

void OutputFile::flush_and_close() {
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("close failed", errno);
  }
  fd_ = -1;
}

void OutputFile::commit() {
  flush_and_close();
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw Error(Errc::kOutputWrite, final_.string(), "cannot rename into place: " + ec.message());
  committed_ = true;
  fault::remove_temporary(temp_.string());
  fsync_directory(final_.parent_path());
}

bool OutputFile::commit_if_absent() {
  flush_and_close();
  if (::link(temp_.c_str(), final_.c_str()) != 0) {
    if (errno == EEXIST) return false;  // the destructor removes the temporary
    fail("cannot link into place", errno);
  }
  std::error_code ec;
  fs::remove(temp_, ec);
  committed_ = true;
  fault::remove_temporary(temp_.string());
  fsync_directory(final_.parent_path());
  return true;
}

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const fs::path& dir, const std::string& name, std::string_view text) {
  OutputFile f(dir, name);
  f.pwrite_all(text, 0);
  f.commit();
}

bool write_file_if_absent(const fs::path& dir, const std::string& name, std::string_view text) {
  OutputFile f(dir, name, 0, true);
  f.pwrite_all(text, 0);
  return f.commit_if_absent();
}

void copy_file_atomic(const fs::path& src, const fs::path& dir, const std::string& name) {
  MappedFile m = MappedFile::open(src);
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  OutputFile f(dir, name, m.size());
  f.copy_from(fd, 0, m.bytes(), 0);
  if (fd >= 0) ::close(fd);
  f.commit();
}

}  // namespace moeckpt
