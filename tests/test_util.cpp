#include "test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace moeckpt::testing {

TensorName kept_name(std::string name) {
  static std::mutex mu;
  static std::deque<std::string> names;  // a deque never moves what it holds
  std::lock_guard<std::mutex> lock(mu);
  return TensorName(std::string_view(names.emplace_back(std::move(name))));
}

std::filesystem::path testdata(std::string_view rel) {
  std::filesystem::path p(MOECKPT_TESTDATA);
  return rel.empty() ? p : p / rel;
}

std::filesystem::path source_dir(std::string_view rel) {
  std::filesystem::path p(MOECKPT_SOURCE_DIR);
  return rel.empty() ? p : p / rel;
}

std::string moeckpt_binary() { return MOECKPT_BINARY; }

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int i = 0; i < 100; ++i) {
    auto p = base / ("moeckpt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                     std::to_string(rd() % 100000));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  // Tests may leave read-only directories behind; make them writable before removing.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  }
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + p.string());
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

RunResult run_moeckpt(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& cwd) {
  RunOptions o;
  o.env = env;
  o.cwd = cwd;
  return run_moeckpt_with(args, o);
}

RunResult run_moeckpt_with(const std::vector<std::string>& args, const RunOptions& opt) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv_s = {moeckpt_binary()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("NO_COLOR=", 0) == 0 || kv.rfind("MOECKPT_ARCHS_DIR=", 0) == 0) continue;
    env_s.emplace_back(kv);
  }
  for (const auto& e : opt.env) env_s.push_back(e);
  std::vector<char*> envp;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!opt.cwd.empty() && chdir(opt.cwd.c_str()) != 0) _exit(127);
    if (opt.fsize_limit >= 0) {
      struct rlimit rl;
      rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(opt.fsize_limit);
      setrlimit(RLIMIT_FSIZE, &rl);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  RunResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  auto start = std::chrono::steady_clock::now();
  bool killed = false;
  while (open_fds > 0) {
    int timeout = -1;
    if (opt.kill_after_ms >= 0 && !killed) {
      auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      timeout = static_cast<int>(std::max<long long>(0, opt.kill_after_ms - elapsed));
      if (timeout == 0) {
        kill(pid, SIGKILL);
        killed = true;
        timeout = -1;
      }
    }
    int pr = poll(fds, 2, timeout);
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string safetensors_bytes(std::string_view header_json, std::string_view data) {
  std::string out(8, '\0');
  uint64_t n = header_json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(header_json);
  out.append(data);
  return out;
}

std::map<std::string, std::string> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().filename().string()] = read_file(e.path());
  return out;
}

}  // namespace moeckpt::testing
