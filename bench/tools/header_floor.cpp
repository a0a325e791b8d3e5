// The floor for header work (bench/RESULTS.md, "How far inspect is from its floor"): the least a
// C++ program must do to list a safetensors checkpoint, with none of moeckpt's checks. It reads
// every shard's header (open, 8-byte length, pread of the header), parses it with simdjson's
// DOM parser and keeps each tensor's name, dtype and shape in flat arrays (one buffer for the
// names, one for the dimensions), the way bench/tools/list_headers.py keeps Python dicts.
// With --index it also parses model.safetensors.index.json's weight_map the same way.
// The DOM parser, not On-Demand: Debian's libsimdjson picks its SIMD kernels at run time for
// DOM, while On-Demand is compiled into the caller for the build's baseline target (x86-64:
// simdjson's scalar fallback: builtin_implementation() is "fallback" there, the DOM's
// "icelake"). moeckpt's index reader rewritten with On-Demand took 2.5-3 x the DOM's time on
// the 8.8 MB index of bench/RESULTS.md, and was not kept.
//
//     header_floor DIR [--index] [--threads N]      prints: tensors, index names, header bytes
//
// No validation, no sorting, no error recovery beyond a message: it measures a lower bound.
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace dom = simdjson::dom;

struct Listing {  // one thread's tensors, flat
  std::string names;
  std::vector<uint32_t> name_end;
  std::vector<uint8_t> dtype_len;
  std::vector<uint64_t> dims;
  std::vector<uint32_t> dims_end;
  uint64_t header_bytes = 0;
};

bool read_file_part(int fd, uint64_t offset, size_t n, std::string& out) {
  out.resize(n + simdjson::SIMDJSON_PADDING);
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r <= 0) return false;
    done += static_cast<size_t>(r);
  }
  out.resize(n);
  return true;
}

// One shard's header into `l`; false on any error.
bool list_shard(const std::string& path, dom::parser& parser, std::string& buf, Listing& l) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  uint64_t len = 0;
  bool ok = ::pread(fd, &len, 8, 0) == 8 && len < (uint64_t{1} << 30) && read_file_part(fd, 8, len, buf);
  ::close(fd);
  if (!ok) return false;
  l.header_bytes += len;
  dom::object top;
  if (parser.parse(buf.data(), buf.size(), false).get(top)) return false;
  for (auto [key, value] : top) {
    if (key == "__metadata__") continue;
    l.names.append(key);
    l.name_end.push_back(static_cast<uint32_t>(l.names.size()));
    dom::object entry;
    if (value.get(entry)) return false;
    for (auto [k, v] : entry) {
      if (k == "dtype") {
        std::string_view d;
        if (v.get(d)) return false;
        l.dtype_len.push_back(static_cast<uint8_t>(d.size()));
      } else if (k == "shape" || k == "data_offsets") {
        dom::array a;
        if (v.get(a)) return false;
        for (auto x : a) {
          uint64_t u;
          if (x.get(u)) return false;
          l.dims.push_back(u);
        }
      }
    }
    l.dims_end.push_back(static_cast<uint32_t>(l.dims.size()));
  }
  return true;
}

// The weight_map's names into one buffer; -1 on error.
long list_index(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return -1;
  dom::parser parser;
  dom::object map;
  if (parser.parse(text).at_key("weight_map").get(map)) return -1;
  std::string names;
  long n = 0;
  for (auto [key, value] : map) {
    std::string_view shard;
    if (value.get(shard)) return -1;
    names.append(key);
    ++n;
  }
  return n;
}

}  // namespace
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: header_floor DIR [--index] [--threads N]\n");
    return 2;
  }
  std::string dir = argv[1];
  bool index = false;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--index") == 0) index = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = static_cast<unsigned>(std::atoi(argv[++i]));
  }
  std::vector<std::string> shards;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") shards.push_back(e.path().string());
  std::sort(shards.begin(), shards.end());
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(shards.size())));

  std::vector<Listing> per(threads);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&](unsigned t) {
    dom::parser parser;
    std::string buf;
    for (size_t i; (i = next.fetch_add(1)) < shards.size();)
      if (!list_shard(shards[i], parser, buf, per[t])) failed = true;
  };
  long index_names = 0;
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  if (index) index_names = list_index(dir + "/model.safetensors.index.json");
  work(0);
  for (auto& th : pool) th.join();
  if (failed || index_names < 0) {
    std::fprintf(stderr, "header_floor: a header or the index could not be read\n");
    return 1;
  }
  size_t tensors = 0;
  uint64_t bytes = 0;
  for (const Listing& l : per) {
    tensors += l.name_end.size();
    bytes += l.header_bytes;
  }
  std::printf("%zu tensors, %ld index names, %llu header bytes\n", tensors, index_names,
              static_cast<unsigned long long>(bytes));
  return 0;
}
