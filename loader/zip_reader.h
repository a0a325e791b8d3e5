// A read-only zip reader over a memory-mapped file, strict enough for untrusted input: the
// end-of-central-directory record is searched for within the last 64 KiB, zip64 records and
// extra fields are understood, and every offset and size is checked against the file (with
// overflow-checked arithmetic) before anything is read. Only stored and deflated entries are
// accepted; encrypted ones, other methods, multi-disk archives, duplicate names, names that
// would escape a directory ("../x", "/x", "x\y"), entries that overlap each other or the
// central directory, and local headers that disagree with the central directory are refused.
// Stored entries are views into the file; nothing is copied.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moeckpt {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;             // 0 stored, 8 deflated
  uint32_t crc32 = 0;              // as the central directory records it
  uint64_t compressed_size = 0;    // bytes in the file
  uint64_t uncompressed_size = 0;  // bytes once inflated (== compressed_size when stored)
  uint64_t local_offset = 0;       // offset of the local header
  uint64_t data_offset = 0;        // absolute offset of the entry's data in the file

  bool stored() const { return method == 0; }
};

class ZipArchive {
 public:
  // Parses and validates the whole directory. Throws Error (kZipInvalid for structure,
  // kZipEntryOutOfRange for offsets or sizes outside the file, kZipUnsupported for
  // encryption, methods other than stored/deflated and multi-disk archives) naming label.
  static ZipArchive open(std::span<const std::byte> file, std::string_view label);

  // In central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when no entry has that exact name.
  const ZipEntry* find(std::string_view name) const;

 private:
  std::vector<ZipEntry> entries_;
  std::vector<uint32_t> by_name_;  // indexes into entries_, sorted by name
};

// Whether the file ends with something that could be an end-of-central-directory record
// (cheap; used to tell a zip from other formats before reporting errors).
bool has_zip_end_record(std::span<const std::byte> file);

// The entry's bytes: a view into file when stored, else inflated into scratch (which the view
// then points into). With verify_crc the CRC-32 is checked (kZipCrcMismatch); a deflate stream
// that is corrupt or does not inflate to exactly uncompressed_size bytes from exactly
// compressed_size bytes gives kZipInflate. entry must come from ZipArchive::open on the same
// file (its ranges are trusted here).
std::span<const std::byte> zip_read(std::span<const std::byte> file, const ZipEntry& entry, std::string_view label,
                                    std::vector<std::byte>& scratch, bool verify_crc = true);

// CRC-32 (zip/zlib polynomial) of data, for any length.
uint32_t zip_crc32(std::span<const std::byte> data);

}  // namespace moeckpt
