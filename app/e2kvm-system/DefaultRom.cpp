#include "app/e2kvm-system/DefaultRom.h"

#include <filesystem>
#include <system_error>

namespace e2kvm::sys {

namespace fs = std::filesystem;

std::vector<std::string> defaultRomCandidates(const std::string& exePath) {
    std::vector<std::string> out;
    if (!exePath.empty()) {
        fs::path dir = fs::path(exePath).parent_path();
        // Build tree: <build>/app/e2kvm-system/e2kvm-system -> <build>/resources/guest.
        out.push_back((dir / ".." / ".." / "resources" / "guest" / kDefaultRomName)
                          .lexically_normal()
                          .string());
        // Installed: <prefix>/bin/e2kvm-system -> <prefix>/share/e2kvm/guest.
        out.push_back((dir / ".." / "share" / "e2kvm" / "guest" / kDefaultRomName)
                          .lexically_normal()
                          .string());
    }
#ifdef E2KVM_INSTALL_DATADIR
    out.push_back((fs::path(E2KVM_INSTALL_DATADIR) / "e2kvm" / "guest" / kDefaultRomName).string());
#endif
    return out;
}

std::string findDefaultRom(std::vector<std::string>* looked) {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    std::vector<std::string> candidates = defaultRomCandidates(ec ? std::string() : exe.string());
    for (const std::string& c : candidates) {
        if (fs::is_regular_file(c, ec))
            return c;
    }
    if (looked)
        *looked = candidates;
    return {};
}

} // namespace e2kvm::sys
