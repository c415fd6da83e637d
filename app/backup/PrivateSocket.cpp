#include "app/backup/PrivateSocket.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace e2kvm::backup {

const std::string& PrivateSocket::create() {
    release();
    char tmpl[] = "/tmp/e2kvm-backup-XXXXXX";
    if (!::mkdtemp(tmpl))
        throw std::runtime_error(std::string("cannot create a private socket directory: ") +
                                 std::strerror(errno));
    dir_ = tmpl;
    path_ = dir_ + "/nbd.sock";
    return path_;
}

void PrivateSocket::release() {
    if (dir_.empty())
        return;
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
    dir_.clear();
    path_.clear();
}

} // namespace e2kvm::backup
