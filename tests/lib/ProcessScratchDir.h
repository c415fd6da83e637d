#pragma once
// ProcessScratchDir: a test process's own scratch directory ($TMPDIR/PREFIX-PID), made on first
// use and removed with its files when the process ends, so that runs leave nothing behind.
#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace e2kvm::test {

class ProcessScratchDir {
public:
    explicit ProcessScratchDir(const std::string& prefix)
        : dir_(std::filesystem::temp_directory_path() / (prefix + std::to_string(getpid()))) {
        std::filesystem::create_directories(dir_);
    }
    ~ProcessScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    ProcessScratchDir(const ProcessScratchDir&) = delete;
    ProcessScratchDir& operator=(const ProcessScratchDir&) = delete;

    std::string path(const std::string& name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
};

} // namespace e2kvm::test
