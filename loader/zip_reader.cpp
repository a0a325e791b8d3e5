// Strict zip reader for torch.save archives (see zip_reader.h for what is refused and why).
// The file is untrusted: every field is read through bounds-checked helpers and every sum of
// offsets and sizes is overflow-checked before it is compared with the file size.
#include "loader/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>

#include "loader/error.h"

namespace moeckpt {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalFixed = 30;
constexpr size_t kCentralFixed = 46;
constexpr size_t kEndFixed = 22;
constexpr size_t kZip64EndFixed = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagDataDescriptor = 0x0008;
constexpr uint16_t kFlagStrongEncryption = 0x0040;
// Deflate cannot expand data by more than about 1032:1; a larger claim is a lie, and trusting
// it would let a tiny file ask for an enormous allocation.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Little-endian fields of a byte range whose bounds the caller has already checked.
uint16_t le16(const std::byte* p) {
  return static_cast<uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}
uint32_t le32(const std::byte* p) { return le16(p) | (static_cast<uint32_t>(le16(p + 2)) << 16); }
uint64_t le64(const std::byte* p) { return le32(p) | (static_cast<uint64_t>(le32(p + 4)) << 32); }

// Whether [offset, offset + size) lies inside a buffer of `total` bytes, without overflow.
bool in_range(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

uint64_t checked_add(uint64_t a, uint64_t b, const std::string& label, const char* what) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) throw Error(Errc::kZipEntryOutOfRange, label, std::string(what) + " overflows");
  return r;
}

// A name that could escape the directory it is extracted into, or that no writer produces.
bool bad_name(std::string_view n) {
  if (n.empty() || n.front() == '/') return true;
  if (n.find('\\') != std::string_view::npos || n.find('\0') != std::string_view::npos) return true;
  if (n.size() >= 2 && n[1] == ':') return true;  // "C:..."
  size_t start = 0;
  while (start <= n.size()) {
    size_t end = n.find('/', start);
    if (end == std::string_view::npos) end = n.size();
    if (n.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

struct Zip64Fields {
  uint64_t uncompressed = 0, compressed = 0, local_offset = 0;
  bool has_uncompressed = false, has_compressed = false, has_local_offset = false;
};

// Reads the zip64 extended-information field of an extra block. Its values appear only for the
// fixed fields that hold the 0xFFFFFFFF sentinel, in the order uncompressed, compressed, offset.
// Returns false when the block has no zip64 field.
bool read_zip64_extra(std::span<const std::byte> extra, bool want_uncompressed, bool want_compressed,
                      bool want_offset, Zip64Fields& out, const std::string& label, std::string_view name) {
  size_t pos = 0;
  bool found = false;
  while (pos + 4 <= extra.size()) {
    uint16_t id = le16(extra.data() + pos);
    uint16_t len = le16(extra.data() + pos + 2);
    pos += 4;
    if (len > extra.size() - pos)
      throw Error(Errc::kZipInvalid, label, "extra field of entry '" + std::string(name) + "' runs past its block");
    if (id == kZip64ExtraId) {
      if (found) throw Error(Errc::kZipInvalid, label, "entry '" + std::string(name) + "' has two zip64 fields");
      found = true;
      size_t need = 8 * (size_t{want_uncompressed} + size_t{want_compressed} + size_t{want_offset});
      if (len < need) throw Error(Errc::kZipInvalid, label, "zip64 field of entry '" + std::string(name) + "' is too short");
      const std::byte* p = extra.data() + pos;
      if (want_uncompressed) out.uncompressed = le64(p), out.has_uncompressed = true, p += 8;
      if (want_compressed) out.compressed = le64(p), out.has_compressed = true, p += 8;
      if (want_offset) out.local_offset = le64(p), out.has_local_offset = true;
    }
    pos += len;
  }
  // Trailing bytes too short for a field header are tolerated: some writers pad with zeros.
  return found;
}

struct EndRecord {
  uint64_t entries = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
  uint64_t cd_limit = 0;  // where the central directory must end (start of the end records)
};

// Finds the end-of-central-directory record in the last 64 KiB (plus its own size) and, when a
// zip64 locator precedes it, the zip64 record it points to.
EndRecord read_end_record(std::span<const std::byte> file, const std::string& label) {
  if (file.size() < kEndFixed) throw Error(Errc::kZipInvalid, label, "too short to be a zip archive");
  const uint64_t lowest = file.size() > kEndFixed + 0xFFFF ? file.size() - kEndFixed - 0xFFFF : 0;
  uint64_t pos = file.size() - kEndFixed;
  bool found = false;
  for (;; --pos) {
    // The comment length must account for exactly the bytes after the record.
    if (le32(file.data() + pos) == kEndSig && le16(file.data() + pos + 20) == file.size() - pos - kEndFixed) {
      found = true;
      break;
    }
    if (pos == lowest) break;
  }
  if (!found) throw Error(Errc::kZipInvalid, label, "no end-of-central-directory record in the last 64 KiB");
  const std::byte* e = file.data() + pos;
  const uint16_t disk = le16(e + 4), cd_disk = le16(e + 6);
  const uint16_t disk_entries = le16(e + 8), total_entries = le16(e + 10);
  const uint32_t cd_size = le32(e + 12), cd_offset = le32(e + 16);

  if (disk != 0 || cd_disk != 0 || disk_entries != total_entries)
    throw Error(Errc::kZipUnsupported, label, "multi-disk zip archives are not supported");
  EndRecord r;
  r.cd_limit = pos;
  bool zip64 = false;
  if (pos >= kZip64LocatorSize && le32(file.data() + pos - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::byte* loc = file.data() + pos - kZip64LocatorSize;
    const uint32_t z64_disk = le32(loc + 4), disks = le32(loc + 16);
    const uint64_t z64_offset = le64(loc + 8);
    if (z64_disk != 0 || disks > 1) throw Error(Errc::kZipUnsupported, label, "multi-disk zip archives are not supported");
    const uint64_t limit = pos - kZip64LocatorSize;
    if (!in_range(z64_offset, kZip64EndFixed, limit))
      throw Error(Errc::kZipEntryOutOfRange, label, "zip64 end record lies outside the file");
    const std::byte* z = file.data() + z64_offset;
    if (le32(z) != kZip64EndSig) throw Error(Errc::kZipInvalid, label, "zip64 locator does not point to a zip64 end record");
    const uint64_t record_size = le64(z + 4);
    if (record_size < kZip64EndFixed - 12 || !in_range(z64_offset, checked_add(record_size, 12, label, "zip64 end record"), limit))
      throw Error(Errc::kZipInvalid, label, "zip64 end record has a bad size");
    if (le32(z + 16) != 0 || le32(z + 20) != 0 || le64(z + 24) != le64(z + 32))
      throw Error(Errc::kZipUnsupported, label, "multi-disk zip archives are not supported");
    r.entries = le64(z + 32);
    r.cd_size = le64(z + 40);
    r.cd_offset = le64(z + 48);
    r.cd_limit = z64_offset;
    zip64 = true;
    // Fields of the classic record that are not sentinels must agree with the zip64 ones.
    if ((total_entries != 0xFFFF && total_entries != r.entries) || (cd_size != 0xFFFFFFFF && cd_size != r.cd_size) ||
        (cd_offset != 0xFFFFFFFF && cd_offset != r.cd_offset))
      throw Error(Errc::kZipInvalid, label, "zip64 end record disagrees with the end-of-central-directory record");
  }
  if (!zip64) {
    if (total_entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF)
      throw Error(Errc::kZipInvalid, label, "end record needs zip64 values but there is no zip64 locator");
    r.entries = total_entries;
    r.cd_size = cd_size;
    r.cd_offset = cd_offset;
  }
  if (!in_range(r.cd_offset, r.cd_size, r.cd_limit))
    throw Error(Errc::kZipEntryOutOfRange, label, "central directory lies outside the file");
  // Every entry takes at least kCentralFixed bytes, so the count is bounded by the size.
  if (r.entries > r.cd_size / kCentralFixed)
    throw Error(Errc::kZipInvalid, label, "central directory is too small for " + std::to_string(r.entries) + " entries");
  return r;
}

// Checks the entry's local header against its central-directory record and sets data_offset.
void read_local_header(std::span<const std::byte> file, ZipEntry& z, uint16_t cd_flags, uint64_t cd_offset,
                       const std::string& label) {
  const std::string quoted = "entry '" + z.name + "'";
  if (!in_range(z.local_offset, kLocalFixed, cd_offset))
    throw Error(Errc::kZipEntryOutOfRange, label, "local header of " + quoted + " lies outside the file");
  const std::byte* h = file.data() + z.local_offset;
  if (le32(h) != kLocalSig) throw Error(Errc::kZipInvalid, label, "no local header where " + quoted + " should start");
  const uint16_t flags = le16(h + 6), method = le16(h + 8);
  const uint32_t crc = le32(h + 14), csize = le32(h + 18), usize = le32(h + 22);
  const uint16_t name_len = le16(h + 26), extra_len = le16(h + 28);
  const uint64_t name_at = z.local_offset + kLocalFixed;
  const uint64_t data_at = name_at + name_len + extra_len;  // < 2^64: local_offset < file size
  if (!in_range(name_at, uint64_t{name_len} + extra_len, cd_offset))
    throw Error(Errc::kZipEntryOutOfRange, label, "local header of " + quoted + " runs past the entries");
  std::string_view local_name(reinterpret_cast<const char*>(file.data() + name_at), name_len);
  if (local_name != z.name || method != z.method || (flags & kFlagEncrypted) != (cd_flags & kFlagEncrypted) ||
      (flags & kFlagDataDescriptor) != (cd_flags & kFlagDataDescriptor))
    throw Error(Errc::kZipInvalid, label, "local header of " + quoted + " disagrees with the central directory");
  // With a data descriptor the local CRC and sizes are zero and the real ones follow the data.
  if (!(flags & kFlagDataDescriptor)) {
    Zip64Fields z64;
    read_zip64_extra(file.subspan(name_at + name_len, extra_len), usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, false, z64,
                     label, z.name);
    const bool usize_ok = usize == 0xFFFFFFFF ? (!z64.has_uncompressed || z64.uncompressed == z.uncompressed_size)
                                              : usize == z.uncompressed_size;
    const bool csize_ok = csize == 0xFFFFFFFF ? (!z64.has_compressed || z64.compressed == z.compressed_size)
                                              : csize == z.compressed_size;
    if (crc != z.crc32 || !usize_ok || !csize_ok)
      throw Error(Errc::kZipInvalid, label, "local header of " + quoted + " disagrees with the central directory");
  }
  if (!in_range(data_at, z.compressed_size, cd_offset))
    throw Error(Errc::kZipEntryOutOfRange, label, "data of " + quoted + " runs past the entries");
  z.data_offset = data_at;
}

}  // namespace

ZipArchive ZipArchive::open(std::span<const std::byte> file, std::string_view label_view) {
  const std::string label(label_view);
  const EndRecord end = read_end_record(file, label);
  ZipArchive a;
  a.entries_.reserve(static_cast<size_t>(end.entries));
  std::vector<uint16_t> flags;
  flags.reserve(static_cast<size_t>(end.entries));
  const uint64_t cd_end = end.cd_offset + end.cd_size;
  uint64_t pos = end.cd_offset;
  for (uint64_t i = 0; i < end.entries; ++i) {
    if (!in_range(pos, kCentralFixed, cd_end))
      throw Error(Errc::kZipInvalid, label, "central directory ends inside entry " + std::to_string(i));
    const std::byte* c = file.data() + pos;
    if (le32(c) != kCentralSig) throw Error(Errc::kZipInvalid, label, "bad central directory signature at entry " + std::to_string(i));
    ZipEntry z;
    const uint16_t flag = le16(c + 8);
    z.method = le16(c + 10);
    z.crc32 = le32(c + 16);
    const uint32_t csize = le32(c + 20), usize = le32(c + 24);
    const uint16_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
    const uint16_t disk = le16(c + 34);
    const uint32_t local = le32(c + 42);
    const uint64_t var_len = uint64_t{name_len} + extra_len + comment_len;
    if (!in_range(pos + kCentralFixed, var_len, cd_end))
      throw Error(Errc::kZipInvalid, label, "central directory entry " + std::to_string(i) + " runs past the directory");
    z.name.assign(reinterpret_cast<const char*>(c + kCentralFixed), name_len);
    if (flag & (kFlagEncrypted | kFlagStrongEncryption))
      throw Error(Errc::kZipUnsupported, label, "entry '" + z.name + "' is encrypted");
    if (z.method != 0 && z.method != 8)
      throw Error(Errc::kZipUnsupported, label,
                  "entry '" + z.name + "' uses compression method " + std::to_string(z.method) + " (only stored and deflated are supported)");
    if (bad_name(z.name)) throw Error(Errc::kZipInvalid, label, "entry name '" + z.name + "' is not a plain relative path");
    Zip64Fields z64;
    read_zip64_extra(file.subspan(pos + kCentralFixed + name_len, extra_len), usize == 0xFFFFFFFF, csize == 0xFFFFFFFF,
                     local == 0xFFFFFFFF, z64, label, z.name);
    if ((usize == 0xFFFFFFFF && !z64.has_uncompressed) || (csize == 0xFFFFFFFF && !z64.has_compressed) ||
        (local == 0xFFFFFFFF && !z64.has_local_offset))
      throw Error(Errc::kZipInvalid, label, "entry '" + z.name + "' needs a zip64 field and has none");
    if (disk != 0 && disk != 0xFFFF) throw Error(Errc::kZipUnsupported, label, "multi-disk zip archives are not supported");
    z.uncompressed_size = z64.has_uncompressed ? z64.uncompressed : usize;
    z.compressed_size = z64.has_compressed ? z64.compressed : csize;
    z.local_offset = z64.has_local_offset ? z64.local_offset : local;
    if (z.stored() && z.compressed_size != z.uncompressed_size)
      throw Error(Errc::kZipInvalid, label, "stored entry '" + z.name + "' has different compressed and uncompressed sizes");
    a.entries_.push_back(std::move(z));
    flags.push_back(flag);
    pos += kCentralFixed + var_len;
  }
  if (pos != cd_end) throw Error(Errc::kZipInvalid, label, "central directory holds bytes after its last entry");

  for (size_t i = 0; i < a.entries_.size(); ++i) read_local_header(file, a.entries_[i], flags[i], end.cd_offset, label);

  // No two entries may share bytes: each must end before the next local header begins.
  std::vector<uint32_t> by_offset(a.entries_.size());
  for (uint32_t i = 0; i < by_offset.size(); ++i) by_offset[i] = i;
  std::sort(by_offset.begin(), by_offset.end(),
            [&](uint32_t x, uint32_t y) { return a.entries_[x].local_offset < a.entries_[y].local_offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const ZipEntry& prev = a.entries_[by_offset[k - 1]];
    const ZipEntry& next = a.entries_[by_offset[k]];
    if (prev.data_offset + prev.compressed_size > next.local_offset)
      throw Error(Errc::kZipInvalid, label, "entries '" + prev.name + "' and '" + next.name + "' overlap");
  }

  a.by_name_ = std::vector<uint32_t>(by_offset.size());
  for (uint32_t i = 0; i < a.by_name_.size(); ++i) a.by_name_[i] = i;
  std::sort(a.by_name_.begin(), a.by_name_.end(),
            [&](uint32_t x, uint32_t y) { return a.entries_[x].name < a.entries_[y].name; });
  for (size_t k = 1; k < a.by_name_.size(); ++k)
    if (a.entries_[a.by_name_[k - 1]].name == a.entries_[a.by_name_[k]].name)
      throw Error(Errc::kZipInvalid, label, "entry name '" + a.entries_[a.by_name_[k]].name + "' appears twice");
  return a;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](uint32_t i, std::string_view n) { return entries_[i].name < n; });
  if (it == by_name_.end() || entries_[*it].name != name) return nullptr;
  return &entries_[*it];
}

bool has_zip_end_record(std::span<const std::byte> file) {
  if (file.size() < kEndFixed) return false;
  const uint64_t lowest = file.size() > kEndFixed + 0xFFFF ? file.size() - kEndFixed - 0xFFFF : 0;
  for (uint64_t pos = file.size() - kEndFixed;; --pos) {
    if (le32(file.data() + pos) == kEndSig) return true;
    if (pos == lowest) return false;
  }
}

uint32_t zip_crc32(std::span<const std::byte> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  // zlib takes 32-bit lengths; feed it in chunks so any size works.
  while (left > 0) {
    const uInt n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    left -= n;
  }
  return static_cast<uint32_t>(crc);
}

std::span<const std::byte> zip_read(std::span<const std::byte> file, const ZipEntry& entry, std::string_view label_view,
                                    std::vector<std::byte>& scratch, bool verify_crc) {
  const std::string label(label_view);
  if (!in_range(entry.data_offset, entry.compressed_size, file.size()))
    throw Error(Errc::kZipEntryOutOfRange, label, "data of entry '" + entry.name + "' lies outside the file");
  const auto in = file.subspan(entry.data_offset, entry.compressed_size);
  std::span<const std::byte> out;
  if (entry.stored()) {
    out = in;
  } else {
    if (entry.uncompressed_size / kMaxDeflateRatio > entry.compressed_size + 1 ||
        entry.uncompressed_size > std::numeric_limits<size_t>::max() / 2)
      throw Error(Errc::kZipInflate, label,
                  "entry '" + entry.name + "' claims " + std::to_string(entry.uncompressed_size) + " bytes from " +
                      std::to_string(entry.compressed_size) + ", more than deflate can produce");
    scratch.assign(static_cast<size_t>(entry.uncompressed_size), std::byte{0});
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw Error(Errc::kZipInflate, label, "cannot start inflating '" + entry.name + "'");
    // zlib's counters are 32-bit: feed input and output in chunks.
    size_t in_pos = 0, out_pos = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
      const size_t in_chunk = std::min<size_t>(in.size() - in_pos, UINT_MAX);
      const size_t out_chunk = std::min<size_t>(scratch.size() - out_pos, UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.next_out = reinterpret_cast<Bytef*>(scratch.data() + out_pos);
      zs.avail_out = static_cast<uInt>(out_chunk);
      rc = inflate(&zs, Z_NO_FLUSH);
      const size_t used_in = in_chunk - zs.avail_in, made_out = out_chunk - zs.avail_out;
      in_pos += used_in;
      out_pos += made_out;
      if (rc == Z_OK && used_in == 0 && made_out == 0) rc = Z_BUF_ERROR;  // no progress: input or output exhausted
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || in_pos != in.size() || out_pos != scratch.size())
      throw Error(Errc::kZipInflate, label,
                  "entry '" + entry.name + "' does not inflate to exactly its " + std::to_string(entry.uncompressed_size) +
                      " bytes from its " + std::to_string(entry.compressed_size) + " compressed bytes");
    out = std::span<const std::byte>(scratch.data(), scratch.size());
  }
  if (verify_crc) {
    const uint32_t got = zip_crc32(out);
    if (got != entry.crc32) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "(computed %08x, recorded %08x)", got, entry.crc32);
      throw Error(Errc::kZipCrcMismatch, label, "entry '" + entry.name + "' fails its CRC-32 check " + buf);
    }
  }
  return out;
}

}  // namespace moeckpt
