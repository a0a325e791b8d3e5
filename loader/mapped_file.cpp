#include "loader/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "loader/error.h"
#include "loader/fault_registry.h"

namespace moeckpt {

MappedFile MappedFile::open(const std::filesystem::path& path, std::string label) {
  if (label.empty()) label = path.string();
  // O_NONBLOCK: a FIFO (or a device) where a file should be must not block the open; it is
  // refused below. The flag does nothing to reads of a regular file's mapping.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(Errc::kFileOpen, label, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(Errc::kFileOpen, label, std::string("cannot stat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(Errc::kFileOpen, label,
                S_ISDIR(st.st_mode)    ? "is a directory"
                : S_ISFIFO(st.st_mode) ? "is a FIFO, not a regular file"
                : S_ISSOCK(st.st_mode) ? "is a socket, not a regular file"
                : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "is a device, not a regular file"
                                                             : "not a regular file");
  }
  MappedFile f;
  f.path_ = path;
  f.label_ = std::move(label);
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error(Errc::kFileOpen, f.label_, std::string("cannot map: ") + std::strerror(e));
    }
    f.data_ = p;
    fault::add_mapping(p, f.size_, f.label_);
  }
  ::close(fd);
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    label_ = std::move(other.label_);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (data_ != nullptr) {
    fault::remove_mapping(data_);
    ::munmap(data_, size_);
  }
  data_ = nullptr;
  size_ = 0;
}

namespace {
void advise(void* base, size_t size, size_t offset, size_t length, int advice) {
  if (base == nullptr || offset >= size) return;
  length = std::min(length, size - offset);
  long page = ::sysconf(_SC_PAGESIZE);
  size_t start = offset - offset % static_cast<size_t>(page);
  ::madvise(static_cast<char*>(base) + start, length + (offset - start), advice);
}
}  // namespace

void MappedFile::advise_sequential(size_t offset, size_t length) const {
  advise(data_, size_, offset, length, MADV_SEQUENTIAL);
}
void MappedFile::advise_dontneed(size_t offset, size_t length) const {
  advise(data_, size_, offset, length, MADV_DONTNEED);
}
size_t MappedFile::readable_slack() const {
  if (!data_ || size_ == 0) return 0;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (page - size_ % page) % page;
}

void MappedFile::advise_willneed(size_t offset, size_t length) const {
  advise(data_, size_, offset, length, MADV_WILLNEED);
}

}  // namespace moeckpt
