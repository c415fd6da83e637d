#pragma once
// EarlyWriteback: starts the kernel writing a file's dirty pages to disk while the file is still
// being written (sync_file_range, without waiting), so that the fdatasync that makes a restore
// point or a restored disk durable at the end has little left to do.
#include <cstdint>
#include <string>

namespace e2kvm::backup {

class EarlyWriteback {
public:
    // Opens its own descriptor of `path`; does nothing if that fails (the final sync remains).
    explicit EarlyWriteback(const std::string& path, uint64_t every = 64u << 20);
    ~EarlyWriteback();
    EarlyWriteback(const EarlyWriteback&) = delete;
    EarlyWriteback& operator=(const EarlyWriteback&) = delete;
    // `bytes` more were written; every `every` bytes the writeback of the file is started.
    void wrote(uint64_t bytes);

private:
    int fd_ = -1;
    uint64_t every_;
    uint64_t pending_ = 0;
};

} // namespace e2kvm::backup
