#include "app/backup/EarlyWriteback.h"

#include <fcntl.h>
#include <unistd.h>

namespace e2kvm::backup {

EarlyWriteback::EarlyWriteback(const std::string& path, uint64_t every) : every_(every) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

EarlyWriteback::~EarlyWriteback() {
    if (fd_ >= 0)
        ::close(fd_);
}

void EarlyWriteback::wrote(uint64_t bytes) {
    pending_ += bytes;
    if (fd_ < 0 || pending_ < every_)
        return;
    pending_ = 0;
    // Only starts the writeback of what is dirty now; errors show up at the final fdatasync.
    ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
}

} // namespace e2kvm::backup
