#include "block/ssh/SftpConnection.h"

#include "block/HexDigit.h"

#include "block/BlockError.h"
#include "block/ssh/TcpConnect.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <pwd.h>
#include <unistd.h>

namespace e2kvm::block::ssh {

namespace {

// Request sizes QEMU uses: SFTP servers answer reads in pieces anyway, and OpenSSH takes
// writes of up to 256 KiB per request.
constexpr size_t kReadChunk = 16384;
constexpr size_t kWriteChunk = 131072;

// The port as a whole decimal number (QEMU's check before it connects).
unsigned portNumber(const std::string& port) {
    errno = 0;
    char* end = nullptr;
    const unsigned long value = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || errno || *end != '\0' || value > 0xffffffffUL || port[0] == '-')
        throw BlockError(EINVAL, "Use only numeric port value");
    return static_cast<unsigned>(value);
}

// Compares a server key hash with the user's hexadecimal text (':' between bytes allowed).
bool hashMatches(const unsigned char* hash, size_t length, const std::string& text) {
    size_t pos = 0;
    for (size_t i = 0; i < length; ++i) {
        while (pos < text.size() && text[pos] == ':')
            ++pos;
        if (pos + 1 >= text.size() || hexDigitValue(text[pos]) < 0 ||
            hexDigitValue(text[pos + 1]) < 0)
            return false;
        if (hexDigitValue(text[pos]) * 16 + hexDigitValue(text[pos + 1]) != hash[i])
            return false;
        pos += 2;
    }
    return pos == text.size();
}

std::string lowerHex(const unsigned char* bytes, size_t length) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < length; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

} // namespace

std::string currentUserName() {
    if (const passwd* pw = ::getpwuid(::getuid()))
        return pw->pw_name;
    throw BlockError(errno ? errno : ENOENT, "Can't get user name");
}

struct SftpConnection::Handles {
    ssh_session session = nullptr;
    sftp_session sftp = nullptr;
    sftp_file file = nullptr;

    ~Handles() {
        if (file)
            sftp_close(file);
        if (sftp)
            sftp_free(sftp);
        if (session) {
            ssh_disconnect(session);
            ssh_free(session); // closes the socket it was given
        }
    }
};

void SftpConnection::throwSessionError(int err, const std::string& what) const {
    if (!h_->session)
        throw BlockError(err, what);
    throw BlockError(err, what + ": " + ssh_get_error(h_->session) + " (libssh error code: " +
                              std::to_string(ssh_get_error_code(h_->session)) + ")");
}

void SftpConnection::throwSftpError(int err, const std::string& what) const {
    if (!h_->sftp)
        throw BlockError(err, what);
    throw BlockError(err,
                     what + ": " + ssh_get_error(h_->session) +
                         " (libssh error code: " + std::to_string(ssh_get_error_code(h_->session)) +
                         ", sftp error code: " + std::to_string(sftp_get_error(h_->sftp)) + ")");
}

SftpConnection::SftpConnection(const SshTarget& target, Mode mode) : h_(new Handles) {
    try {
        user_ = target.user.empty() ? currentUserName() : target.user;
        host_ = target.host;
        unsigned port = portNumber(target.port);
        int fd = connectTcp(target.host, target.port);
        h_->session = ssh_new();
        if (!h_->session) {
            ::close(fd);
            throw BlockError(EINVAL, "failed to initialize libssh session");
        }
        ssh_set_blocking(h_->session, 1);
        if (ssh_options_set(h_->session, SSH_OPTIONS_USER, user_.c_str()) < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to set the user in the libssh session");
        }
        if (ssh_options_set(h_->session, SSH_OPTIONS_HOST, target.host.c_str()) < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to set the host in the libssh session");
        }
        if (port > 0 && ssh_options_set(h_->session, SSH_OPTIONS_PORT, &port) < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to set the port in the libssh session");
        }
        if (ssh_options_set(h_->session, SSH_OPTIONS_COMPRESSION, "none") < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to disable the compression in the libssh session");
        }
        if (ssh_options_parse_config(h_->session, nullptr) < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to parse ~/.ssh/config");
        }
        socket_t sock = fd;
        if (ssh_options_set(h_->session, SSH_OPTIONS_FD, &sock) < 0) {
            ::close(fd);
            throwSessionError(EINVAL, "failed to set the socket in the libssh session");
        }
        if (ssh_connect(h_->session) != SSH_OK)
            throwSessionError(EINVAL, "failed to establish SSH session");
        checkHostKey(target);
        authenticate();
        h_->sftp = sftp_new(h_->session);
        if (!h_->sftp)
            throwSessionError(EINVAL, "failed to create sftp handle");
        if (sftp_init(h_->sftp) < 0)
            throwSftpError(EINVAL, "failed to initialize sftp handle");
        const int flags = mode == Mode::ReadOnly    ? O_RDONLY
                          : mode == Mode::ReadWrite ? O_RDWR
                                                    : O_CREAT | O_TRUNC | O_WRONLY;
        h_->file = sftp_open(h_->sftp, target.path.c_str(), flags, mode == Mode::Create ? 0644 : 0);
        if (!h_->file)
            throwSftpError(EINVAL, "failed to open remote file '" + target.path + "'");
        sftp_file_set_blocking(h_->file);
        sftp_attributes attrs = sftp_fstat(h_->file);
        if (!attrs)
            throwSftpError(EINVAL, "failed to read file attributes");
        size_ = attrs->size;
        sftp_attributes_free(attrs);
    } catch (...) {
        delete h_;
        throw;
    }
}

SftpConnection::~SftpConnection() {
    delete h_;
}

void SftpConnection::checkHostKey(const SshTarget& target) {
    switch (target.hostKeyCheck) {
    case HostKeyCheckMode::None:
        return;
    case HostKeyCheckMode::KnownHosts:
        switch (ssh_session_is_known_server(h_->session)) {
        case SSH_KNOWN_HOSTS_OK:
            return;
        case SSH_KNOWN_HOSTS_CHANGED: {
            std::string detail;
            ssh_key key = nullptr;
            if (ssh_get_server_publickey(h_->session, &key) == SSH_OK) {
                unsigned char* hash = nullptr;
                size_t length = 0;
                const ssh_keytypes_e type = ssh_key_type(key);
                if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == 0) {
                    if (char* fp =
                            ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length)) {
                        detail = std::string(" (") + ssh_key_type_to_char(type) +
                                 " key with fingerprint " + fp + ")";
                        ssh_string_free_char(fp);
                    }
                    ssh_clean_pubkey_hash(&hash);
                }
                ssh_key_free(key);
            }
            throw BlockError(EINVAL, "host key" + detail +
                                         " does not match the one in known_hosts; this may be "
                                         "a possible attack");
        }
        case SSH_KNOWN_HOSTS_OTHER:
            throw BlockError(EINVAL, "host key for this server not found, another type exists");
        case SSH_KNOWN_HOSTS_UNKNOWN:
            throw BlockError(EINVAL, "no host key was found in known_hosts");
        case SSH_KNOWN_HOSTS_NOT_FOUND:
            throw BlockError(ENOENT, "known_hosts file not found");
        case SSH_KNOWN_HOSTS_ERROR:
            throw BlockError(EINVAL, "error while checking the host");
        }
        throw BlockError(EINVAL, "error while checking for known server");
    case HostKeyCheckMode::Hash: {
        ssh_key key = nullptr;
        if (ssh_get_server_publickey(h_->session, &key) != SSH_OK)
            throwSessionError(EINVAL, "failed to read remote host key");
        const std::string keyType = ssh_key_type_to_char(ssh_key_type(key));
        const ssh_publickey_hash_type type = target.hashType == "md5" ? SSH_PUBLICKEY_HASH_MD5
                                             : target.hashType == "sha1"
                                                 ? SSH_PUBLICKEY_HASH_SHA1
                                                 : SSH_PUBLICKEY_HASH_SHA256;
        unsigned char* hash = nullptr;
        size_t length = 0;
        const int r = ssh_get_publickey_hash(key, type, &hash, &length);
        ssh_key_free(key);
        if (r != 0)
            throwSessionError(EINVAL, "failed reading the hash of the server SSH key");
        const bool matches = hashMatches(hash, length, target.hash);
        const std::string serverHash = lowerHex(hash, length);
        ssh_clean_pubkey_hash(&hash);
        if (!matches)
            throw BlockError(EPERM, "remote host " + keyType + " key fingerprint '" +
                                        target.hashType + ":" + serverHash +
                                        "' does not match host_key_check '" + target.hashType +
                                        ":" + target.hash + "'");
        return;
    }
    }
}

void SftpConnection::authenticate() {
    int r = ssh_userauth_none(h_->session, nullptr);
    if (r == SSH_AUTH_ERROR)
        throwSessionError(EPERM, "failed to authenticate using none authentication");
    if (r == SSH_AUTH_SUCCESS)
        return;
    if (ssh_userauth_list(h_->session, nullptr) & SSH_AUTH_METHOD_PUBLICKEY) {
        // The ssh-agent's identities, then the default key files.
        r = ssh_userauth_publickey_auto(h_->session, nullptr, nullptr);
        if (r == SSH_AUTH_ERROR)
            throwSessionError(EINVAL, "failed to authenticate using publickey authentication");
        if (r == SSH_AUTH_SUCCESS)
            return;
    }
    throw BlockError(EPERM, "failed to authenticate using publickey authentication and the "
                            "identities held by your ssh-agent");
}

void SftpConnection::seek(uint64_t offset) {
    if (sftp_seek64(h_->file, offset) < 0)
        throwSftpError(EIO, "failed to seek in the remote file");
}

void SftpConnection::read(uint64_t offset, std::span<uint8_t> buf) {
    seek(offset);
    size_t done = 0;
    while (done < buf.size()) {
        const size_t want = std::min(kReadChunk, buf.size() - done);
        const ssize_t got = sftp_read(h_->file, buf.data() + done, want);
        if (got < 0)
            throwSftpError(EIO, "failed to read from the remote file");
        if (got == 0) { // the end of the remote file: the rest reads as zeros
            std::fill(buf.begin() + static_cast<ptrdiff_t>(done), buf.end(), uint8_t{0});
            return;
        }
        done += static_cast<size_t>(got);
    }
}

void SftpConnection::write(uint64_t offset, std::span<const uint8_t> buf) {
    seek(offset);
    size_t done = 0;
    while (done < buf.size()) {
        const size_t want = std::min(kWriteChunk, buf.size() - done);
        const ssize_t put = sftp_write(h_->file, buf.data() + done, want);
        if (put < 0)
            throwSftpError(EIO, "failed to write to the remote file");
        done += static_cast<size_t>(put);
        if (put == 0) // a server that takes nothing would make us loop forever
            throwSftpError(EIO, "failed to write to the remote file");
    }
    size_ = std::max<uint64_t>(size_, offset + buf.size());
}

void SftpConnection::fsync() {
    if (!sftp_extension_supported(h_->sftp, "fsync@openssh.com", "1")) {
        if (!fsyncWarned_)
            std::fprintf(stderr,
                         "warning: ssh server %s does not support fsync\n"
                         "to support fsync, you need OpenSSH >= 6.3\n",
                         host_.c_str());
        fsyncWarned_ = true;
        return;
    }
    if (sftp_fsync(h_->file) < 0)
        throwSftpError(EIO, "failed to fsync the remote file");
}

void SftpConnection::grow(uint64_t newSize) {
    const uint8_t zero[1] = {0};
    seek(newSize - 1);
    if (sftp_write(h_->file, zero, 1) < 0)
        throwSftpError(EIO, "Failed to grow file");
    size_ = newSize;
}

} // namespace e2kvm::block::ssh
