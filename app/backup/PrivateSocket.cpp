#include "app/backup/PrivateSocket.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unistd.h>

namespace e2kvm::backup {

const std::string& PrivateSocket::create() {
    release();
    // In $TMPDIR as other temporary files, unless the socket's path would not fit a Unix
    // socket address (108 bytes with its terminator).
    std::string base = "/tmp";
    const char* tmpdir = std::getenv("TMPDIR");
    if (tmpdir && *tmpdir && std::strlen(tmpdir) + sizeof("/e2kvm-backup-XXXXXX/nbd.sock") <= 108)
        base = tmpdir;
    std::string tmpl = base + "/e2kvm-backup-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
        throw std::runtime_error("cannot create a private socket directory in " + base + ": " +
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
